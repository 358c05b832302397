"""The task that computes queued final vectors (``MNEMO_EMBEDDING_CONTEXT=deferred``) waits for an idle process."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import time
import uuid
from collections.abc import AsyncIterator

import pytest

from mnemo.activity import Activity
from mnemo.providers.embedding.batcher import EmbeddingBatcher
from mnemo.storage import Database, ProjectData
from mnemo.storage.pending_vectors import count_pending
from mnemo.storage.records import Vector
from mnemo.worker.final_vectors import FinalVectors
from tests.storage.support import insert, memory

pytestmark = pytest.mark.anyio

JOINT = "Caroline: Biscuit, after my favourite snack.\nMelanie: That's wonderful! What did you call her?"


async def _queue_one(
    project: ProjectData, batcher: EmbeddingBatcher, text: str = "Biscuit."
) -> tuple[uuid.UUID, Vector]:
    """A memory stored with its quick vector and its joint input queued: its id and the quick vector."""
    quick = (await batcher.embed(["Caroline: Biscuit, after my favourite snack."]))[0]
    (memory_id,) = await insert(project, dataclasses.replace(memory(text, vector=quick), joint_input=JOINT))
    return memory_id, quick


async def _until_computed(db: Database) -> None:
    deadline = time.monotonic() + 10
    while await count_pending(db) and time.monotonic() < deadline:
        await asyncio.sleep(0.05)


@contextlib.asynccontextmanager
async def _running(final: FinalVectors) -> AsyncIterator[None]:
    """``final`` runs for the block, and has stopped when it ends."""
    stop = asyncio.Event()
    task = asyncio.create_task(final.run(stop))
    try:
        yield
    finally:
        stop.set()
        await task


async def test_final_vectors_are_computed_only_once_the_process_is_idle(
    db: Database, project: ProjectData, batcher: EmbeddingBatcher
) -> None:
    memory_id, quick = await _queue_one(project, batcher)
    activity = Activity()
    final = FinalVectors(db, batcher, activity, idle_seconds=0.1, poll_seconds=0.05)
    async with _running(final):
        with activity.working():
            await asyncio.sleep(0.5)
            assert await count_pending(db) == 1, "a request in progress: nothing computed"
        await _until_computed(db)
    assert final.stored == 1
    joint = (await batcher.embed([JOINT]))[0]
    async with project.reading() as tables:
        (candidate,) = await tables.search.candidates_by_id([memory_id], joint)
    assert candidate.similarity == pytest.approx(1.0, abs=1e-5)
    assert float(quick @ joint) < 0.99, "the two vectors differ, or this test could not fail"


async def test_under_steady_traffic_an_overdue_input_is_computed_anyway(
    db: Database, project: ProjectData, batcher: EmbeddingBatcher
) -> None:
    """A process that is never idle still computes what has waited ``overdue_seconds``, one input at a time."""
    await _queue_one(project, batcher)
    activity = Activity()
    final = FinalVectors(db, batcher, activity, idle_seconds=0.1, poll_seconds=0.05, overdue_seconds=1.0)
    with activity.working():
        async with _running(final):
            await asyncio.sleep(0.5)
            assert await count_pending(db) == 1, "not overdue yet"
            await _until_computed(db)
    assert final.stored == 1


async def test_a_brief_idle_moment_is_used_one_input_at_a_time(
    db: Database, project: ProjectData, batcher: EmbeddingBatcher
) -> None:
    """Between two requests a few milliseconds apart nothing waits; a pause as short as ``brief_idle_seconds`` (here
    far shorter than ``idle_seconds``) is used for one input at a time."""
    for text in ("Biscuit.", "Biscuit!"):
        await _queue_one(project, batcher, text)
    activity = Activity()
    final = FinalVectors(
        db, batcher, activity, idle_seconds=60, brief_idle_seconds=0.05, poll_seconds=0.05, overdue_seconds=60
    )
    async with _running(final):
        await _until_computed(db)
    assert final.stored == 2
