"""Input that fuzzing rarely reaches: every case gets a 4xx with a readable detail, never a 5xx."""

from __future__ import annotations

import json
import socket
import uuid
from collections.abc import Iterable
from typing import Any

import httpx
import pytest

from testkit.server import MnemoServer, wait_event

#: MNEMO_MAX_BODY_BYTES's default, which the shared server runs with.
MAX_BODY = 2 * 1024 * 1024


def _user() -> str:
    return f"bad-{uuid.uuid4().hex[:8]}"


def _deep(depth: int) -> dict[str, Any]:
    value: dict[str, Any] = {"leaf": 1}
    for _ in range(depth):
        value = {"n": value}
    return value


def _not_chain(depth: int) -> dict[str, Any]:
    value: dict[str, Any] = {"user_id": "u"}
    for _ in range(depth):
        value = {"NOT": value}
    return value


@pytest.mark.parametrize(
    ("path", "content", "headers", "status", "needle"),
    [
        ("/v3/memories/add/", b'{"messages": "hi", "user_id": "\xff\xfe"}', {}, 400, "not valid JSON"),
        ("/v3/memories/add/", b"user_id=alice", {"content-type": "application/x-www-form-urlencoded"}, 400, "JSON"),
        ("/v3/memories/add/", b"null", {}, 400, "JSON object"),
        ("/v3/memories/search/", b'"just a string"', {}, 400, "JSON object"),
        ("/v3/memories/", b"{", {}, 400, "not valid JSON"),
        ("/v3/memories/search/", b"[" * 100_000, {}, 400, "not valid JSON"),
        ("/v3/memories/search/", b'{"query": "x"}', {"content-type": "text/plain"}, 400, "application/json"),
        ("/v3/memories/search/", b"", {"content-type": "application/json"}, 400, "empty"),
    ],
)
def test_undecodable_bodies(
    server: MnemoServer, path: str, content: bytes, headers: dict[str, str], status: int, needle: str
) -> None:
    with server.client() as client:
        response = client.post(path, content=content, headers=headers)
    assert response.status_code == status, response.text
    assert needle in response.json()["detail"]


@pytest.mark.parametrize(
    ("body", "needle"),
    [
        ({"messages": "hi\x00there", "user_id": "u"}, "NUL"),
        ({"messages": "hi", "user_id": "u\x00"}, "NUL"),
        ({"messages": "hi", "user_id": "u", "metadata": {"k\x00": "v"}}, "NUL"),
        ({"messages": "hi", "user_id": "u", "metadata": _deep(200)}, "nested"),
        ({"messages": "hi", "user_id": "u", "expiration_date": "2024-02-30"}, "expiration_date"),
        ({"messages": "hi", "user_id": "x" * 300}, "user_id"),
        ({"messages": "hi", "user_id": "u", "timestamp": "yesterday"}, "timestamp"),
        ({"messages": "hi", "user_id": "u", "infer": "maybe"}, "infer"),
        ({"messages": [{"role": "user"}], "user_id": "u"}, "content"),
        ({"messages": "hi", "filters": {"session": "x"}}, "filters.session"),
    ],
)
def test_add_rejects(server: MnemoServer, body: dict[str, Any], needle: str) -> None:
    with server.client() as client:
        response = client.post("/v3/memories/add/", json=body)
    assert response.status_code == 400, response.text
    assert needle in response.json()["detail"]


@pytest.mark.parametrize(
    ("filters", "needle"),
    [
        (_not_chain(40), "deeply"),
        ({"AND": [{"user_id": "u"}, {"created_at": {"gte": "2024-02-30"}}]}, "2024-02-30"),
        ({"user_id": "u", "agent": "x"}, "Unknown filter key 'agent'"),
        ({"user_id": ["a", "b"]}, "user_id"),
        ({"user_id": "u", "metadata": {"k": {"gt": 1}}}, "gt"),
        ({"user_id": "u\x00"}, "NUL"),
    ],
)
def test_search_and_list_reject_bad_filters(server: MnemoServer, filters: dict[str, Any], needle: str) -> None:
    with server.client() as client:
        for path, body in (
            ("/v3/memories/search/", {"query": "anything", "filters": filters}),
            ("/v3/memories/", {"filters": filters}),
        ):
            response = client.post(path, json=body)
            assert response.status_code == 400, (path, response.text)
            assert needle in response.json()["detail"], (path, response.json())


def test_entity_names_with_slashes_and_unknown_types(server: MnemoServer) -> None:
    user = f"team/{_user()}/alice"
    with server.client() as client:
        client.post("/v3/memories/add/", json={"messages": "I like tea.", "user_id": user, "infer": False})
        encoded = httpx.URL(f"/v2/entities/user/{user.replace('/', '%2F')}/")
        response = client.delete(encoded)
        assert response.status_code == 200, response.text
        assert response.json()["deleted_count"] == 1
        response = client.delete("/v2/entities/robot/someone/")
        assert response.status_code == 400 and "robot" in response.json()["detail"]


def test_bounds_on_pages_and_query_params(server: MnemoServer) -> None:
    with server.client() as client:
        for params in ({"page": "0"}, {"page_size": "100000"}, {"page": "abc"}):
            response = client.post("/v3/memories/", params=params, json={"filters": {"user_id": "u"}})
            assert response.status_code == 400, (params, response.text)
        response = client.post("/v3/memories/", params={"page": "999"}, json={"filters": {"user_id": "u"}})
        assert response.status_code == 200 and response.json()["results"] == []


def test_wrong_methods_and_unknown_paths_are_json(server: MnemoServer) -> None:
    with server.client() as client:
        response = client.patch("/v3/memories/add/", json={})
        assert response.status_code == 405 and "not allowed" in response.json()["detail"]
        response = client.get("/v9/nothing/")
        assert response.status_code == 404 and response.json()["detail"]


def test_huge_metadata_is_refused_not_crashing(server: MnemoServer) -> None:
    metadata = {f"k{i}": "v" * 100 for i in range(30000)}
    with server.client() as client:
        response = client.post(
            "/v3/memories/add/", content=json.dumps({"messages": "x", "user_id": "u", "metadata": metadata})
        )
    assert response.status_code == 413


def _raw_request(server: MnemoServer, head: str, chunks: Iterable[bytes]) -> tuple[int, dict[str, Any]]:
    """Send a request head and then ``chunks`` (never finishing a chunked body), and read the answer."""
    host, port = httpx.URL(server.url).host, httpx.URL(server.url).port
    assert port is not None
    with socket.create_connection((host, port), timeout=30) as sock:
        sock.sendall(head.replace("\n", "\r\n").encode() + b"\r\n")
        for chunk in chunks:
            sock.sendall(chunk)
        received = b""
        while b"\r\n\r\n" not in received:
            received += sock.recv(65536)
        head_bytes, _, body = received.partition(b"\r\n\r\n")
        lines = head_bytes.decode().split("\r\n")
        length = next(int(line.split(":")[1]) for line in lines if line.lower().startswith("content-length:"))
        while len(body) < length:
            body += sock.recv(65536)
    return int(lines[0].split()[1]), json.loads(body)


def test_a_body_over_the_cap_is_refused_before_it_is_read(server: MnemoServer) -> None:
    auth = f"Authorization: Token {server.api_key}"
    host = httpx.URL(server.url).netloc.decode()
    # Declared too large: refused on the headers alone (no byte of the body is sent).
    head = f"POST /v3/memories/add/ HTTP/1.1\nHost: {host}\n{auth}\nContent-Type: application/json\n"
    status, body = _raw_request(server, head + f"Content-Length: {MAX_BODY + 1}\n", [])
    assert status == 413 and "larger than" in body["detail"]
    # Streamed (chunked): refused as soon as it passes the cap, before the body ends.
    piece = b"x" * (256 * 1024)
    chunks = [b"%x\r\n%s\r\n" % (len(piece), piece)] * (MAX_BODY // len(piece) + 1)
    status, body = _raw_request(server, head + "Transfer-Encoding: chunked\n", chunks)
    assert status == 413 and "larger than" in body["detail"]


def test_an_empty_body_reads_as_an_empty_object(server: MnemoServer) -> None:
    with server.client() as client:
        empty = client.post("/v3/memories/", params={"page": 1})
        braces = client.post("/v3/memories/", params={"page": 1}, json={})
    assert (empty.status_code, empty.json()) == (braces.status_code, braces.json())


def test_an_add_keeps_what_the_client_sent(server: MnemoServer) -> None:
    sent = {
        "messages": [{"role": "user", "content": "I sail.", "name": "Ana", "lang": "en"}],
        "user_id": _user(),
        "infer": False,
        "timestamp": 1_600_000_000,
        "async_mode": True,
        "output_format": "v1.1",
        "metadata": {"source": {"app": "chat", "ids": [1, 2.5, None]}},
    }
    with server.client() as client:
        event_id = client.post("/v3/memories/add/", json=sent).json()["event_id"]
    assert wait_event(server, event_id)["payload"] == sent
