"""The HTTP layer's hardening, in-process (no database): every route declares whether it reads or writes, the
gate answers on headers alone, bodies are decoded with finite numbers and bounded integers, a 500 keeps the
client's connection (checked through a real uvicorn), and long pages are cut where ``next`` can continue them."""

from __future__ import annotations

import asyncio
import logging
import socket
import threading
import uuid
from collections.abc import Iterator, MutableMapping
from types import SimpleNamespace
from typing import Any, cast

import httpx
import pytest
import uvicorn
from fastapi import APIRouter, FastAPI, Request
from fastapi.routing import APIRoute, iter_route_contexts
from starlette.datastructures import URL

from mnemo.activity import Activity
from mnemo.http.access import PRINCIPAL, Access, Reads, Writes, access_of, is_public, undeclared
from mnemo.http.app import PUBLIC_PATHS, create_app
from mnemo.http.capped import continuable, page_of
from mnemo.http.errors import install_error_handlers
from mnemo.http.gate import Gate
from mnemo.http.json_body import loads
from mnemo.http.last_resort import LastResort
from mnemo.http.observe import install_observability
from mnemo.http.ratelimit import RateLimiter
from mnemo.http.routing import ApiRoute
from mnemo.services import Services
from mnemo.settings import Settings
from mnemo.storage import Principal
from testkit.server import free_port

KEY = "m0-in-process"
WRITER = Principal(uuid.uuid4(), "proj_w", "org", read_only=False)
READER = Principal(uuid.uuid4(), "proj_r", "org", read_only=True)


class _Accounts:
    """Two keys; counts the lookups (a refusal on the header's shape needs none)."""

    def __init__(self) -> None:
        self.lookups = 0

    async def authenticate(self, key: str) -> Principal | None:
        self.lookups += 1
        return {KEY: WRITER, "m0-reader": READER}.get(key)


def _services(accounts: object = None) -> Services:
    none = cast(Any, None)
    return Services(
        settings=Settings(),
        db=none,
        activity=Activity(),
        accounts=cast(Any, accounts),
        batcher=none,
        ingestor=none,
        retriever=none,
        reranker=none,
        limits=none,
        digests=none,
    )


# --- every route declares whether it reads or writes ------------------------------------------------------------


def test_every_route_of_the_app_declares_whether_it_reads_or_writes() -> None:
    app = create_app(_services())  # create_app itself refuses an undeclared route
    assert undeclared(app.router.routes, PUBLIC_PATHS) == []
    contexts = [c for c in iter_route_contexts(app.router.routes) if not is_public(c.path or "", PUBLIC_PATHS)]
    api = [c.original_route for c in contexts if isinstance(c.original_route, APIRoute)]
    assert len(api) >= 20 and all(isinstance(r, ApiRoute) for r in api)
    declared = {(r.path, m): access_of(r) for r in api for m in r.methods or ()}
    assert declared[("/v2/entities/{entity_type}/{entity_name:path}/", "DELETE")] is Access.WRITE
    assert declared[("/v3/memories/", "POST")] is Access.READ and declared[("/v1/exports/", "POST")] is Access.WRITE


def test_a_route_without_a_declaration_is_found() -> None:
    app = FastAPI(docs_url=None, redoc_url=None)
    router = APIRouter(route_class=ApiRoute)

    @router.post("/v1/declared/", dependencies=[Writes])
    async def declared() -> None: ...

    @router.post("/v1/forgot/")
    async def forgot() -> None: ...

    @router.get("/v1/both/", dependencies=[Reads, Writes])
    async def both() -> None: ...

    app.include_router(router)
    assert undeclared(app.router.routes, ("/openapi.json",)) == ["POST /v1/forgot/", "GET /v1/both/"]


def test_public_paths_cover_their_subtree_only() -> None:
    assert is_public("/ui", PUBLIC_PATHS) and is_public("/ui/static/app.css", PUBLIC_PATHS)
    assert is_public("/mcp/", PUBLIC_PATHS) and is_public("/healthz", PUBLIC_PATHS)
    assert not is_public("/uix", PUBLIC_PATHS) and not is_public("/healthzz", PUBLIC_PATHS)
    assert not is_public("/v3/memories/add/", PUBLIC_PATHS) and not is_public("/", PUBLIC_PATHS)


# --- the gate and the routes' class: decided before the body is read ---------------------------------------------


def _guarded_app(accounts: _Accounts, *, per_minute: int = 0) -> FastAPI:
    app = FastAPI()
    router = APIRouter(route_class=ApiRoute)

    @router.post("/v1/write/", dependencies=[Writes])
    async def write(body: dict[str, Any], request: Request) -> dict[str, Any]:
        return {"who": request.scope[PRINCIPAL].project_id, "body": body}

    @router.post("/v1/read/", dependencies=[Reads])
    async def read(body: dict[str, Any]) -> dict[str, Any]:
        return body

    app.include_router(router)
    app.add_middleware(Gate, accounts=accounts, limiter=RateLimiter(per_minute), public=("/healthz",))
    install_error_handlers(app)
    return app


class _Receiver:
    """An ASGI ``receive`` that records whether anyone asked for the body."""

    def __init__(self, body: bytes) -> None:
        self.calls = 0
        self.body = body

    async def __call__(self) -> dict[str, Any]:
        self.calls += 1
        return {"type": "http.request", "body": self.body, "more_body": False}


async def _call(
    app: FastAPI, path: str, headers: dict[str, str], body: bytes
) -> tuple[int, dict[str, str], bytes, int]:
    receiver = _Receiver(body)
    sent: list[dict[str, Any]] = []

    async def send(message: MutableMapping[str, Any]) -> None:
        sent.append(dict(message))

    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "root_path": "",
        "query_string": b"",
        "headers": [
            (k.lower().encode(), v.encode()) for k, v in {"content-type": "application/json", **headers}.items()
        ],
        "client": ("127.0.0.1", 1),
        "server": ("test", 80),
    }
    await app(scope, receiver, send)
    start = sent[0]
    answer = {k.decode(): v.decode() for k, v in start["headers"]}
    return start["status"], answer, b"".join(m.get("body", b"") for m in sent[1:]), receiver.calls


def test_refusals_are_answered_without_reading_the_body() -> None:
    accounts = _Accounts()
    app = _guarded_app(accounts)
    chunked = {"transfer-encoding": "chunked", "content-type": "application/json"}
    cases = [
        ({}, 401, "Missing API key"),
        ({"authorization": "Basic abc"}, 401, "Malformed"),
        ({"authorization": "Token m0-unknown"}, 401, "Invalid API key"),
    ]
    for headers, status, needle in cases:
        got, answer, body, reads = asyncio.run(_call(app, "/v1/write/", {**chunked, **headers}, b"{"))
        assert (got, reads) == (status, 0), (headers, body)
        assert needle in loads(body)["detail"]
        assert answer["connection"] == "close" and answer["www-authenticate"] == "Token"
    # A read-only key on a route that writes: refused by the route's class, before the body.
    got, _, body, reads = asyncio.run(_call(app, "/v1/write/", {**chunked, "authorization": "Token m0-reader"}, b"{"))
    assert (got, reads) == (403, 0) and "read-only" in loads(body)["detail"]
    # ... and it may read (bad JSON is then its own 400).
    got, _, body, reads = asyncio.run(_call(app, "/v1/read/", {"authorization": "Token m0-reader"}, b"{"))
    assert (got, reads) == (400, 1) and "not valid JSON" in loads(body)["detail"]
    got, _, body, _ = asyncio.run(_call(app, "/v1/write/", {"authorization": f"Bearer {KEY}"}, b'{"a": 1}'))
    assert (got, loads(body)) == (200, {"who": "proj_w", "body": {"a": 1}})


def test_a_rate_limited_key_gets_429_before_its_body_is_read() -> None:
    app = _guarded_app(_Accounts(), per_minute=2)
    headers = {"authorization": f"Token {KEY}", "content-length": "1"}
    assert asyncio.run(_call(app, "/v1/read/", headers, b"{}"))[0] == 200
    assert asyncio.run(_call(app, "/v1/read/", headers, b"{}"))[0] == 200
    status, answer, body, reads = asyncio.run(_call(app, "/v1/read/", headers, b"{"))
    assert (status, reads) == (429, 0)
    assert int(answer["retry-after"]) >= 1 and "Rate limit" in loads(body)["detail"]


# --- JSON with finite numbers and bounded integers ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "needle"),
    [
        ('{"a": NaN}', "NaN"),
        ('{"a": [Infinity]}', "Infinity"),
        ('{"a": -Infinity}', "Infinity"),
        ('{"a": 1e400}', "finite"),
        ('{"a": -1e400}', "finite"),
        ('{"a": ' + "9" * 4301 + "}", "longer than 400"),
        ('{"a": ' + "9" * 5000 + ".5}", "longer than 400"),
        ('{"a": -' + "9" * 400 + "}", "longer than 400"),
    ],
)
def test_json_refuses_numbers_that_cannot_be_stored(text: str, needle: str) -> None:
    with pytest.raises(ValueError, match=needle):
        loads(text)


def test_json_keeps_every_number_it_can_store() -> None:
    largest = "1" + "0" * 308  # 1e308 as PostgreSQL writes it back
    text = f'{{"i": [0, -0, {2**63}, {largest}], "f": [1.5, -2.5e-300, 1e308, 1e-400], "s": "NaN"}}'
    assert loads(text) == {"i": [0, 0, 2**63, 10**308], "f": [1.5, -2.5e-300, 1e308, 0.0], "s": "NaN"}


# --- long pages are cut where next can continue them -------------------------------------------------------------


def test_a_cut_page_ends_where_a_page_of_its_own_size_begins() -> None:
    for offset in range(0, 400, 7):
        for fits in range(1, 40):
            kept = continuable(offset, fits)
            assert 1 <= kept <= fits and (offset == 0 or offset % kept == 0)
            next_page = offset // kept + 2
            assert (next_page - 1) * kept == offset + kept


def test_following_next_over_cut_pages_reads_every_item_once() -> None:
    items = [{"id": i, "blob": "x" * (100 if i % 3 else 900)} for i in range(50)]
    url = URL("http://mnemo/v3/memories/")
    seen: list[int] = []
    page, page_size = 1, 12
    while True:
        offset = (page - 1) * page_size
        chunk = items[offset : offset + page_size]
        found = page_of(url, chunk, page=page, page_size=page_size, total=len(items), wire=dict, budget=2500)
        assert sum(len(r) + 1 for r in found.results) <= 2500 or len(found.results) == 1
        seen.extend(loads(r)["id"] for r in found.results)
        if found.next is None:
            break
        query = httpx.URL(found.next).params
        page, page_size = int(query["page"]), int(query["page_size"])
    assert seen == list(range(50))
    whole = page_of(url, items[:5], page=1, page_size=5, total=50, wire=dict)
    assert loads(bytes(whole.response(50).body))["next"] == "http://mnemo/v3/memories/?page=2&page_size=5"


# --- a 500 keeps the connection, and its log line says which request ----------------------------------------------


def _broken_app() -> FastAPI:
    app = FastAPI()

    @app.get("/boom/{name}/")
    async def boom(name: str) -> dict[str, str]:
        raise RuntimeError("kaput")

    @app.get("/fine/")
    async def fine() -> dict[str, str]:
        return {"status": "ok"}

    # As create_app stacks them: the request observation outside the last resort, outside the routes.
    app.state.services = SimpleNamespace(
        settings=SimpleNamespace(metrics=False, metrics_port=None), activity=Activity()
    )
    app.add_middleware(LastResort)
    install_error_handlers(app)
    install_observability(app)
    return app


@pytest.fixture
def uvicorn_url() -> Iterator[str]:
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(_broken_app(), port=port, log_level="critical", lifespan="off"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    try:
        for _ in range(200):
            if server.started:
                break
            threading.Event().wait(0.05)
        yield f"127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(10)


def _responses_on_one_connection(address: str, paths: list[str]) -> list[bytes]:
    """Send the requests one after the other on one connection; the raw responses (empty if it was closed)."""
    host, port = address.split(":")
    answers: list[bytes] = []
    with socket.create_connection((host, int(port)), timeout=10) as sock:
        for path in paths:
            try:
                sock.sendall(f"GET {path} HTTP/1.1\r\nHost: x\r\nX-Request-ID: req-{len(answers)}\r\n\r\n".encode())
                answers.append(_read_response(sock))
            except OSError:
                answers.append(b"")
    return answers


def _read_response(sock: socket.socket) -> bytes:
    received = b""
    while b"\r\n\r\n" not in received:
        data = sock.recv(65536)
        if not data:
            return received
        received += data
    head, _, body = received.partition(b"\r\n\r\n")
    length = next(
        int(line.split(b":")[1]) for line in head.split(b"\r\n") if line.lower().startswith(b"content-length")
    )
    while len(body) < length:
        data = sock.recv(65536)
        if not data:
            break
        body += data
    return head + b"\r\n\r\n" + body


def test_a_500_is_complete_json_and_the_connection_stays_usable(
    uvicorn_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.ERROR, logger="mnemo.http.errors"):
        first, second = _responses_on_one_connection(uvicorn_url, ["/boom/alice/", "/fine/"])
    assert first.startswith(b"HTTP/1.1 500") and b"connection: close" not in first.lower()
    assert loads(first.partition(b"\r\n\r\n")[2])["detail"].startswith("Internal server error")
    assert second.startswith(b"HTTP/1.1 200"), second
    (record,) = [r for r in caplog.records if r.levelno == logging.ERROR]
    assert record.getMessage() == "unhandled error on GET /boom/{name}/ (request id req-0)"
    assert record.exc_info is not None and "kaput" in str(record.exc_info[1])
