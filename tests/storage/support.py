"""What the repository tests build their rows from: memories with hand-made vectors, selections, projects."""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from datetime import UTC, date, datetime, timedelta
from typing import Any

import numpy as np

from mnemo.domain.memories import Scope, index_fields
from mnemo.domain.selection import parse_selection
from mnemo.filters import Node
from mnemo.storage import AccountStore, Database, NewMemory, ProjectData, Vector

#: Hand-made vectors live in a small space of their own: only their directions matter to the tests.
DIMENSIONS = 8
ALICE = Scope(user_id="alice")
BOB = Scope(user_id="bob")
#: leases of the claim tests (jobs and webhook deliveries): one that lapses while a test waits, one that does not
SHORT = timedelta(milliseconds=50)
LONG = timedelta(seconds=60)
#: A fixed moment the tests date their memories from (relative dates in texts count from it).
T0 = datetime(2025, 3, 1, 12, 0, tzinfo=UTC)


def vec(*components: float) -> Vector:
    """A unit vector with these leading components (the rest zero)."""
    values = np.zeros(DIMENSIONS, dtype=np.float32)
    values[: len(components)] = components
    return values / np.linalg.norm(values)


def axis(index: int) -> Vector:
    return vec(*([0.0] * index), 1.0)


def memory(
    text: str,
    *,
    scope: Scope = ALICE,
    vector: Vector | None = None,
    speaker: str | None = None,
    role: str | None = "user",
    created_at: datetime = T0,
    metadata: dict[str, Any] | None = None,
    categories: Sequence[str] = (),
    immutable: bool = False,
    expiration_date: date | None = None,
) -> NewMemory:
    return NewMemory(
        scope=scope,
        text=text,
        index=index_fields(text, speaker=speaker, observed_at=created_at),
        embedding=axis(0) if vector is None else vector,
        metadata=metadata,
        created_at=created_at,
        categories=categories,
        immutable=immutable,
        expiration_date=expiration_date,
        attributed_to=role,
        actor_name=speaker,
    )


def minutes(n: int) -> datetime:
    return T0 + timedelta(minutes=n)


def select(raw: dict[str, Any]) -> Node:
    """A filter as a request gives it, parsed the way the API parses it."""
    return parse_selection(raw)


async def new_project(db: Database) -> ProjectData:
    project_id = await AccountStore(db).ensure_project(f"proj_{uuid.uuid4().hex[:12]}")
    return ProjectData(db, project_id)


async def insert(data: ProjectData, *memories: NewMemory, event_id: uuid.UUID | None = None) -> list[uuid.UUID]:
    """Insert in one transaction; the ids of the memories written, in order."""
    async with data.transaction() as tables:
        written = await tables.memories.insert(list(memories), event_id=event_id, input_messages=None)
    return [record.id for record in written]


async def hears(notifications: AsyncIterator[None], act: Callable[[int], Awaitable[object]]) -> bool:
    """Whether ``notifications`` yields after ``act`` (called with the attempt's number). LISTEN starts on a
    connection of its own, at a moment nobody can observe: act until it hears one, at most 50 times."""
    woken = asyncio.Event()

    async def listen() -> None:
        async for _ in notifications:
            woken.set()

    listener = asyncio.create_task(listen())
    try:
        for attempt in range(50):
            await act(attempt)
            try:
                await asyncio.wait_for(woken.wait(), 0.1)
                return True
            except TimeoutError:
                continue
        return False
    finally:
        listener.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await listener  # a listener that failed raises here
