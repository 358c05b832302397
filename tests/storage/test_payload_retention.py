"""Retention: finished events forget their payloads after the configured time; unfinished ones keep them."""

from __future__ import annotations

import asyncio
from datetime import timedelta

from mnemo.domain.events import EventStatus, EventType
from mnemo.domain.memories import Scope
from mnemo.storage import AccountStore, Database, JobQueue, ProjectData, migrate


async def _scenario(url: str) -> tuple[dict[str, object], dict[str, object], int, int]:
    await migrate(url)
    db = Database(url, min_size=1, max_size=2)
    await db.open()
    try:
        project = await AccountStore(db).ensure_project("retention")
        data = ProjectData(db, project)
        payload = {"messages": [{"role": "user", "content": "My PIN is 0000."}], "user_id": "u1"}
        async with data.transaction() as tables:
            done = await tables.events.create(
                event_type=EventType.ADD, status=EventStatus.SUCCEEDED, payload=payload, scope=Scope("u1")
            )
            queued = await tables.events.create(
                event_type=EventType.ADD, status=EventStatus.PENDING, payload=payload, scope=Scope("u1")
            )
        queue = JobQueue(db, "test", lease=timedelta(seconds=30))
        kept_for_now = await queue.purge_payloads(timedelta(days=1))
        purged = await queue.purge_payloads(timedelta(0))
        async with data.reading() as tables:
            finished, pending = await tables.events.get(done), await tables.events.get(queued)
        assert finished is not None and pending is not None
        return finished.payload, pending.payload, kept_for_now, purged
    finally:
        await db.close()


def test_finished_events_forget_their_payloads_after_the_retention_period(database_url: str) -> None:
    finished, pending, kept_for_now, purged = asyncio.run(_scenario(database_url))
    assert kept_for_now == 0
    assert purged == 1
    assert finished == {"redacted": True, "user_id": "u1"}
    assert pending["messages"] == [{"role": "user", "content": "My PIN is 0000."}]
