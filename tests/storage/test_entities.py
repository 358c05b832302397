"""Entities as records, feedback and profiles at the repository level: what creates, keeps and removes them."""

from __future__ import annotations

import dataclasses
import uuid

import pytest

from mnemo.domain.memories import Scope
from mnemo.storage import KeptMemory, ProjectData
from tests.storage.support import BOB, insert, memory, minutes, select

pytestmark = pytest.mark.anyio


async def _names(data: ProjectData) -> list[tuple[str, str, int]]:
    async with data.reading() as tables:
        _, entities = await tables.entities.page(offset=0, limit=100)
    return [(e.kind, e.name, e.total_memories) for e in entities]


async def test_the_first_memory_under_an_entity_records_it_newest_first_with_counts(project: ProjectData) -> None:
    await insert(project, memory("One.", created_at=minutes(0)), memory("Two.", created_at=minutes(1)))
    await insert(project, memory("Three.", scope=Scope(user_id="alice", agent_id="helper", run_id="r1")))
    await insert(project, memory("Four.", scope=BOB), memory("Five.", scope=Scope(app_id="shop")))
    assert await _names(project) == [
        ("app", "shop", 1),
        ("user", "bob", 1),
        ("run", "r1", 1),
        ("agent", "helper", 1),
        ("user", "alice", 3),
    ]
    async with project.reading() as tables:
        totals, first_two = await tables.entities.page(offset=0, limit=2)
        assert totals == {"user": 2, "agent": 1, "app": 1, "run": 1}
        assert [e.name for e in first_two] == ["shop", "bob"]
        _, rest = await tables.entities.page(offset=4, limit=2)
        assert [e.name for e in rest] == ["alice"]
        alice = await tables.entities.get("user", "alice")
        assert alice is not None and alice.total_memories == 3
        assert await tables.entities.get_by_id("user", alice.id) == alice
        assert await tables.entities.get_by_id("agent", alice.id) is None, "the id is of a user"
        assert await tables.entities.get("agent", "alice") is None


async def test_an_entity_outlives_its_memories_until_it_is_deleted(project: ProjectData) -> None:
    await insert(project, memory("I like tea."), memory("I run.", scope=BOB))
    async with project.transaction() as tables:
        assert len(await tables.memories.delete(select({"user_id": "alice"}))) == 1
    assert ("user", "alice", 0) in await _names(project)
    async with project.transaction() as tables:
        assert await tables.entities.delete("user", "alice") is True
        assert await tables.entities.delete("user", "alice") is False
        assert await tables.entities.delete("user", "nobody") is False
    assert await _names(project) == [("user", "bob", 1)]
    await insert(project, memory("I like coffee."))
    assert ("user", "alice", 1) in await _names(project), "writing again records it again"


async def test_an_imported_memory_records_its_entities_too(project: ProjectData) -> None:
    kept = KeptMemory(
        id=uuid.uuid4(), memory=memory("Imported.", scope=Scope(agent_id="old-bot")), updated_at=minutes(9)
    )
    async with project.transaction() as tables:
        assert len(await tables.memories.insert_kept([kept])) == 1
    assert await _names(project) == [("agent", "old-bot", 1)]


async def test_entities_and_stats_stay_in_their_project(project: ProjectData, other_project: ProjectData) -> None:
    await insert(project, memory("Mine."))
    await insert(other_project, memory("Theirs."), memory("Also theirs.", scope=BOB))
    assert await _names(project) == [("user", "alice", 1)]
    async with project.reading() as tables:
        stats = await tables.entities.stats()
    assert (stats.total_memories, stats.entities["user"], stats.add_requests) == (1, 1, 0)


async def test_feedback_latest_wins_clears_and_goes_with_its_memory(project: ProjectData) -> None:
    first, second = await insert(project, memory("I like tea."), memory("I like jazz."))
    async with project.transaction() as tables:
        assert await tables.feedback.give(first, "NEGATIVE", "wrong") is True
        assert await tables.feedback.give(first, "VERY_NEGATIVE", "very wrong") is True
        assert await tables.feedback.give(second, "POSITIVE", None) is True
        assert await tables.feedback.give(uuid.uuid4(), "POSITIVE", None) is False
    async with project.reading() as tables:
        given = await tables.feedback.of([first, second])
        assert (given[first].feedback, given[first].reason) == ("VERY_NEGATIVE", "very wrong")
        assert (await tables.entities.stats()).feedback == {"POSITIVE": 1, "NEGATIVE": 0, "VERY_NEGATIVE": 1}
    async with project.transaction() as tables:
        assert await tables.feedback.give(second, None, None) is True
        await tables.memories.delete(select({"user_id": "alice", "memory_ids": [str(first)]}))
    async with project.reading() as tables:
        assert await tables.feedback.of([first, second]) == {}


async def test_feedback_of_another_projects_memory_is_refused(project: ProjectData, other_project: ProjectData) -> None:
    (theirs,) = await insert(other_project, memory("Theirs."))
    async with project.transaction() as tables:
        assert await tables.feedback.give(theirs, "NEGATIVE", None) is False
    async with other_project.reading() as tables:
        assert await tables.feedback.of([theirs]) == {}


async def test_a_profile_is_forgotten_when_a_memory_of_its_user_is_deleted(project: ProjectData) -> None:
    tea, _ = await insert(project, memory("I like tea."), memory("I like jazz."))
    await insert(project, memory("Bob runs.", scope=BOB))
    async with project.transaction() as tables:
        assert await tables.profiles.write("alice", {"facts": {"drink": "tea"}}, by="offline", error=None)
        assert await tables.profiles.write("bob", {"facts": {}}, by="offline", error=None)
        assert not await tables.profiles.write("carol", {}, by="offline", error=None), "no such user"
        assert await tables.profiles.sample_users(5) == ["alice", "bob"]
    async with project.transaction() as tables:
        await tables.memories.delete(select({"user_id": "alice", "memory_ids": [str(tea)]}))
    async with project.reading() as tables:
        alice, bob = await tables.profiles.profile("alice"), await tables.profiles.profile("bob")
        assert alice is not None and alice.profile is None and alice.generations == 1
        assert bob is not None and bob.profile == {"facts": {}}
        assert await tables.profiles.profile("carol") is None


async def test_profile_settings_default_on_and_jobs_record_their_counts(project: ProjectData) -> None:
    async with project.transaction() as tables:
        settings = await tables.profiles.settings()
        assert (settings.enabled, settings.schema, settings.custom_instructions) == (True, None, None)
        job = await tables.profiles.create_job("sample", "user", ["alice", "bob"])
        await tables.profiles.finish_job(job, succeeded=0, failed=2, skipped=0, error="boom")
    async with project.reading() as tables:
        found = await tables.profiles.job(job)
        assert found is not None and (found.status, found.failed, found.error) == ("failed", 2, "boom")
        assert found.entity_ids == ["alice", "bob"] and found.completed_at is not None
        assert await tables.profiles.job(uuid.uuid4()) is None


async def test_profiles_and_jobs_stay_in_their_project(project: ProjectData, other_project: ProjectData) -> None:
    await insert(project, memory("Mine."))
    await insert(other_project, memory("Theirs."))
    async with other_project.transaction() as tables:
        assert await tables.profiles.write("alice", {"facts": {"theirs": "yes"}}, by="offline", error=None)
        theirs = await tables.profiles.create_job("trigger", "user", ["alice"])
        await tables.profiles.save_settings(dataclasses.replace(await tables.profiles.settings(), enabled=False))
    async with project.reading() as tables:
        mine = await tables.profiles.profile("alice")
        assert mine is not None and mine.profile is None
        assert await tables.profiles.job(theirs) is None
        assert (await tables.profiles.settings()).enabled is True
