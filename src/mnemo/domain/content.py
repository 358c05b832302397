"""A message's ``content`` as the clients send it: a string, one content part, or a list of parts.

The parts mnemo reads (spec §1.1 row 2 forwards them as given):

* text: ``{"type": "text", "text": "..."}`` (OpenAI) or a bare string inside a list;
* images: ``{"type": "image_url", "image_url": {"url": ...}}`` (OpenAI and Mem0; the url may also be given
  as a plain string);
* documents (Mem0): ``{"type": "pdf_url" | "mdx_url" | "txt_url", "<type>": {"url": ...}}``.

A url is an ``http(s)://`` address or a ``data:`` URL (base64 or percent-encoded). A part of another ``type``
is kept as :class:`Part` of kind ``"unsupported"``: the add records it as skipped rather than failing. What is
malformed (a part that is not an object, has no ``type``, or a known type without its text or url) raises
``ValueError`` naming the part. Nothing here fetches anything: see ``mnemo.pipeline.media``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Literal

PartKind = Literal["text", "image", "pdf", "mdx", "txt", "unsupported"]

#: The Mem0 document part types and the kind each is read as.
DOCUMENT_TYPES: dict[str, PartKind] = {"pdf_url": "pdf", "mdx_url": "mdx", "txt_url": "txt"}
#: A document's text is cut into memories of at most this many characters (at paragraph or sentence ends).
CHUNK_CHARS = 1_000
#: At most this many memories are made from one document; the rest of its text is dropped (and counted).
MAX_CHUNKS = 50

_SENTENCE_END = re.compile(r"(?<=[.!?…])\s+")


@dataclass(frozen=True, slots=True)
class Part:
    """One part of a message's content. ``text`` for text parts, ``url`` for images and documents, ``type``
    as sent (what an unsupported part is called)."""

    kind: PartKind
    type: str
    text: str = ""
    url: str = ""

    @property
    def is_media(self) -> bool:
        """True for the parts that need work beyond reading their text (fetching, describing) or are skipped."""
        return self.kind != "text"


def content_parts(content: Any, where: str = "content") -> tuple[Part, ...]:
    """The parts of one message's ``content``; ``ValueError`` for what is malformed."""
    if isinstance(content, str):
        return (Part("text", "text", text=content),)
    if isinstance(content, dict):
        return (_part(content, where),)
    if isinstance(content, list):
        if not content:
            raise ValueError(f"{where} is an empty list: give at least one part")
        return tuple(
            Part("text", "text", text=item) if isinstance(item, str) else _part(item, f"{where}.{index}")
            for index, item in enumerate(content)
        )
    raise ValueError(f"{where} must be a string, a content part object or a list of parts")


def _part(raw: object, where: str) -> Part:
    if not isinstance(raw, dict):
        raise ValueError(f"{where} must be a string or an object with a 'type'")
    kind = raw.get("type")
    if not isinstance(kind, str) or not kind:
        raise ValueError(f"{where}.type is missing: each content part names its type (text, image_url, pdf_url...)")
    if kind == "text":
        text = raw.get("text")
        if not isinstance(text, str):
            raise ValueError(f"{where}.text must be a string")
        return Part("text", kind, text=text)
    if kind == "image_url":
        return Part("image", kind, url=_url(raw, kind, where))
    if kind in DOCUMENT_TYPES:
        return Part(DOCUMENT_TYPES[kind], kind, url=_url(raw, kind, where))
    return Part("unsupported", kind)


def _url(raw: dict[str, Any], kind: str, where: str) -> str:
    """``raw[kind]["url"]`` (or ``raw[kind]`` as a string, or ``raw["url"]``): a non-empty string."""
    inner = raw.get(kind, raw.get("url"))
    url = inner.get("url") if isinstance(inner, dict) else inner
    if not isinstance(url, str) or not url.strip():
        raise ValueError(f"{where}.{kind}.url must be a non-empty string (an http(s) or data: URL)")
    return url.strip()


def text_of(parts: tuple[Part, ...]) -> str:
    """The message's text: its text parts, one per line."""
    return "\n".join(part.text for part in parts if part.kind == "text" and part.text.strip())


def chunk_text(text: str, *, size: int = CHUNK_CHARS) -> list[str]:
    """``text`` cut into pieces of at most ``size`` characters: paragraphs packed together while they fit,
    a longer paragraph cut at sentence ends, a longer sentence cut at the last space before ``size``."""
    pieces: list[str] = []
    for paragraph in re.split(r"\n\s*\n", text):
        flat = " ".join(paragraph.split())
        if not flat:
            continue
        joiner = "\n\n"  # between paragraphs; sentences of one paragraph are joined by a space
        for unit in [flat] if len(flat) <= size else _sentences(flat, size):
            if pieces and len(pieces[-1]) + len(joiner) + len(unit) <= size:
                pieces[-1] = f"{pieces[-1]}{joiner}{unit}"
            else:
                pieces.append(unit)
            joiner = " "
    return pieces


def _sentences(text: str, size: int) -> list[str]:
    units: list[str] = []
    for sentence in _SENTENCE_END.split(text):
        while len(sentence) > size:
            cut = sentence.rfind(" ", 0, size)
            cut = cut if cut > 0 else size
            units.append(sentence[:cut].strip())
            sentence = sentence[cut:].strip()
        if sentence:
            units.append(sentence)
    return units
