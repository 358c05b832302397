"""Connecting the ``mcp`` client library to mnemo over both transports."""

from __future__ import annotations

import json
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import httpx2
from mcp import Client, StdioServerParameters
from mcp.client.stdio import stdio_client as stdio_transport
from mcp.client.streamable_http import streamable_http_client
from mcp_types import CallToolResult

from testkit.server import MnemoServer, mnemo_env

TRANSPORTS = ("http", "stdio")
#: (transport, protocol negotiation): "auto" (the client's default: 2026-07-28 when the server speaks it, as
#: mnemo's does) and "legacy" (the initialize handshake of the 2025 versions that most agents speak today).
CONNECTIONS = [(transport, mode) for transport in TRANSPORTS for mode in ("auto", "legacy")]
READ_TOOLS = {"search_memories", "get_memories", "get_memory", "list_entities"}
WRITE_TOOLS = {"add_memory", "update_memory", "delete_memory", "delete_all_memories", "delete_entities"}


@asynccontextmanager
async def http_client(server: MnemoServer, authorization: str, mode: str = "auto") -> AsyncIterator[Client]:
    """An MCP client of ``/mcp`` on ``server``, sending this ``Authorization`` header."""
    http = httpx2.AsyncClient(headers={"Authorization": authorization}, timeout=httpx2.Timeout(30, read=120))
    async with http, Client(streamable_http_client(f"{server.url}/mcp", http_client=http), mode=mode) as client:
        yield client


@asynccontextmanager
async def stdio_client(
    args: list[str], *, log: Path, env: dict[str, str] | None = None, mode: str = "auto"
) -> AsyncIterator[Client]:
    """An MCP client of ``python -m mnemo mcp ARGS`` (its stderr appended to ``log``)."""
    parameters = StdioServerParameters(
        command=sys.executable, args=["-m", "mnemo", "mcp", *args], env=env or mnemo_env(model_dir=None)
    )
    with log.open("a") as errlog:
        async with Client(stdio_transport(parameters, errlog=errlog), read_timeout_seconds=120, mode=mode) as client:
            yield client


@asynccontextmanager
async def connect(
    transport: str, server: MnemoServer, key: str, log_dir: Path, *extra: str, mode: str = "auto"
) -> AsyncIterator[Client]:
    """A client of ``server`` with ``key`` over ``transport`` ("http", or "stdio" with ``extra`` arguments)."""
    if transport == "http":
        async with http_client(server, f"Token {key}", mode) as client:
            yield client
    else:
        args = ["--url", server.url, "--api-key", key, *extra]
        async with stdio_client(args, log=log_dir / "mcp.log", mode=mode) as client:
            yield client


async def tool_names(client: Client) -> set[str]:
    return {tool.name for tool in (await client.list_tools()).tools}


async def call(client: Client, name: str, **arguments: Any) -> dict[str, Any]:
    """A tool's answer (its JSON text, decoded); the call must succeed."""
    result = await client.call_tool(name, arguments)
    assert not result.is_error, f"{name} failed: {_text(result)}"
    answer: dict[str, Any] = json.loads(_text(result))
    assert result.structured_content == answer or result.structured_content == {"results": answer}
    return answer


async def fails(client: Client, name: str, **arguments: Any) -> str:
    """A tool's error text; the call must fail as a tool error (not a protocol error)."""
    result = await client.call_tool(name, arguments)
    assert result.is_error, f"{name} succeeded: {_text(result)}"
    return _text(result)


def _text(result: CallToolResult) -> str:
    return "".join(getattr(block, "text", "") for block in result.content)
