"""Message content as parts (mnemo.domain.content): what is read, what is malformed, how documents are cut."""

from __future__ import annotations

import pytest

from mnemo.domain.content import Part, chunk_text, content_parts, text_of


def test_every_shape_the_clients_send_is_read() -> None:
    parts = content_parts(
        [
            "plain",
            {"type": "text", "text": "openai text"},
            {"type": "image_url", "image_url": {"url": "https://x/cat.png"}},
            {"type": "image_url", "image_url": "data:image/png;base64,AAAA"},
            {"type": "pdf_url", "pdf_url": {"url": "https://x/a.pdf"}},
            {"type": "mdx_url", "mdx_url": {"url": "https://x/a.mdx"}},
            {"type": "txt_url", "url": "https://x/a.txt"},
            {"type": "audio_url", "audio_url": {"url": "https://x/a.mp3"}},
        ]
    )
    assert [part.kind for part in parts] == ["text", "text", "image", "image", "pdf", "mdx", "txt", "unsupported"]
    assert parts[3].url == "data:image/png;base64,AAAA" and parts[6].url == "https://x/a.txt"
    assert text_of(parts) == "plain\nopenai text"
    assert content_parts({"type": "text", "text": "one"}) == (Part("text", "text", text="one"),)


@pytest.mark.parametrize(
    ("content", "named"),
    [
        (42, "content must be"),
        ([], "empty list"),
        ([None], "content.0 must be"),
        ([{"text": "x"}], "content.0.type is missing"),
        ([{"type": "text", "text": 3}], "content.0.text"),
        ({"type": "pdf_url", "pdf_url": {"url": "  "}}, "content.pdf_url.url"),
    ],
)
def test_what_is_malformed_is_named(content: object, named: str) -> None:
    with pytest.raises(ValueError, match=named):
        content_parts(content)


def test_chunks_pack_paragraphs_and_cut_long_ones_at_sentences() -> None:
    assert chunk_text("One.\n\nTwo.\n\n\n", size=20) == ["One.\n\nTwo."]
    long = "First sentence is here. Second sentence is here. Third one."
    assert chunk_text(long, size=30) == ["First sentence is here.", "Second sentence is here.", "Third one."]
    assert chunk_text("a" * 25, size=10) == ["a" * 10, "a" * 10, "a" * 5]
    assert chunk_text("word " * 7, size=12) == ["word word", "word word", "word word", "word"]
    assert chunk_text("  \n\n ") == []
