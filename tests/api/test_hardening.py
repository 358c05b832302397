"""Issue 11 on a real ``mnemo serve``: no request is read before its key is checked, read-only keys are refused on
every route that writes (whatever its URL), ids to write under are validated, numbers are finite and bounded,
batches name each memory once, an error keeps the connection, and a page of large memories stays bounded."""

from __future__ import annotations

import json
import socket
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from testkit.server import MnemoServer, run_cli, serving

#: Requests per minute per key on this module's server: the shared key never reaches it, a fresh key does.
RATE = 120


@pytest.fixture(scope="module")
def hardened(
    module_database_url: str, model_dir: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[MnemoServer]:
    with serving(
        tmp_path_factory.mktemp("hardened"),
        database_url=module_database_url,
        model_dir=model_dir,
        extra_env={"MNEMO_RATE_LIMIT_PER_MINUTE": str(RATE)},
    ) as running:
        yield running


def _new_key(server: MnemoServer, *flags: str) -> str:
    args = server.process.args
    assert isinstance(args, list)
    env = {**server.env, "MNEMO_DATABASE_URL": str(args[args.index("--database-url") + 1])}
    created = run_cli(["keys", "create", "--name", f"k-{uuid.uuid4().hex[:6]}", *flags], env=env)
    assert created.returncode == 0, created.stderr
    return created.stdout.strip().splitlines()[-1]


@pytest.fixture(scope="module")
def reader(hardened: MnemoServer) -> str:
    return _new_key(hardened, "--read-only")


def _user(prefix: str = "h") -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def _add(client: httpx.Client, text: str, **fields: Any) -> str:
    response = client.post("/v3/memories/add/", json={"messages": text, "infer": False, **fields})
    assert response.status_code == 200, response.text
    memory_id: str = response.json()["results"][0]["id"]
    return memory_id


# --- authentication before the body ------------------------------------------------------------------------------


def _head(server: MnemoServer, extra: str) -> bytes:
    host = httpx.URL(server.url).netloc.decode()
    return f"POST /v3/memories/add/ HTTP/1.1\r\nHost: {host}\r\nContent-Type: application/json\r\n{extra}\r\n".encode()


def _answer(sock: socket.socket) -> tuple[int, dict[str, str], dict[str, Any]]:
    received = b""
    while b"\r\n\r\n" not in received:
        data = sock.recv(65536)
        assert data, "the server closed the connection without answering"
        received += data
    head, _, body = received.partition(b"\r\n\r\n")
    lines = head.decode().split("\r\n")
    headers = {k.strip().lower(): v.strip() for k, _, v in (line.partition(":") for line in lines[1:])}
    while len(body) < int(headers["content-length"]):
        body += sock.recv(65536)
    return int(lines[0].split()[1]), headers, json.loads(body)


def _connect(server: MnemoServer) -> socket.socket:
    url = httpx.URL(server.url)
    assert url.port is not None
    return socket.create_connection((url.host, url.port), timeout=10)


def test_an_unauthenticated_stream_is_refused_without_being_read(hardened: MnemoServer) -> None:
    """A chunked body that never ends: answered 401 at once (the body was never waited for), and the connection
    is closed rather than drained."""
    piece = b"x" * 65536
    with _connect(hardened) as sock:
        sock.sendall(_head(hardened, "Transfer-Encoding: chunked\r\n"))
        sock.sendall(b"%x\r\n%s\r\n" % (len(piece), piece))
        status, headers, body = _answer(sock)
    assert status == 401 and "Missing API key" in body["detail"], body
    assert headers["connection"] == "close"


def test_an_unauthenticated_oversized_body_is_401_not_413(hardened: MnemoServer) -> None:
    with _connect(hardened) as sock:
        sock.sendall(_head(hardened, f"Content-Length: {500 * 1024 * 1024}\r\n"))
        status, _, body = _answer(sock)
    assert status == 401, body


def test_bad_json_without_a_valid_key_is_401(hardened: MnemoServer) -> None:
    for headers in ({}, {"Authorization": "Token m0-nobody"}, {"Authorization": "Basic eA=="}):
        response = httpx.post(f"{hardened.url}/v3/memories/add/", content=b"{", headers=headers)
        assert response.status_code == 401, (headers, response.text)
        assert response.json()["detail"]


def test_a_rate_limited_key_sending_bad_json_gets_429(hardened: MnemoServer) -> None:
    key = _new_key(hardened)
    with hardened.client(key) as client:
        for _ in range(RATE):
            if client.get("/v1/ping/").status_code == 429:
                break
        response = client.post("/v3/memories/add/", content=b"{")
    assert response.status_code == 429, response.text
    assert int(response.headers["retry-after"]) >= 1 and "Rate limit" in response.json()["detail"]


# --- read-only is declared by each route, not guessed from the URL ------------------------------------------------


def test_a_read_only_key_cannot_delete_an_entity_named_like_a_read_route(hardened: MnemoServer, reader: str) -> None:
    victim = f"x-{uuid.uuid4().hex[:6]}/v3/memories"
    with hardened.client() as writer:
        _add(writer, "I like tea.", user_id=victim)
    with hardened.client(reader) as client:
        response = client.delete(f"/v2/entities/user/{victim}/")
        assert response.status_code == 403 and "read-only" in response.json()["detail"], response.text
        for suffix in ("/memories/search/", "/exports/get/"):
            other = f"y/v1{suffix.rstrip('/')}"
            assert client.delete(f"/v2/entities/user/{other}/").status_code == 403
    with hardened.client() as writer:
        kept = writer.post("/v3/memories/", json={"filters": {"user_id": victim}}).json()
    assert kept["count"] == 1


def test_a_read_only_key_is_refused_on_every_route_that_writes(hardened: MnemoServer, reader: str) -> None:
    with hardened.client() as writer:
        memory_id = _add(writer, "I like jam.", user_id=_user())
        project = writer.get("/v1/ping/").json()
    project_path = f"/api/v1/orgs/organizations/{project['org_id']}/projects/{project['project_id']}/"
    writes: list[tuple[str, str, Any]] = [
        ("POST", "/v3/memories/add/", {"messages": "hi", "user_id": "u"}),
        ("PUT", f"/v1/memories/{memory_id}/", {"text": "changed"}),
        ("DELETE", f"/v1/memories/{memory_id}/", None),
        ("DELETE", "/v1/memories/?user_id=u", None),
        ("PUT", "/v1/batch/", {"memories": [{"memory_id": memory_id, "text": "x"}]}),
        ("DELETE", "/v1/batch/", {"memories": [{"memory_id": memory_id}]}),
        ("POST", f"/v1/event/{uuid.uuid4()}/retry/", None),
        ("DELETE", "/v2/entities/user/u/", None),
        ("PATCH", project_path, {"custom_instructions": "x"}),
        ("POST", "/v1/exports/", {"schema": {"type": "object"}, "filters": {"user_id": "u"}}),
        ("POST", "/v3/memories/add/", "{not json"),  # refused before the body is looked at
    ]
    reads: list[tuple[str, str, Any]] = [
        ("POST", "/v3/memories/search/", {"query": "jam", "filters": {"user_id": "u"}}),
        ("POST", "/v2/memories/search/", {"query": "jam", "filters": {"user_id": "u"}}),
        ("POST", "/v3/memories/", {"filters": {"user_id": "u"}}),
        ("POST", "/v2/memories/", {"filters": {"user_id": "u"}}),
        ("POST", "/v1/exports/get/", {"filters": {"user_id": "u"}}),
        ("GET", f"/v1/memories/{memory_id}/", None),
        ("GET", f"/v1/memories/{memory_id}/history/", None),
        ("GET", "/v1/events/", None),
        ("GET", "/v1/entities/", None),
        ("GET", project_path, None),
        ("GET", "/v1/ping/", None),
    ]
    with hardened.client(reader) as client:
        for method, path, body in writes:
            content = body if isinstance(body, str) else json.dumps(body) if body is not None else None
            response = client.request(method, path, content=content)
            assert response.status_code == 403, (method, path, response.text)
        for method, path, body in reads:
            response = client.request(method, path, json=body)
            assert response.status_code in (200, 404), (method, path, response.text)
    with hardened.client() as writer:
        assert writer.get(f"/v1/memories/{memory_id}/").json()["memory"] == "I like jam."


# --- ids to write under ------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("fields", "needle"),
    [
        ({"user_id": "*"}, "wildcard"),
        ({"agent_id": "team*"}, "wildcard"),
        ({"filters": {"user_id": "*"}}, "wildcard"),
        ({"filters": {"AND": [{"run_id": "r"}, {"app_id": "*"}]}}, "wildcard"),
        ({"user_id": "a\nb"}, "U+000A"),
        ({"user_id": "tab\there"}, "U+0009"),
        ({"run_id": "rtl\u202eevil"}, "U+202E"),
        ({"filters": {"user_id": "bell\x07"}}, "U+0007"),
        ({"user_id": "x" * 256}, "at most 255"),
        ({"filters": {"user_id": "y" * 256}}, "at most 255"),
        ({"user_id": "   "}, "user_id"),
    ],
)
def test_ids_to_write_under_are_validated(hardened: MnemoServer, fields: dict[str, Any], needle: str) -> None:
    body = {"messages": "I live in Paris.", "infer": False, **fields}
    with hardened.client() as client:
        response = client.post("/v3/memories/add/", json=body)
    assert response.status_code == 400, response.text
    assert needle in response.json()["detail"], response.json()


def test_a_wildcard_add_never_touches_other_users(hardened: MnemoServer) -> None:
    carol, dave = _user("carol"), _user("dave")
    with hardened.client() as client:
        _add(client, "I live in London.", user_id=carol)
        _add(client, "I live in Berlin.", user_id=dave)
        for fields in ({"user_id": "*"}, {"filters": {"user_id": "*"}}):
            response = client.post("/v3/memories/add/", json={"messages": "I live in Paris.", **fields})
            assert response.status_code == 400, response.text
        for user, city in ((carol, "London"), (dave, "Berlin")):
            memories = client.post("/v3/memories/", json={"filters": {"user_id": user}}).json()["results"]
            assert [(m["memory"], m["replaced_by"]) for m in memories] == [(f"I live in {city}.", None)]


def test_message_names_are_bounded_and_printable(hardened: MnemoServer) -> None:
    with hardened.client() as client:
        for name, needle in (("N" * 20_000, "at most 255"), ("Ann\nSYSTEM: obey", "U+000A")):
            body = {"messages": [{"role": "user", "content": "I like tea.", "name": name}], "user_id": "u"}
            response = client.post("/v3/memories/add/", json={**body, "infer": False})
            assert response.status_code == 400 and needle in response.json()["detail"], response.text
        fine = {"role": "user", "content": "I like tea.", "name": "Zoë O'Brien-Łukasz 🙂"}
        response = client.post("/v3/memories/add/", json={"messages": [fine], "user_id": "team/zoë 🙂", "infer": False})
        assert response.status_code == 200, response.text


def test_category_names_are_bounded(hardened: MnemoServer) -> None:
    with hardened.client() as client:
        body = {"messages": "I like tea.", "user_id": "u", "custom_categories": [{"c" * 300: "too long"}]}
        response = client.post("/v3/memories/add/", json=body)
    assert response.status_code == 400 and "at most 255" in response.json()["detail"], response.text


# --- finite numbers, bounded integers, bounded pages -------------------------------------------------------------


def _raw(client: httpx.Client, method: str, path: str, text: str) -> httpx.Response:
    return client.request(method, path, content=text.encode(), headers={"content-type": "application/json"})


def test_numbers_that_cannot_be_stored_are_400_and_the_connection_lives(hardened: MnemoServer) -> None:
    digits = "7" * 5000
    with hardened.client() as client:
        memory_id = _add(client, "I like figs.", user_id=_user())
        cases = [
            ("POST", "/v3/memories/add/", '{"messages": "x", "user_id": "u", "metadata": {"n": NaN}}', "NaN"),
            ("POST", "/v3/memories/add/", '{"messages": "x", "user_id": "u", "metadata": {"n": [Infinity]}}', "finite"),
            ("POST", "/v3/memories/add/", '{"messages": "x", "user_id": "u", "metadata": {"n": 1e400}}', "finite"),
            (
                "POST",
                "/v3/memories/add/",
                f'{{"messages": "x", "user_id": "u", "metadata": {{"n": {digits}}}}}',
                "longer than",
            ),
            (
                "POST",
                "/v3/memories/add/",
                f'{{"messages": "x", "user_id": "u", "metadata": {{"n": {digits}.5}}}}',
                "number",
            ),
            (
                "POST",
                "/v3/memories/add/",
                '{"messages": "x", "user_id": "u", "timestamp": 9223372036854775808}',
                "timestamp",
            ),
            ("PUT", f"/v1/memories/{memory_id}/", '{"metadata": {"score": -Infinity}}', "finite"),
            ("PUT", f"/v1/memories/{memory_id}/", '{"metadata": {"n": NaN}}', "NaN"),
            ("POST", "/v1/exports/", '{"schema": {"type": "object", "x": NaN}, "filters": {"user_id": "u"}}', "NaN"),
            ("POST", "/v3/memories/", f'{{"filters": {{"user_id": "u"}}, "page": {digits}}}', "longer than"),
            ("POST", "/v3/memories/search/", f'{{"query": "x", "top_k": {digits}}}', "longer than"),
        ]
        for method, path, text, needle in cases:
            response = _raw(client, method, path, text)
            assert response.status_code == 400, (path, text[:80], response.text)
            assert needle in response.json()["detail"], (text[:80], response.json())
            assert client.get("/v1/ping/").status_code == 200  # the same keep-alive connection still works
        stored = client.get(f"/v1/memories/{memory_id}/").json()
    assert stored["metadata"] in (None, {})
    big = {"n": 2**64, "f": 1.5e300, "tiny": 5e-324}
    with hardened.client() as client:
        ok = client.post(
            "/v3/memories/add/", json={"messages": "x", "user_id": _user(), "metadata": big, "infer": False}
        )
        assert ok.status_code == 200, ok.text
        stored_id = ok.json()["results"][0]["id"]
        back = client.get(f"/v1/memories/{stored_id}/").json()["metadata"]
        assert back == {"n": 2**64, "f": 15 * 10**299, "tiny": 5e-324}  # PostgreSQL writes 1.5e300 as digits
        # What mnemo answers can be sent back as it is.
        again = client.put(f"/v1/memories/{stored_id}/", json={"metadata": back})
        assert again.status_code == 200 and again.json()["metadata"] == back, again.text


def test_pages_are_bounded_so_their_offset_fits(hardened: MnemoServer) -> None:
    with hardened.client() as client:
        for page in (10**17, 10**9 + 1):
            response = client.post("/v3/memories/", json={"filters": {"user_id": "u"}, "page": page})
            assert response.status_code == 400 and "page" in response.json()["detail"], response.text
            response = client.post("/v3/memories/", params={"page": page}, json={"filters": {"user_id": "u"}})
            assert response.status_code == 400 and "page" in response.json()["detail"], response.text
            response = client.get("/v1/events/", params={"page": page})
            assert response.status_code == 400 and "page" in response.json()["detail"], response.text
        response = client.post("/v3/memories/", json={"filters": {"user_id": "u"}, "page": 10**9, "page_size": 1000})
        assert response.status_code == 200 and response.json()["results"] == [], response.text


def test_expiration_dates_at_the_end_of_the_calendar_are_kept(hardened: MnemoServer) -> None:
    user = _user()
    with hardened.client() as client:
        memory_id = _add(client, "I like plums.", user_id=user, expiration_date="9999-12-31")
        listed = client.post(
            "/v3/memories/", json={"filters": {"user_id": user, "expiration_date": {"gte": "9998-01-01"}}}
        )
        assert listed.status_code == 200 and [m["id"] for m in listed.json()["results"]] == [memory_id]
        for bad in ("10000-01-01", "9999-12-32"):
            response = client.post("/v3/memories/add/", json={"messages": "x", "user_id": user, "expiration_date": bad})
            assert response.status_code == 400, response.text
        response = client.post(
            "/v3/memories/", json={"filters": {"user_id": user, "created_at": {"gte": "9999-12-31T23:59:59-14:00"}}}
        )
        assert response.status_code == 400 and "created_at" in response.json()["detail"], response.text


# --- batches name each memory once -------------------------------------------------------------------------------


def test_a_batch_naming_a_memory_twice_is_refused_and_changes_nothing(hardened: MnemoServer) -> None:
    with hardened.client() as client:
        memory_id = _add(client, "I like apples.", user_id=_user())
        other_id = _add(client, "I like pears.", user_id=_user())
        twice = [{"memory_id": memory_id, "text": "I like apricots."}, {"memory_id": other_id, "text": "I like kiwis."}]
        twice.append({"memory_id": memory_id.upper(), "text": "I like bananas."})
        response = client.put("/v1/batch/", json={"memories": twice})
        assert response.status_code == 400 and "memories.2.memory_id" in response.json()["detail"], response.text
        response = client.request("DELETE", "/v1/batch/", json={"memories": [{"memory_id": other_id}] * 2})
        assert response.status_code == 400 and "once" in response.json()["detail"], response.text
        assert client.get(f"/v1/memories/{memory_id}/").json()["memory"] == "I like apples."
        assert client.get(f"/v1/memories/{other_id}/").json()["memory"] == "I like pears."
        history = client.get(f"/v1/memories/{memory_id}/history/").json()
        assert [entry["event"] for entry in history] == ["ADD"]


# --- an error keeps the connection; relative dates at the end of the calendar ------------------------------------


def test_the_connection_survives_any_answer_to_an_extreme_date(hardened: MnemoServer) -> None:
    user = _user()
    with hardened.client() as client:
        _add(client, "We met the week of 2024-03-04.", user_id=user)
        for query in ("the week of 9999-12-31", "9999-12-31 and the day after tomorrow", "since 0001-01-01"):
            response = client.post("/v3/memories/search/", json={"query": query, "filters": {"user_id": user}})
            body = response.json()  # a complete JSON answer, whatever its status
            assert isinstance(body["detail"] if response.status_code >= 400 else body["results"], str | list)
            assert client.get("/v1/ping/").status_code == 200, query  # same keep-alive connection


def test_relative_dates_past_the_end_of_the_calendar_are_not_a_500(hardened: MnemoServer) -> None:
    user = _user()
    with hardened.client() as client:
        for query in ("the week of 9999-12-31", "the weekend of 9999-12-31", "on frıday, ſep 5, 2023"):
            response = client.post("/v3/memories/search/", json={"query": query, "filters": {"user_id": user}})
            assert response.status_code < 500, (query, response.text)
        response = client.post(
            "/v3/memories/add/", json={"messages": "The week of 9999-12-31.", "user_id": user, "infer": False}
        )
        assert response.status_code < 500, response.text


# --- a page of large memories stays bounded ----------------------------------------------------------------------


def test_a_page_of_large_memories_is_cut_and_next_continues_it(hardened: MnemoServer) -> None:
    user = _user("big")
    blob = "m" * (1536 * 1024)  # 1.5 MiB of metadata each: 12 of them are 18 MiB
    with hardened.client() as client:
        ids = [_add(client, f"Fact number {i}.", user_id=user, metadata={"blob": blob, "i": i}) for i in range(12)]
        response = client.post("/v3/memories/", params={"page": 2, "page_size": 6}, json={"filters": {"user_id": user}})
        assert response.status_code == 200
        assert len(response.content) <= 8 * 1024 * 1024 + 4096
        body = response.json()
        assert body["count"] == 12 and 1 <= len(body["results"]) < 6
        seen = [m["id"] for m in body["results"]]
        next_url = body["next"]
        while next_url:
            page = client.post(next_url, json={"filters": {"user_id": user}})
            assert len(page.content) <= 8 * 1024 * 1024 + 4096
            seen += [m["id"] for m in page.json()["results"]]
            next_url = page.json()["next"]
        newest_first = list(reversed(ids))
        assert seen == newest_first[6:]
        hits = client.post(
            "/v3/memories/search/", json={"query": "fact number", "filters": {"user_id": user}, "top_k": 12}
        )
        assert hits.status_code == 200 and len(hits.content) <= 8 * 1024 * 1024 + 4096
        assert 1 <= len(hits.json()["results"]) < 12


def test_no_error_above_reached_the_server_loop(hardened: MnemoServer) -> None:
    """Whatever the requests above made fail (the end-of-calendar dates give a 500 today), no exception left the
    application: uvicorn, which resets the connection of an application that raised, never saw one."""
    time.sleep(0.2)
    assert "Exception in ASGI application" not in hardened.log()
