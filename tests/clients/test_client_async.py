"""The official ``mem0ai`` 2.2.1 AsyncMemoryClient drives the memory methods against mnemo."""

from __future__ import annotations

import asyncio
import os
import uuid
from pathlib import Path
from typing import Any

import pytest

from testkit.server import MnemoServer, wait_event


@pytest.fixture(scope="module", autouse=True)
def mem0_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("mem0home-async")
    os.environ["MEM0_DIR"] = str(path)
    return path


def test_bad_key_fails_at_construction(server: MnemoServer) -> None:
    from mem0 import AsyncMemoryClient

    with pytest.raises(ValueError, match="Invalid API key"):
        AsyncMemoryClient(api_key="m0-wrong", host=server.url)


def test_async_client_round_trip(server: MnemoServer) -> None:
    asyncio.run(_round_trip(server))


async def _round_trip(server: MnemoServer) -> None:
    from mem0 import AsyncMemoryClient
    from mem0.exceptions import MemoryNotFoundError, ValidationError

    user = f"async-{uuid.uuid4().hex[:8]}"
    async with AsyncMemoryClient(api_key=server.api_key, host=server.url) as client:
        queued = await client.add([{"role": "user", "content": "I teach yoga on Tuesdays."}], user_id=user)
        assert queued["status"] == "PENDING"
        event = await asyncio.to_thread(wait_event, server, queued["event_id"])
        assert event["status"] == "SUCCEEDED" and event["results"]

        stored = await client.add([{"role": "user", "content": "My sister lives in Oslo."}], user_id=user, infer=False)
        memory_id = stored["results"][0]["id"]
        found = await client.search("Where does the sister live?", filters={"user_id": user})
        assert found["results"][0]["id"] == memory_id

        listed: dict[str, Any] = await client.get_all(filters={"user_id": user}, page=1, page_size=10)
        assert listed["count"] == 1 + len(event["results"])
        await client.update(memory_id, text="My sister lives in Bergen.")
        assert (await client.get(memory_id))["memory"] == "My sister lives in Bergen."
        assert [h["event"] for h in await client.history(memory_id)] == ["ADD", "UPDATE"]
        assert user in [e["name"] for e in (await client.users())["results"]]
        await client.batch_update([{"memory_id": memory_id, "metadata": {"checked": True}}])
        assert (await client.get(memory_id))["metadata"] == {"checked": True}

        with pytest.raises(ValidationError):
            await client.add([{"role": "user", "content": "no scope"}])
        await client.delete(memory_id)
        with pytest.raises(MemoryNotFoundError):
            await client.get(memory_id)
        await client.delete_all(user_id=user)
        assert (await client.get_all(filters={"user_id": user}))["count"] == 0
        second = await client.add([{"role": "user", "content": "I own a kayak."}], user_id=user, infer=False)
        await client.batch_delete([{"memory_id": second["results"][0]["id"]}])
        await client.add([{"role": "user", "content": "I own a canoe."}], user_id=user, infer=False)
        await client.delete_users(user_id=user)
        assert (await client.get_all(filters={"user_id": user}))["count"] == 0
