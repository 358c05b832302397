"""MCP with the ``mcp`` client library over both transports, against a real ``mnemo serve``: streamable HTTP at
``/mcp`` and stdio through ``python -m mnemo mcp --url ... --api-key ...``."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from mcp_types.version import MODERN_PROTOCOL_VERSIONS

from testkit.server import MnemoServer, mnemo_env, run_cli, serving, wait_event
from tests.mcp.support import (
    CONNECTIONS,
    READ_TOOLS,
    TRANSPORTS,
    WRITE_TOOLS,
    call,
    connect,
    fails,
    http_client,
    stdio_client,
    tool_names,
)

DEFAULT_USER = "mcp-default-user"


@pytest.fixture(scope="module")
def server(
    module_database_url: str, model_dir: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[MnemoServer]:
    with serving(
        tmp_path_factory.mktemp("mcp"),
        database_url=module_database_url,
        model_dir=model_dir,
        extra_env={"MNEMO_MCP_DEFAULT_USER_ID": DEFAULT_USER},
    ) as running:
        yield running


def _key(server: MnemoServer, *options: str) -> str:
    args = server.process.args
    assert isinstance(args, list)
    env = {**server.env, "MNEMO_DATABASE_URL": str(args[args.index("--database-url") + 1])}
    created = run_cli(["keys", "create", *options], env=env)
    assert created.returncode == 0, created.stderr
    return created.stdout.strip().splitlines()[-1]


@pytest.fixture(scope="module")
def read_only_key(server: MnemoServer) -> str:
    return _key(server, "--read-only", "--name", "mcp reader")


@pytest.fixture(scope="module")
def other_key(server: MnemoServer) -> str:
    return _key(server, "--project", "other-project", "--name", "mcp other")


def _user() -> str:
    return f"u-{uuid.uuid4().hex[:8]}"


@pytest.mark.parametrize(("transport", "mode"), CONNECTIONS)
def test_lists_every_tool_with_schemas(server: MnemoServer, transport: str, mode: str, tmp_path: Path) -> None:
    async def scenario() -> None:
        async with connect(transport, server, server.api_key, tmp_path, mode=mode) as client:
            assert (client.protocol_version in MODERN_PROTOCOL_VERSIONS) == (mode == "auto")
            tools = {tool.name: tool for tool in (await client.list_tools()).tools}
            assert set(tools) == READ_TOOLS | WRITE_TOOLS
            for name, tool in tools.items():
                assert tool.description and tool.input_schema["type"] == "object", name
                assert tool.annotations is not None and tool.annotations.read_only_hint == (name in READ_TOOLS)
            assert tools["search_memories"].input_schema["required"] == ["query"]
            assert tools["update_memory"].input_schema["required"] == ["memory_id", "text"]
            assert {"text", "messages", "user_id", "agent_id", "app_id", "run_id", "metadata"} <= set(
                tools["add_memory"].input_schema["properties"]
            )

    asyncio.run(scenario())


@pytest.mark.parametrize(("transport", "mode"), CONNECTIONS)
def test_every_tool_does_what_the_api_does(server: MnemoServer, transport: str, mode: str, tmp_path: Path) -> None:
    user, agent = _user(), f"agent-{uuid.uuid4().hex[:6]}"

    async def scenario() -> None:
        async with connect(transport, server, server.api_key, tmp_path, mode=mode) as client:
            added = await call(
                client, "add_memory", text="I live in Lisbon.", user_id=user, infer=False, metadata={"src": "mcp"}
            )
            assert added["status"] == "SUCCEEDED" and len(added["results"]) == 1
            memory_id = added["results"][0]["id"]
            await call(client, "add_memory", messages=[{"role": "user", "content": "I like tea."}], agent_id=agent,
                       infer=False)  # fmt: skip

            found = await call(client, "search_memories", query="Where does the user live?", user_id=user, limit=5)
            assert [r["id"] for r in found["results"]] == [memory_id]
            assert "score_breakdown" in found["results"][0]
            listed = await call(client, "get_memories", filters={"user_id": user}, page=1, page_size=10)
            assert listed["count"] == 1 and listed["results"][0]["memory"] == "I live in Lisbon."
            one = await call(client, "get_memory", memory_id=memory_id)
            assert one["user_id"] == user and one["metadata"] == {"src": "mcp"}

            await call(client, "update_memory", memory_id=memory_id, text="I live in Porto.")
            assert (await call(client, "get_memory", memory_id=memory_id))["memory"] == "I live in Porto."

            entities = await call(client, "list_entities")
            names = {(e["type"], e["name"]) for e in entities["results"]}
            assert {("user", user), ("agent", agent)} <= names

            await call(client, "delete_memory", memory_id=memory_id)
            assert "not found" in (await fails(client, "get_memory", memory_id=memory_id)).lower()
            await call(client, "add_memory", text="I have a cat.", user_id=user, infer=False)
            assert (await call(client, "delete_all_memories", user_id=user))["deleted_count"] == 1

            (deleted,) = (await call(client, "delete_entities", agent_id=agent))["deleted"]
            assert (deleted["type"], deleted["name"], deleted["deleted_count"]) == ("agent", agent, 1)
            assert (await call(client, "get_memories", agent_id=agent))["count"] == 0

    asyncio.run(scenario())


@pytest.mark.parametrize("transport", TRANSPORTS)
def test_default_user_and_background_adds(server: MnemoServer, transport: str, tmp_path: Path) -> None:
    """Over HTTP the default user is the server's setting; over stdio, ``--user-id`` of ``mnemo mcp``."""
    user = DEFAULT_USER if transport == "http" else _user()

    async def scenario() -> dict[str, Any]:
        async with connect(transport, server, server.api_key, tmp_path, "--user-id", user) as client:
            queued = await call(client, "add_memory", text="I just moved to San Francisco.")
            assert queued["status"] == "PENDING"
            wait_event(server, queued["event_id"])
            found = await call(client, "search_memories", query="Where do I live?")
            assert any("San Francisco" in r["memory"] and r["user_id"] == user for r in found["results"])
            return await call(client, "get_memories")

    assert asyncio.run(scenario())["count"] >= 1


def test_errors_are_tool_errors_with_the_api_detail(server: MnemoServer, tmp_path: Path) -> None:
    async def scenario() -> None:
        async with connect("stdio", server, server.api_key, tmp_path) as client:  # no default user
            assert "valid UUID" in await fails(client, "get_memory", memory_id="not-a-uuid")
            missing = await fails(client, "get_memory", memory_id=str(uuid.uuid4()))
            assert "not found" in missing.lower()
            assert "user_id" in await fails(client, "search_memories", query="anything")
            assert "Refusing to delete without a scope" in await fails(client, "delete_all_memories")
            assert "Name what to delete" in await fails(client, "delete_entities")
            assert "userid" in await fails(client, "get_memories", userid="typo")
            assert "text" in await fails(client, "add_memory", user_id="x")
            assert len(await tool_names(client)) == 9  # the session survived every error

    asyncio.run(scenario())


@pytest.mark.parametrize(("transport", "mode"), CONNECTIONS)
def test_read_only_key_gets_only_read_tools(
    server: MnemoServer, read_only_key: str, transport: str, mode: str, tmp_path: Path
) -> None:
    user = _user()
    with server.client() as api:
        api.post("/v3/memories/add/", json={"messages": "I live in Oslo.", "user_id": user, "infer": False})

    async def scenario() -> None:
        async with connect(transport, server, read_only_key, tmp_path, mode=mode) as client:
            assert await tool_names(client) == READ_TOOLS
            assert (await call(client, "get_memories", user_id=user))["count"] == 1
            assert "read-only" in await fails(client, "add_memory", text="I live in Rome.", user_id=user)
            assert "read-only" in await fails(client, "delete_all_memories", user_id=user)

    asyncio.run(scenario())
    with server.client() as api:
        assert api.post("/v3/memories/", json={"filters": {"user_id": user}}).json()["count"] == 1


@pytest.mark.parametrize("transport", TRANSPORTS)
def test_another_projects_memories_are_never_visible(
    server: MnemoServer, other_key: str, transport: str, tmp_path: Path
) -> None:
    user = _user()

    async def scenario() -> None:
        async with connect(transport, server, other_key, tmp_path) as other:
            added = await call(other, "add_memory", text="My secret is 42.", user_id=user, infer=False)
            secret = added["results"][0]["id"]
            assert (await call(other, "get_memories", user_id=user))["count"] == 1
        async with connect(transport, server, server.api_key, tmp_path) as mine:
            assert (await call(mine, "search_memories", query="secret", user_id=user))["results"] == []
            everyone = await call(mine, "get_memories", user_id="*", page_size=1000)
            assert all(m["user_id"] != user for m in everyone["results"])
            assert "not found" in (await fails(mine, "get_memory", memory_id=secret)).lower()
            assert "not found" in (await fails(mine, "delete_memory", memory_id=secret)).lower()
            entities = await call(mine, "list_entities")
            assert user not in {e["name"] for e in entities["results"]}
            assert "No user named" in await fails(mine, "delete_entities", user_id=user)

    asyncio.run(scenario())
    with server.client(other_key) as api:
        assert api.post("/v3/memories/", json={"filters": {"user_id": user}}).json()["count"] == 1


def test_http_endpoint_authenticates_like_the_api(server: MnemoServer) -> None:
    ping = {"jsonrpc": "2.0", "id": 1, "method": "ping"}
    headers = {"Accept": "application/json, text/event-stream"}
    missing = httpx.post(f"{server.url}/mcp", json=ping, headers=headers)
    assert missing.status_code == 401 and "Missing API key" in missing.json()["detail"]
    wrong = httpx.post(f"{server.url}/mcp", json=ping, headers={**headers, "Authorization": "Token m0-nope"})
    assert wrong.status_code == 401 and "Invalid API key" in wrong.json()["detail"]
    stream = httpx.get(f"{server.url}/mcp", headers={**headers, **server.headers()}, timeout=10)
    assert stream.status_code == 405  # stateless: no SSE stream to hold open

    async def scenario() -> set[str]:
        async with http_client(server, f"Bearer {server.api_key}") as client:
            return await tool_names(client)

    assert asyncio.run(scenario()) == READ_TOOLS | WRITE_TOOLS


def test_stdio_runs_on_a_data_dir_without_a_server(database_url: str, model_dir: Path, tmp_path: Path) -> None:
    """``mnemo mcp`` without ``--url`` starts the service in its own process (here on a given database) and
    makes sure the key exists, as ``serve`` does with MNEMO_API_KEY; stdout carries nothing but MCP."""
    key = f"m0-local-{uuid.uuid4().hex[:8]}"
    args = ["--data-dir", str(tmp_path / "data"), "--database-url", database_url, "--api-key", key]

    async def scenario() -> None:
        env = mnemo_env(model_dir=model_dir)
        async with stdio_client([*args, "--user-id", "local"], log=tmp_path / "mcp.log", env=env) as client:
            assert await tool_names(client) == READ_TOOLS | WRITE_TOOLS
            added = await call(client, "add_memory", text="I live in Lisbon.", infer=False)
            found = await call(client, "search_memories", query="Where do I live?")
            assert [r["id"] for r in found["results"]] == [added["results"][0]["id"]]
            assert found["results"][0]["user_id"] == "local"

    asyncio.run(scenario())


def test_stdio_needs_a_key() -> None:
    refused = run_cli(["mcp", "--url", "http://127.0.0.1:9"], env=mnemo_env(model_dir=None))
    assert refused.returncode == 2 and "API key" in refused.stderr
