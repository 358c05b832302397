"""MCP for mnemo: the tools of Mem0's hosted MCP server over streamable HTTP (``/mcp`` on ``mnemo serve``) and
stdio (``mnemo mcp``). One implementation serves both: every tool is a call to mnemo's own HTTP API with the
caller's key (see :mod:`mnemo.mcp.api`), so the MCP server never reaches past the API."""

from __future__ import annotations

from mnemo.mcp.endpoint import install
from mnemo.mcp.stdio import in_process_api, remote_api, serve_stdio
from mnemo.mcp.tools import TOOLS

__all__ = ["TOOLS", "in_process_api", "install", "remote_api", "serve_stdio"]
