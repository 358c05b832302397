"""The MCP server (the SDK's low-level ``Server``): the tools of :mod:`mnemo.mcp.tools`, listed per caller, run
through the caller's API, their failures returned as tool errors carrying the API's ``detail``.

Both transports use it; they differ only in how a request finds its caller (:data:`CallerLookup`): over
stdio one caller for the process, behind ``/mcp`` the one the endpoint resolved for the HTTP request.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import mcp_types as types
from mcp.server.context import ServerRequestContext
from mcp.server.lowlevel import Server
from mcp.shared.exceptions import MCPError
from pydantic import ValidationError

from mnemo import __version__
from mnemo.mcp.api import ApiError, MnemoApi
from mnemo.mcp.tools import TOOLS, Tool, ToolInputError

logger = logging.getLogger("mnemo.mcp")


@dataclass(frozen=True)
class Caller:
    """Whose request this is: the API as that key sees it, and whether the key only reads."""

    api: MnemoApi
    read_only: Callable[[], Awaitable[bool]]


CallerLookup = Callable[[ServerRequestContext[Any, Any]], Caller]

_INSTRUCTIONS = (
    "mnemo is this agent's long-term memory. Search it (search_memories) before answering anything that may "
    "depend on what the user said in earlier conversations; store durable facts, preferences and decisions "
    "with add_memory. Update or delete a memory only when the user asks, after confirming which one."
)


def build_server(caller: CallerLookup, *, default_user_id: str | None) -> Server[Any]:
    """The MCP server for one transport. ``default_user_id`` scopes calls that name no entity."""
    _quiet_sdk()
    schemas = {name: tool_definition(name, tool) for name, tool in TOOLS.items()}
    instructions = _INSTRUCTIONS
    if default_user_id:
        instructions += f" The default user (for calls that name no user, agent, app or run) is {default_user_id!r}."
    else:
        instructions += " This deployment sets no default user: name a user_id (or agent_id, app_id, run_id)."

    async def list_tools(
        ctx: ServerRequestContext[Any, Any], params: types.PaginatedRequestParams | None
    ) -> types.ListToolsResult:
        read_only = await _read_only(caller(ctx))
        shown = [schemas[name] for name, tool in TOOLS.items() if not (read_only and tool.writes)]
        return types.ListToolsResult(tools=shown)

    async def call_tool(
        ctx: ServerRequestContext[Any, Any], params: types.CallToolRequestParams
    ) -> types.CallToolResult:
        tool = TOOLS.get(params.name)
        if tool is None:
            raise MCPError(types.INVALID_PARAMS, f"Unknown tool {params.name!r}; see tools/list.")
        try:
            arguments = tool.model_validate(params.arguments or {})
        except ValidationError as exc:
            return _error(f"Invalid arguments for {params.name}: {_explain(exc)}", {"error": True, "status": None})
        try:
            answer = await arguments.run(caller(ctx).api, default_user_id)
        except ApiError as exc:
            return _error(exc.detail, exc.as_dict())
        except ToolInputError as exc:
            return _error(str(exc), {"error": True, "status": None, "detail": str(exc)})
        return types.CallToolResult(
            content=[types.TextContent(text=json.dumps(answer, ensure_ascii=False))],
            structured_content=answer if isinstance(answer, dict) else {"results": answer},
        )

    return Server(
        "mnemo",
        version=__version__,
        title="mnemo memory",
        instructions=instructions,
        get_tool_input_schema=lambda name: schemas[name].input_schema if name in schemas else None,
        on_list_tools=list_tools,
        on_call_tool=call_tool,
    )


def _quiet_sdk() -> None:
    """The SDK logs a line per stateless HTTP request at INFO: kept for debugging (MNEMO_LOG_LEVEL=DEBUG)."""
    sdk = logging.getLogger("mcp")
    if sdk.level == logging.NOTSET and logging.getLogger().getEffectiveLevel() > logging.DEBUG:
        sdk.setLevel(logging.WARNING)


async def _read_only(caller: Caller) -> bool:
    """A key the API refuses (401) is an error for the client to show; if the API cannot be reached, or
    refuses for another reason, every tool is listed and each call will say why it fails."""
    try:
        return await caller.read_only()
    except ApiError as exc:
        if exc.status == 401:
            raise MCPError(types.INVALID_REQUEST, exc.detail) from None
        logger.warning("could not check the API key (%s); listing every tool", exc.detail)
        return False


def _error(detail: str, structured: dict[str, Any]) -> types.CallToolResult:
    structured.setdefault("detail", detail)
    return types.CallToolResult(content=[types.TextContent(text=detail)], structured_content=structured, is_error=True)


def _explain(exc: ValidationError) -> str:
    parts = []
    for error in exc.errors(include_url=False):
        where = ".".join(str(part) for part in error["loc"]) or "arguments"
        parts.append(f"{where}: {error['msg']}")
    return "; ".join(parts)


def tool_definition(name: str, tool: type[Tool]) -> types.Tool:
    """A tool as ``tools/list`` shows it: its description, the JSON schema of its arguments, and hints."""
    description = " ".join((tool.__doc__ or name).split())
    return types.Tool(
        name=name,
        description=description,
        input_schema={k: v for k, v in _plain_schema(tool.model_json_schema()).items() if k != "description"},
        annotations=types.ToolAnnotations(
            title=name.replace("_", " ").capitalize(),
            read_only_hint=not tool.writes,
            destructive_hint=tool.destructive if tool.writes else None,
            idempotent_hint=tool.idempotent if tool.writes else None,
            open_world_hint=False,
        ),
    )


def _plain_schema(schema: Any) -> Any:
    """pydantic's schema made easier on models and older clients: no titles, and an optional ``X | None``
    shown as ``X`` (leaving the argument out is how to say "none")."""
    if isinstance(schema, list):
        return [_plain_schema(item) for item in schema]
    if not isinstance(schema, dict):
        return schema
    plain = {
        key: _plain_schema(value) for key, value in schema.items() if not (key == "title" and isinstance(value, str))
    }
    options = plain.get("anyOf")
    if isinstance(options, list) and {"type": "null"} in options and len(options) == 2:
        (kept,) = [option for option in options if option != {"type": "null"}]
        del plain["anyOf"]
        if plain.get("default", ...) is None:
            del plain["default"]
        plain = {**kept, **plain}
    return plain
