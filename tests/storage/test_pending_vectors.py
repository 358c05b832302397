"""The queue of final vectors (``MNEMO_EMBEDDING_CONTEXT=deferred``): queued with the memory, claimed for a lease,
stored unless the memory was rewritten, gone with the memory.

The queue is deployment-wide, so each test gets a fresh database of its own.
"""

from __future__ import annotations

import asyncio
import dataclasses
import uuid

import pytest

from mnemo.domain.memories import index_fields
from mnemo.storage import Database, MemoryPatch, NewMemory, ProjectData
from mnemo.storage.pending_vectors import claim_pending, count_pending, store_final
from mnemo.storage.records import Vector
from tests.storage.support import LONG, SHORT, T0, axis, insert, memory, select

pytestmark = pytest.mark.anyio


@pytest.fixture
def db(fresh_db: Database) -> Database:
    """A fresh database per test (overrides the module-wide one): claims see every project's rows."""
    return fresh_db


def deferred(text: str) -> NewMemory:
    return dataclasses.replace(memory(text), joint_input=f"{text}\nwhat was said before")


async def similarity(data: ProjectData, memory_id: uuid.UUID, vector: Vector) -> float:
    async with data.reading() as tables:
        (candidate,) = await tables.search.candidates_by_id([memory_id], vector)
    return candidate.similarity


async def test_a_queued_vector_is_claimed_once_per_lease_and_stored(db: Database, project: ProjectData) -> None:
    (first, second) = await insert(project, deferred("Alice lives in Paris."), memory("Alice has a cat."))
    assert await insert(project, deferred("Alice lives in Paris.")) == [], "an exact duplicate queues nothing"
    assert await count_pending(db) == 1, "a memory without a joint input is final"
    (claimed,) = await claim_pending(db, limit=10, lease=SHORT)
    assert (claimed.project_id, claimed.memory_id) == (project.project_id, first)
    assert claimed.input == "Alice lives in Paris.\nwhat was said before"
    assert await claim_pending(db, limit=10, lease=LONG) == [], "held while its lease lasts"
    await asyncio.sleep(SHORT.total_seconds() * 2)
    (again,) = await claim_pending(db, limit=10, lease=LONG)
    assert again == claimed, "a lapsed lease lets another worker take it"

    assert await store_final(db, [again], [axis(3)]) == 1
    assert await similarity(project, first, axis(3)) == pytest.approx(1.0, abs=1e-6)
    assert await similarity(project, second, axis(0)) == pytest.approx(1.0, abs=1e-6)
    assert await count_pending(db) == 0


async def test_a_memory_rewritten_or_deleted_meanwhile_keeps_what_it_has(db: Database, project: ProjectData) -> None:
    rewritten, deleted = await insert(project, deferred("Alice lives in Paris."), deferred("Alice has a cat."))
    claimed = await claim_pending(db, limit=10, lease=LONG)
    text = "Alice lives in Berlin."
    async with project.transaction() as tables:
        before = await tables.memories.get(rewritten, lock=True)
        assert before is not None
        index = index_fields(text, speaker=None, observed_at=T0)
        await tables.memories.update(before, MemoryPatch(text=text, index=index, embedding=axis(1)))
        await tables.memories.delete(select({"user_id": "alice", "memory_ids": [str(deleted)]}))
    assert await count_pending(db) == 1, "the deleted memory's row went with it"
    assert await store_final(db, claimed, [axis(3), axis(4)]) == 0
    assert await similarity(project, rewritten, axis(1)) == pytest.approx(1.0, abs=1e-6), "the new text's vector"
    assert await count_pending(db) == 0, "the claimed rows are done with"
