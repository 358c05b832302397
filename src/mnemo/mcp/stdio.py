"""``mnemo mcp``: the MCP server over stdio, for desktop agents that start it as a subprocess.

Its tools call mnemo's HTTP API with one key: a running ``mnemo serve`` over the network (``--url``), or an
app started in this process on a data directory (the command builds that one; see ``mnemo.cli``). While
it serves, the process's stdout carries only MCP messages: the SDK points fd 1 at stderr for everything
else, including what is started inside ``connect`` (the embedded database, the workers).
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager

import httpx
from mcp.server.stdio import stdio_server
from starlette.types import ASGIApp

from mnemo.mcp.api import MnemoApi
from mnemo.mcp.server import Caller, build_server

_SIGNALS = (signal.SIGINT, signal.SIGTERM)


async def serve_stdio(
    connect: Callable[[], AbstractAsyncContextManager[MnemoApi]], *, default_user_id: str | None
) -> int:
    """Serve until stdin closes or a SIGINT/SIGTERM arrives; 0 either way."""
    loop = asyncio.get_running_loop()
    main = asyncio.current_task()
    stopped = False

    def stop() -> None:
        nonlocal stopped
        stopped = True
        if main is not None:
            main.cancel()

    for sig in _SIGNALS:
        loop.add_signal_handler(sig, stop)
    try:
        async with stdio_server() as (read, write), connect() as api:
            caller = Caller(api, api.read_only)
            server = build_server(lambda _ctx: caller, default_user_id=default_user_id)
            await server.run(read, write, server.create_initialization_options())
    except asyncio.CancelledError:
        if not stopped:
            raise
    finally:
        for sig in _SIGNALS:
            with contextlib.suppress(Exception):
                loop.remove_signal_handler(sig)
    return 0


@asynccontextmanager
async def remote_api(url: str, api_key: str) -> AsyncIterator[MnemoApi]:
    """The API of a running ``mnemo serve`` at ``url``."""
    async with httpx.AsyncClient() as client:
        yield MnemoApi(client, url.rstrip("/"), f"Token {api_key}")


@asynccontextmanager
async def in_process_api(app: ASGIApp, api_key: str) -> AsyncIterator[MnemoApi]:
    """The API of an app running in this process."""
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, trust_env=False) as client:
        yield MnemoApi(client, "http://mnemo.invalid", f"Token {api_key}")
