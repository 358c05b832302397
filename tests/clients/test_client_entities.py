"""Entities, summaries, feedback and profiles through the official ``mem0ai`` 2.2.1 clients (sync and async)."""

from __future__ import annotations

import asyncio
import os
import uuid
from collections.abc import Iterator
from typing import Any

import pytest

from testkit.server import MnemoServer


@pytest.fixture(scope="module")
def client(server: MnemoServer, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    os.environ["MEM0_DIR"] = str(tmp_path_factory.mktemp("mem0home-entities"))
    from mem0 import MemoryClient

    yield MemoryClient(api_key=server.api_key, host=server.url)


def _name(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def _add(client: Any, *texts: str, **scope: str) -> list[str]:
    result = client.add([{"role": "user", "content": text} for text in texts], infer=False, **scope)
    return [item["id"] for item in result["results"]]


def _listed(client: Any) -> dict[tuple[str, str], int]:
    return {(e["type"], e["name"]): e["total_memories"] for e in client.users()["results"]}


def test_an_entity_outlives_delete_all_until_the_entity_is_deleted(client: Any) -> None:
    """Mem0's MCP server (delete_all_memories, then delete_entities) and CLI (entity delete) flows."""
    from mem0.exceptions import MemoryNotFoundError

    user, agent = _name("user"), _name("agent")
    _add(client, "I play chess.", user_id=user)
    (agent_memory,) = _add(client, "The agent speaks French.", agent_id=agent)

    client.delete_all(user_id=user)
    client.delete(agent_memory)
    assert {(("user", user)), ("agent", agent)} <= set(_listed(client)), "kept with no memories"
    assert _listed(client)[("user", user)] == 0

    assert client.delete_users(user_id=user) == {"message": "Entity deleted successfully."}
    assert client.delete_users(agent_id=agent) == {"message": "Entity deleted successfully."}
    assert not {("user", user), ("agent", agent)} & set(_listed(client))
    with pytest.raises(MemoryNotFoundError, match="never written to, or deleted"):
        client.delete_users(user_id=user)


def test_one_entity_and_the_stats(client: Any) -> None:
    user = _name("user")
    _add(client, "I like tea.", "I like jazz.", user_id=user)
    one = client.client.get(f"/v2/entities/user/{user}/").json()
    assert (one["name"], one["type"], one["total_memories"]) == (user, "user", 2)
    assert client.client.get(f"/v2/entities/user/{_name('nobody')}/").status_code == 404
    stats = client.client.get("/v1/stats/").json()
    assert stats["total_memories"] >= 2 and stats["total_users"] >= 1
    assert stats["total_entities"] == sum(stats["entities"].values())


def test_entities_page_as_the_js_client_asks(client: Any, server: MnemoServer) -> None:
    for _ in range(3):
        _add(client, "Paged.", run_id=_name("run"))
    first = client.client.get("/v1/entities/", params={"page": 1, "page_size": 2}).json()
    assert len(first["results"]) == 2 and first["count"] == sum(
        first[f"total_{k}s"] for k in ("user", "agent", "app", "run")
    )
    assert first["previous"] is None and first["next"].startswith(server.url)
    second = client.client.get(first["next"].removeprefix(server.url)).json()
    assert second["previous"] is not None
    assert not {e["id"] for e in first["results"]} & {e["id"] for e in second["results"]}
    assert client.client.get("/v1/entities/", params={"page_size": 0}).status_code == 400


def test_feedback_hides_very_negative_and_demotes_negative_in_search(client: Any) -> None:
    from mem0.exceptions import MemoryNotFoundError

    user = _name("user")
    lives, moved = _add(client, "I live in Berlin.", "I moved to Berlin in 2020 and live there.", user_id=user)

    def scores() -> dict[str, float]:
        found = client.search("Where do I live?", filters={"user_id": user}, threshold=0)
        return {hit["id"]: hit["score"] for hit in found["results"]}

    before = scores()
    assert set(before) == {lives, moved}
    answer = client.feedback(lives, "very_negative", "I moved away")
    assert answer == {"id": lives, "feedback": "VERY_NEGATIVE", "feedback_reason": "I moved away"}
    assert set(scores()) == {moved}, "a VERY_NEGATIVE memory is left out of search"
    shown = client.get(lives)
    assert (shown["memory"], shown["feedback"], shown["feedback_reason"]) == (
        "I live in Berlin.",
        "VERY_NEGATIVE",
        "I moved away",
    ), "get still shows it, with its feedback"

    client.feedback(lives, "NEGATIVE")
    demoted = scores()
    assert demoted[lives] < before[lives] and demoted[moved] == pytest.approx(before[moved])
    client.feedback(lives)  # null clears it
    assert scores()[lives] == pytest.approx(before[lives])
    assert "feedback" not in client.get(lives) and "feedback" not in client.get(moved)

    with pytest.raises(MemoryNotFoundError):
        client.feedback(str(uuid.uuid4()), "POSITIVE")
    bad = client.client.post("/v1/feedback/", json={"memory_id": lives, "feedback": "MEH"})
    assert bad.status_code == 400 and "POSITIVE" in bad.json()["detail"]


def test_summary_groups_the_current_memories(client: Any) -> None:
    user = _name("user")
    _add(client, "I love sushi.", "I am vegetarian.", "I play the guitar.", user_id=user)
    summary = client.get_summary(filters={"user_id": user})
    assert summary["total_memories"] == 3 and summary["generated_by"] == "offline"
    shown = {m["memory"] for section in summary["sections"] for m in section["memories"]}
    assert shown == {"I love sushi.", "I am vegetarian.", "I play the guitar."}
    assert "sushi" in summary["summary"]
    assert client.get_summary()["total_memories"] >= 3, "no filters: the whole project"
    empty = client.get_summary(filters={"user_id": _name("nobody")})
    assert (empty["total_memories"], empty["sections"]) == (0, [])


def test_profiles_from_settings_to_a_generated_profile(client: Any) -> None:
    from mem0.exceptions import MemoryNotFoundError, ValidationError

    user = _name("user")
    _add(client, f"{user.title()} lives in Lisbon.", "I love hiking in the mountains.", user_id=user)
    schema = {
        "type": "object",
        "properties": {
            "location": {"type": "string", "description": "where they live"},
            "hobbies": {"type": "array", "description": "what they do for fun"},
        },
    }
    settings = client.update_profile_settings(enabled=True, schema=schema, custom_instructions="Be brief.")
    assert settings["entities"]["user"] == {"schema": schema, "custom_instructions": "Be brief."}
    assert client.get_profile_settings() == settings
    assert client.get_profile(user)["status"] == "pending"

    key = uuid.uuid4().hex
    job = client.generate_profile(user, idempotency_key=key)
    assert (job["status"], job["entity_ids"], job["replayed"]) == ("succeeded", [user], False)
    status = client.get_profile_job(job["status_url"])["job"]
    assert (status["total"], status["succeeded"], status["completed"]) == (1, 1, 1)
    assert client.get_profile_job(job["job_id"]) == client.get_profile_job(job["status_url"])
    again = client.generate_profile(user, idempotency_key=key)
    assert (again["job_id"], again["replayed"]) == (job["job_id"], True)

    profile = client.get_profile(user)
    assert (profile["status"], profile["generation_count"], profile["generated_by"]) == ("succeeded", 1, "offline")
    assert profile["profile"]["location"] == "Lisbon"
    sampled = client.sample_profiles(limit=1)
    assert sampled["sampled"] == 1 and len(sampled["entity_ids"]) == 1

    with pytest.raises(MemoryNotFoundError):
        client.get_profile(_name("nobody"))
    with pytest.raises(MemoryNotFoundError):
        client.generate_profile(_name("nobody"))
    with pytest.raises(ValidationError, match="description"):
        client.update_profile_settings(schema={"type": "object", "properties": {"x": {"type": "string"}}})
    client.update_profile_settings(enabled=False, schema=None)
    try:
        with pytest.raises(ValidationError, match="not enabled"):
            client.generate_profile(user)
        assert client.get_profile_settings()["entities"]["user"]["schema"] is None
    finally:
        client.update_profile_settings(enabled=True)


def test_a_deleted_memory_takes_its_users_profile_with_it(client: Any) -> None:
    user = _name("user")
    first, _ = _add(client, "I drink coffee.", "I cycle to work.", user_id=user)
    client.generate_profile(user)
    assert client.get_profile(user)["status"] == "succeeded"
    client.delete(first)
    forgotten = client.get_profile(user)
    assert (forgotten["status"], forgotten["profile"]) == ("pending", {})


def test_the_async_client_reaches_the_same_routes(server: MnemoServer, client: Any) -> None:
    user = _name("user")
    _add(client, "I keep bees.", user_id=user)
    asyncio.run(_async_round_trip(server, user))


async def _async_round_trip(server: MnemoServer, user: str) -> None:
    from mem0 import AsyncMemoryClient

    async with AsyncMemoryClient(api_key=server.api_key, host=server.url) as client:
        (memory,) = (await client.get_all(filters={"user_id": user}))["results"]
        assert (await client.feedback(memory["id"], "POSITIVE"))["feedback"] == "POSITIVE"
        assert (await client.get_summary(filters={"user_id": user}))["total_memories"] == 1
        job = await client.generate_profile(user)
        assert (await client.get_profile_job(job["status_url"]))["job"]["status"] == "succeeded"
        assert (await client.get_profile(user))["status"] == "succeeded"
        await client.delete_all(user_id=user)
        assert user in [e["name"] for e in (await client.users())["results"]]
        await client.delete_users(user_id=user)
        assert user not in [e["name"] for e in (await client.users())["results"]]
