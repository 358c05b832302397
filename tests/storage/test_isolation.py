"""Tenant isolation at the repository level: project A's repositories never see, change or delete project B's
rows, even with the same scopes, texts, keys and ids in hand."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import timedelta

import pytest

from mnemo.domain.events import EventStatus, EventType
from mnemo.domain.memories import MemoryRecord
from mnemo.storage import Database, JobQueue, MemoryPatch, ProjectData, ReadOptions
from tests.storage.support import ALICE, axis, memory, select

pytestmark = pytest.mark.anyio

ALICE_ONLY = {"user_id": "alice"}


@dataclass
class Tenant:
    data: ProjectData
    old: MemoryRecord
    new: MemoryRecord
    event: uuid.UUID
    export: uuid.UUID


async def populate(data: ProjectData) -> Tenant:
    """The same rows in any project: two memories of alice (the older superseded), an event, a key, an export."""
    async with data.transaction() as tables:
        old, new = await tables.memories.insert(
            [memory("Alice works at Acme in Boston."), memory("Alice works at Globex in Boston.")],
            event_id=None,
            input_messages=None,
        )
        await tables.memories.supersede([old.id], new.id)
        event = await tables.events.create(
            event_type=EventType.ADD,
            status=EventStatus.FAILED,
            payload={"messages": "Alice works at Globex.", "user_id": "alice"},
            scope=ALICE,
        )
        assert await tables.idempotency.claim("same-key", "add", data.project_id) is None
        await tables.idempotency.store_response("same-key", {"project": data.project_id})
        export = await tables.exports.insert(
            scope=ALICE, schema={}, filters=ALICE_ONLY, export_instructions=None, memory_ids=[new.id], result={}
        )
    return Tenant(data, old, new, event, export)


@pytest.fixture
async def a(project: ProjectData) -> Tenant:
    return await populate(project)


@pytest.fixture
async def b(other_project: ProjectData) -> Tenant:
    return await populate(other_project)


async def test_reads_see_only_their_own_project(a: Tenant, b: Tenant) -> None:
    async with a.data.reading() as tables:
        assert await tables.memories.get(b.new.id) is None
        total, records = await tables.memories.page(select(ALICE_ONLY), ReadOptions(), offset=0, limit=100)
        assert {r.id for r in records} == {a.old.id, a.new.id} and total == 2
        assert await tables.memories.superseded_chain(b.new.id) == [b.new.id], "b's links are not followed"
        _, entities = await tables.entities.page(offset=0, limit=100)
        assert [(e.kind, e.name, e.total_memories) for e in entities] == [("user", "alice", 2)]
        assert await tables.history.of_memory(b.old.id) == []
        assert await tables.events.get(b.event) is None
        total_events, events = await tables.events.page(offset=0, limit=100)
        assert (total_events, [e.id for e in events]) == (1, [a.event])
        assert len(await tables.events.recent_adds(ALICE, None, limit=10)) == 1
        assert await tables.exports.latest(b.export, None) is None
        latest = await tables.exports.latest(None, select(ALICE_ONLY))
        assert latest is not None and latest.id == a.export
        assert (await tables.project.get()).id == a.data.project_id


async def test_search_legs_see_only_their_own_project(a: Tenant, b: Tenant) -> None:
    async with a.data.reading() as tables:
        nearest = await tables.search.nearest(axis(0), select(ALICE_ONLY), ReadOptions(), limit=10)
        keywords = await tables.search.keyword_matches("Boston", select(ALICE_ONLY), ReadOptions())
        by_id = await tables.search.candidates_by_id([a.new.id, b.new.id, b.old.id], axis(0))
    assert {c.id for c in nearest} == {a.old.id, a.new.id}
    assert {m[0] for m in keywords.matches} == {str(a.old.id), str(a.new.id)}
    assert keywords.documents == 2
    assert [c.id for c in by_id] == [a.new.id]


async def test_idempotency_keys_are_per_project(a: Tenant, b: Tenant) -> None:
    async with a.data.transaction() as tables:
        assert await tables.idempotency.claim("same-key", "add", "x") == (
            a.data.project_id,
            {"project": a.data.project_id},
        )
    async with b.data.transaction() as tables:
        assert await tables.idempotency.claim("same-key", "add", "x") == (
            b.data.project_id,
            {"project": b.data.project_id},
        )
        assert await tables.idempotency.claim("fresh-key", "add", "x") is None
    async with a.data.transaction() as tables:
        assert await tables.idempotency.claim("fresh-key", "add", "y") is None, "b's new key is not a's"


async def test_writes_never_reach_another_project(a: Tenant, b: Tenant) -> None:
    async with a.data.transaction() as tables:
        assert await tables.memories.get(b.new.id, lock=True) is None
        # Even a record of b's in hand (a caller that never got it from a's repositories) updates nothing.
        with pytest.raises(AssertionError):
            await tables.memories.update(b.new, MemoryPatch(metadata={"hacked": True}, set_metadata=True))
    async with a.data.transaction() as tables:
        # An older memory of b's, linked to a's current one; a's old one linked to b's current one.
        assert await tables.memories.supersede([b.new.id], a.new.id) == 0
        (fresh,) = await tables.memories.insert([memory("Alice works at Initech.")], event_id=None, input_messages=None)
        assert await tables.memories.supersede([fresh.id], b.new.id) == 0
        # A delete naming b's ids (and b's scope, which is also a's) deletes only a's rows.
        deleted = await tables.memories.delete(
            select({"user_id": "alice", "memory_ids": [str(b.new.id), str(b.old.id)]})
        )
        assert deleted == []
        assert set(await tables.memories.delete(select(ALICE_ONLY))) == {a.old.id, a.new.id, fresh.id}

    async with b.data.reading() as tables:
        total, records = await tables.memories.page(select(ALICE_ONLY), ReadOptions(), offset=0, limit=100)
        history = await tables.history.of_memory(b.new.id)
        export = await tables.exports.latest(b.export, None)
    assert total == 2
    assert {(r.id, r.memory, r.metadata, r.replaced_by) for r in records} == {
        (b.old.id, b.old.memory, None, b.new.id),
        (b.new.id, b.new.memory, None, None),
    }
    assert [(h.event, h.new_memory) for h in history] == [("ADD", b.new.memory)], "b's history is untouched"
    assert export is not None, "a's deletes drop only a's exports"


async def test_retrying_a_failed_event_names_its_project(db: Database, a: Tenant, b: Tenant) -> None:
    queue = JobQueue(db, "isolation-test", lease=timedelta(seconds=30))
    assert await queue.retry_failed(b.event, project_id=a.data.project_id) is None
    async with b.data.reading() as tables:
        event = await tables.events.get(b.event)
    assert event is not None and event.status is EventStatus.FAILED
    assert (await queue.retry_failed(b.event, project_id=b.data.project_id)).status is EventStatus.PENDING
