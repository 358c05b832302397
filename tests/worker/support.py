"""Queueing adds as the add route does, and reading their events."""

from __future__ import annotations

import uuid
from typing import Any

from mnemo.domain.events import EventStatus, EventType
from mnemo.domain.memories import Scope
from mnemo.storage import EventRecord, ProjectData


def add_body(text: str, *, user_id: str = "alice", name: str | None = None, **extra: Any) -> dict[str, Any]:
    message: dict[str, Any] = {"role": "user", "content": text}
    if name:
        message["name"] = name
    return {"messages": [message], "user_id": user_id, **extra}


async def enqueue(data: ProjectData, payload: dict[str, Any], *, max_attempts: int = 5) -> uuid.UUID:
    """Queue an add as the add route does: a PENDING event holding the request body."""
    async with data.transaction() as tables:
        return await tables.events.create(
            event_type=EventType.ADD,
            status=EventStatus.PENDING,
            payload=payload,
            max_attempts=max_attempts,
            scope=Scope(user_id=payload.get("user_id")),
        )


async def event(data: ProjectData, event_id: uuid.UUID) -> EventRecord:
    async with data.reading() as tables:
        record = await tables.events.get(event_id)
    assert record is not None
    return record
