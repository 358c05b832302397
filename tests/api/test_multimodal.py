"""Messages whose content is a part object or a list of parts (spec §1.1 row 2; the Vercel AI SDK provider sends
them for any file): text kept, documents read and cut into memories, images skipped without a vision LLM, and a
part that cannot be used never costing the others. A local HTTP server on 127.0.0.1 serves the documents; the
mnemo under test may fetch from it by ``127.0.0.1:<port>`` only, so ``localhost:<port>`` is a host it refuses."""

from __future__ import annotations

import base64
import threading
import uuid
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from testkit.server import MnemoServer, serving, wait_event
from tests.api.adding import add_and_wait, texts_of

NOTES = "The user keeps bees on the roof.\n\nThe hives are painted yellow and face south."
LONG = "\n\n".join(f"Paragraph {n} says the garden has {n} rows of beans and peas." * 6 for n in range(1, 6))


def pdf_with_text(text: str) -> bytes:
    """A one-page PDF showing ``text`` in Helvetica (built by hand: the xref offsets are exact)."""
    stream = f"BT /F1 12 Tf 72 720 Td ({text}) Tj ET".encode()
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R"
        b" /Resources << /Font << /F1 5 0 R >> >> >>",
        b"<< /Length %d >>\nstream\n%s\nendstream" % (len(stream), stream),
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
    ]
    out = bytearray(b"%PDF-1.4\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += b"%d 0 obj\n%s\nendobj\n" % (number, body)
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    out += b"".join(b"%010d 00000 n \n" % offset for offset in offsets)
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (len(objects) + 1, xref)
    return bytes(out)


DOCUMENTS: dict[str, tuple[str, bytes]] = {
    "/notes.txt": ("text/plain", NOTES.encode()),
    "/long.mdx": ("text/markdown", LONG.encode()),
    "/garden.pdf": ("application/pdf", pdf_with_text("The greenhouse holds twelve tomato plants.")),
    "/big.txt": ("text/plain", b"x " * 40_000),
    "/broken.pdf": ("application/pdf", b"%PDF-1.4 this is not really a PDF"),
}


class _Documents(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        if self.path == "/moved.txt":  # to an allowed document: still not followed
            self.send_response(302)
            self.send_header("Location", "/notes.txt")
            self.end_headers()
            return
        found = DOCUMENTS.get(self.path)
        if found is None:
            self.send_error(404)
            return
        media_type, body = found
        self.send_response(200)
        self.send_header("Content-Type", media_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture(scope="module")
def documents() -> Iterator[int]:
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _Documents)
    thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield int(httpd.server_address[1])
    finally:
        httpd.shutdown()
        httpd.server_close()


@pytest.fixture(scope="module")
def media_server(
    documents: int, module_database_url: str, model_dir: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[MnemoServer]:
    with serving(
        tmp_path_factory.mktemp("media-serve"),
        database_url=module_database_url,
        model_dir=model_dir,
        extra_env={"MNEMO_DOCUMENT_ALLOWED_HOSTS": f"127.0.0.1:{documents}", "MNEMO_DOCUMENT_MAX_BYTES": "60000"},
    ) as running:
        yield running


def _user() -> str:
    return f"media-{uuid.uuid4().hex[:8]}"


def _doc(kind: str, url: str) -> dict[str, Any]:
    return {"type": kind, kind: {"url": url}}


def test_a_document_from_an_allowed_host_becomes_memories(media_server: MnemoServer, documents: int) -> None:
    user = _user()
    parts = [{"type": "text", "text": "Here are my notes."}, _doc("txt_url", f"http://127.0.0.1:{documents}/notes.txt")]
    event = add_and_wait(media_server, user, parts, infer=False, queued=True)
    (report,) = event["metadata"]["media"]
    assert report["status"] == "used" and report["chunks"] == 1 and report["type"] == "txt_url"
    assert texts_of(media_server, user) == sorted(["Here are my notes.", NOTES])


def test_a_long_document_is_cut_at_paragraphs(media_server: MnemoServer, documents: int) -> None:
    user = _user()
    event = add_and_wait(
        media_server, user, _doc("mdx_url", f"http://127.0.0.1:{documents}/long.mdx"), infer=False, queued=True
    )
    stored = texts_of(media_server, user)
    assert event["metadata"]["media"][0]["chunks"] == len(stored) > 1
    assert all(len(memory) <= 1000 for memory in stored)
    assert " ".join(stored).count("rows of beans") == LONG.count("rows of beans")


def test_a_pdf_s_text_is_extracted(media_server: MnemoServer, documents: int) -> None:
    user = _user()
    add_and_wait(
        media_server, user, [_doc("pdf_url", f"http://127.0.0.1:{documents}/garden.pdf")], infer=False, queued=True
    )
    assert texts_of(media_server, user) == ["The greenhouse holds twelve tomato plants."]


def test_data_urls_are_read_without_any_host_allowed(media_server: MnemoServer) -> None:
    user = _user()
    pdf = "data:application/pdf;base64," + base64.b64encode(pdf_with_text("The shed is blue.")).decode()
    text = "data:text/plain;base64," + base64.b64encode(b"The bikes hang on the wall.").decode()
    add_and_wait(media_server, user, [_doc("pdf_url", pdf), _doc("txt_url", text)], infer=False, queued=True)
    assert texts_of(media_server, user) == ["The bikes hang on the wall.", "The shed is blue."]


def test_what_cannot_be_used_is_skipped_and_never_costs_the_rest(media_server: MnemoServer, documents: int) -> None:
    user = _user()
    parts = [
        {"type": "text", "text": "I planted garlic today."},
        _doc("txt_url", f"http://localhost:{documents}/notes.txt"),  # a host not allowed
        _doc("txt_url", "http://169.254.169.254/latest/meta-data/"),  # never fetched
        _doc("txt_url", f"http://127.0.0.1:{documents}/big.txt"),  # over MNEMO_DOCUMENT_MAX_BYTES
        _doc("pdf_url", f"http://127.0.0.1:{documents}/broken.pdf"),
        _doc("txt_url", f"http://127.0.0.1:{documents}/missing.txt"),
        _doc("txt_url", f"http://127.0.0.1:{documents}/moved.txt"),
        {"type": "image_url", "image_url": {"url": "https://example.com/cat.png"}},  # no vision LLM
        {"type": "audio_url", "audio_url": {"url": "https://example.com/a.mp3"}},
    ]
    event = add_and_wait(media_server, user, parts, infer=False, queued=True)
    reasons = [(item["type"], item["status"], item.get("reason", "")) for item in event["metadata"]["media"]]
    assert [status for _, status, _ in reasons] == ["skipped"] * 8
    assert "not allowed" in reasons[0][2] and "169.254.169.254" in reasons[1][2]
    assert "larger than 60000 bytes" in reasons[2][2]
    assert "not a readable PDF" in reasons[3][2]
    assert "404" in reasons[4][2]
    assert "302" in reasons[5][2] and "redirects are not followed" in reasons[5][2]
    assert "vision" in reasons[6][2]
    assert reasons[7][0] == "audio_url" and "not read" in reasons[7][2]
    assert texts_of(media_server, user) == ["I planted garlic today."]


def test_an_inferred_add_extracts_the_text_and_stores_the_document(media_server: MnemoServer, documents: int) -> None:
    user = _user()
    parts = [
        {"type": "text", "text": "I moved to Lisbon last spring."},
        _doc("txt_url", f"http://127.0.0.1:{documents}/notes.txt"),
    ]
    event = add_and_wait(media_server, user, parts, queued=True)
    assert event["metadata"]["extractor"] == "offline-rules-v1"
    stored = texts_of(media_server, user)
    assert NOTES in stored
    assert any("Lisbon" in memory for memory in stored)


def test_text_parts_alone_are_stored_at_once_as_a_string_is(media_server: MnemoServer) -> None:
    user = _user()
    with media_server.client() as client:
        for content in ({"type": "text", "text": "I collect stamps."}, [{"type": "text", "text": "I sail."}, "Often."]):
            body = {"messages": [{"role": "user", "content": content}], "user_id": user, "infer": False}
            stored = client.post("/v3/memories/add/", json=body).json()
            assert stored["status"] == "SUCCEEDED", stored
    assert texts_of(media_server, user) == ["I collect stamps.", "I sail.\nOften."]


def test_a_malformed_part_is_a_400_naming_it(media_server: MnemoServer) -> None:
    user = _user()
    with media_server.client() as client:
        for content, named in (
            ([{"text": "no type"}], "type"),
            ([{"type": "pdf_url", "pdf_url": {}}], "pdf_url.url"),
            ([42], "content.0"),
            ([], "empty"),
        ):
            response = client.post(
                "/v3/memories/add/", json={"messages": [{"role": "user", "content": content}], "user_id": user}
            )
            assert response.status_code == 400, (content, response.text)
            assert named in response.json()["detail"], (content, response.json())


def test_the_official_client_sends_parts_through(
    media_server: MnemoServer, documents: int, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MEM0_DIR", str(tmp_path))
    from mem0 import MemoryClient

    user = _user()
    client = MemoryClient(api_key=media_server.api_key, host=media_server.url)
    messages = [
        {
            "role": "user",
            "content": [
                {"type": "text", "text": "These are the hive notes."},
                _doc("txt_url", f"http://127.0.0.1:{documents}/notes.txt"),
            ],
        }
    ]
    queued = client.add(messages, filters={"user_id": user}, infer=False)
    assert wait_event(media_server, queued["event_id"])["status"] == "SUCCEEDED"
    found = client.search("Where are the bees kept?", filters={"user_id": user})
    assert found["results"][0]["memory"] == NOTES
