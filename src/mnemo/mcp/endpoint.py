"""``/mcp`` on ``mnemo serve``: MCP over streamable HTTP, its tools calling the same app in-process.

Each HTTP request is authenticated like any API request (``Authorization: Token <key>``, or ``Bearer``): the
key is checked by the API itself, and a missing, unknown or revoked key gets the API's 401 (a rate-limited
one its 429) as JSON with a ``detail``. The tools then call the app through ``httpx.ASGITransport`` with the
request's own ``Authorization`` header, so they see exactly the key's project and permissions.

The transport is stateless, with JSON responses (no SSE streams, no session kept in memory): every
``mnemo serve --no-workers`` process behind a load balancer can answer any MCP request, as with the API.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

import httpx
from fastapi import FastAPI
from mcp.server.context import ServerRequestContext
from mcp.server.streamable_http_manager import StreamableHTTPSessionManager
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route
from starlette.types import ASGIApp, Receive, Scope, Send

from mnemo.mcp.api import AccessCache, ApiError, MnemoApi
from mnemo.mcp.server import Caller, build_server

#: Where the endpoint leaves the resolved caller in the ASGI scope for the tool handlers.
_CALLER = "mnemo.mcp.caller"


class McpEndpoint:
    """The ASGI app answering ``/mcp``; ``api`` is the FastAPI app it is mounted on."""

    def __init__(self, api: ASGIApp, *, default_user_id: str | None) -> None:
        self._client = httpx.AsyncClient(
            transport=httpx.ASGITransport(app=api, raise_app_exceptions=False), trust_env=False
        )
        self._access = AccessCache()
        server = build_server(_caller, default_user_id=default_user_id)
        self._manager = StreamableHTTPSessionManager(app=server, stateless=True, json_response=True)
        self._runner: asyncio.Task[None] | None = None
        self._ready = asyncio.Event()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return
        request = Request(scope)
        # The API's paths from the request's own origin (so links in answers, like get-all's `next`, are right).
        base_url = f"{request.url.scheme}://{request.url.netloc}"
        api = MnemoApi(self._client, base_url, request.headers.get("authorization"))
        try:
            read_only = await self._access.read_only(api)
        except ApiError as exc:
            await _refusal(exc)(scope, receive, send)
            return
        if request.method != "POST":
            await _post_only(scope, receive, send)
            return
        scope[_CALLER] = Caller(api, _known(read_only))
        await self._running()
        await self._manager.handle_request(scope, receive, send)

    async def _running(self) -> None:
        """The SDK's session manager needs a task group for its lifetime; ``mnemo serve`` runs uvicorn without
        lifespan events, so it is started by the first request, in a task of its own that lives as long as
        the event loop."""
        if self._runner is None:
            self._runner = asyncio.get_running_loop().create_task(self._serve(), name="mnemo-mcp")
        await self._ready.wait()

    async def _serve(self) -> None:
        try:
            async with self._manager.run():
                self._ready.set()
                await asyncio.Event().wait()
        finally:
            self._ready.set()  # a failed start must not leave requests waiting: they get the SDK's error


def _caller(ctx: ServerRequestContext[Any, Any]) -> Caller:
    request = ctx.request
    if not isinstance(request, Request) or not isinstance(request.scope.get(_CALLER), Caller):
        raise RuntimeError("an MCP request reached mnemo's tools without passing the /mcp endpoint")
    caller: Caller = request.scope[_CALLER]
    return caller


def _known(value: bool) -> Callable[[], Awaitable[bool]]:
    async def read_only() -> bool:
        return value

    return read_only


def _refusal(exc: ApiError) -> JSONResponse:
    body = exc.body if isinstance(exc.body, dict) else {"detail": exc.detail}
    return JSONResponse(body, status_code=exc.status or 503, headers=exc.headers)


#: There is nothing to stream to a client (no notifications, no server requests), and an open stream would hold
#: a connection (and delay a graceful shutdown): a GET for one, or a DELETE of a session, is 405 as the spec allows.
_post_only = JSONResponse(
    {"detail": "This MCP endpoint is stateless: POST JSON-RPC messages to it (no SSE stream, no sessions)."},
    status_code=405,
    headers={"Allow": "POST"},
)


def install(app: FastAPI, *, default_user_id: str | None) -> None:
    """Answer ``/mcp`` (and ``/mcp/``) on the API's app."""
    endpoint = McpEndpoint(app, default_user_id=default_user_id)
    for path in ("/mcp", "/mcp/"):
        app.router.routes.append(Route(path, endpoint, include_in_schema=False))
