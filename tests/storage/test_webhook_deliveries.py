"""Webhook deliveries in storage: enqueued with the change that causes them, scrubbed by deletes, and claimed by
workers under a lease (``DeliveryLog``, ``DeliveryQueue``).

The queue claims across every project, so each test gets a fresh database of its own; leases are milliseconds
long where a test waits one out.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Sequence
from datetime import timedelta

import psycopg
import pytest

from mnemo.domain.webhooks import MEMORY_EVENT_TYPES
from mnemo.storage import Database, MemoryPatch, ProjectData
from mnemo.storage.deliveries import DeliveryQueue, DeliveryRecord
from mnemo.storage.webhooks import WebhookChange, WebhookRecord
from tests.storage.support import LONG, SHORT, hears, insert, memory, new_project, select

pytestmark = pytest.mark.anyio


@pytest.fixture
def db(fresh_db: Database) -> Database:
    """A fresh database per test (overrides the module-wide one): claims see every project's deliveries."""
    return fresh_db


async def webhook(data: ProjectData, event_types: Sequence[str] = MEMORY_EVENT_TYPES) -> WebhookRecord:
    async with data.transaction() as tables:
        return await tables.webhooks.create(
            name="hook", url="http://127.0.0.1:9/hook", event_types=event_types, secret="whsec_test", owner="org"
        )


async def log(data: ProjectData, hook: WebhookRecord) -> list[DeliveryRecord]:
    """The webhook's deliveries, oldest first."""
    async with data.reading() as tables:
        total, records = await tables.deliveries.page(hook.id, offset=0, limit=100)
    assert total == len(records)
    return records[::-1]


def queue(db: Database, worker: str, *, lease: timedelta = LONG, max_attempts: int = 3) -> DeliveryQueue:
    return DeliveryQueue(db, worker, lease=lease, max_attempts=max_attempts)


async def test_each_change_enqueues_one_delivery_per_subscribed_webhook_in_its_transaction(db: Database) -> None:
    data = await new_project(db)
    every, deletes_only = await webhook(data), await webhook(data, ["memory_delete"])
    (memory_id,) = await insert(data, memory("Alice moved to Lisbon.", categories=["travel"]))
    async with data.transaction() as tables:
        current = await tables.memories.get(memory_id, lock=True)
        assert current is not None
        await tables.memories.update(current, MemoryPatch(text="Alice moved to Porto."))
    with pytest.raises(RuntimeError):
        async with data.transaction() as tables:
            await tables.memories.insert([memory("Rolled back.")], event_id=None, input_messages=None)
            raise RuntimeError("the change does not commit")

    events = [(d.event_type, d.payload) for d in await log(data, every)]
    assert events == [
        ("memory_add", {**events[0][1], "id": str(memory_id), "data": {"memory": "Alice moved to Lisbon."}}),
        ("memory_categorize", {**events[1][1], "memory_id": str(memory_id), "categories": ["travel"]}),
        ("memory_update", {**events[2][1], "data": {"memory": "Alice moved to Porto."}, "event": "UPDATE"}),
    ]
    assert events[0][1]["event"] == "ADD" and events[0][1]["user_id"] == "alice"
    assert events[1][1]["event"] == "CATEGORIZE"
    assert await log(data, deletes_only) == []

    async with data.transaction() as tables:
        assert await tables.memories.delete(select({"user_id": "alice"})) == [memory_id]
    deliveries = await log(data, every)
    assert [d.event_type for d in deliveries] == [*(e for e, _ in events), "memory_delete"]
    texts = [d.payload.get("data", {}).get("memory") for d in deliveries]
    assert texts == [None, None, None, None], "a deleted memory's text stays in no delivery"
    assert deliveries[3].payload == {
        "id": str(memory_id),
        "data": {"memory": None},
        "event": "DELETE",
        "user_id": "alice",
        "agent_id": None,
        "app_id": None,
        "run_id": None,
    }
    assert [d.event_type for d in await log(data, deletes_only)] == ["memory_delete"]


async def test_inactive_webhooks_and_other_projects_get_nothing(db: Database) -> None:
    data, other = await new_project(db), await new_project(db)
    paused, elsewhere = await webhook(data), await webhook(other)
    async with data.transaction() as tables:
        assert await tables.webhooks.update(paused.id, WebhookChange(is_active=False)) is not None
        assert await tables.webhooks.update(elsewhere.id, WebhookChange(name="x")) is None
    await insert(data, memory("Alice keeps bees."))
    assert await log(data, paused) == []
    assert await log(other, elsewhere) == []


async def test_only_the_memories_an_insert_writes_are_announced_in_order(db: Database) -> None:
    data = await new_project(db)
    hook = await webhook(data, ["memory_add"])
    (kept,) = await insert(data, memory("Alice keeps bees."))
    written = await insert(data, memory("Alice plays the cello."), memory("Alice keeps bees."), memory("Alice rows."))
    assert len(written) == 2, "the exact duplicate is skipped"
    announced = [uuid.UUID(d.payload["id"]) for d in await log(data, hook)]
    assert announced == [kept, *written]


async def test_an_announced_memory_wakes_the_delivery_workers(db: Database) -> None:
    data = await new_project(db)
    await webhook(data, ["memory_add"])
    assert await hears(
        queue(db, "worker-a").notifications(), lambda n: insert(data, memory(f"Alice planted tree number {n}."))
    )


async def _one_pending(db: Database) -> tuple[ProjectData, WebhookRecord, uuid.UUID]:
    data = await new_project(db)
    hook = await webhook(data, ["memory_add"])
    (memory_id,) = await insert(data, memory("Alice plays the cello."))
    return data, hook, memory_id


async def test_a_claim_is_exclusive_and_a_failed_attempt_waits_its_backoff(db: Database) -> None:
    data, hook, _ = await _one_pending(db)
    first, second = queue(db, "w1"), queue(db, "w2")
    (claimed,) = await first.claim(10)
    assert (claimed.url, claimed.secret, claimed.attempts, claimed.webhook_id) == (hook.url, "whsec_test", 1, hook.id)
    assert await second.claim(10) == []

    await first.retry(claimed, "the receiver answered HTTP 500", 500, run_in=timedelta(milliseconds=300))
    assert await second.claim(10) == [], "not due before its backoff has passed"
    wait = await second.seconds_until_due()
    assert wait is not None and 0 < wait <= 0.3
    await asyncio.sleep(wait)
    (again,) = await second.claim(10)
    assert again.id == claimed.id and again.attempts == 2
    await second.delivered(again, 204)
    (record,) = await log(data, hook)
    assert (record.status, record.attempts, record.response_status, record.last_error) == ("DELIVERED", 2, 204, None)
    assert record.delivered_at is not None
    assert await second.seconds_until_due() is None


async def test_the_last_failed_attempt_ends_the_delivery(db: Database) -> None:
    data, hook, _ = await _one_pending(db)
    worker = queue(db, "w1", max_attempts=1)
    (claimed,) = await worker.claim(10)
    await worker.fail(claimed, "ConnectError: refused", None)
    (record,) = await log(data, hook)
    assert (record.status, record.attempts, record.last_error) == ("FAILED", 1, "ConnectError: refused")
    assert await worker.claim(10) == []


async def test_a_lapsed_lease_is_claimed_again_and_the_late_outcome_dropped(db: Database) -> None:
    data, hook, _ = await _one_pending(db)
    slow, other = queue(db, "slow", lease=SHORT), queue(db, "other")
    (lost,) = await slow.claim(10)
    await asyncio.sleep(SHORT.total_seconds() * 2)
    (taken,) = await other.claim(10)
    assert taken.id == lost.id and taken.attempts == 2
    await slow.delivered(lost, 200)  # the first worker's claim is gone: its outcome is not recorded
    (record,) = await log(data, hook)
    assert record.status == "PENDING"
    await other.fail(taken, "HTTP 500", 500)
    (record,) = await log(data, hook)
    assert (record.status, record.response_status) == ("FAILED", 500)


async def test_a_lease_lapsed_on_the_last_attempt_ends_failed(db: Database) -> None:
    data, hook, _ = await _one_pending(db)
    dying = queue(db, "dying", lease=SHORT, max_attempts=1)
    await dying.claim(10)
    await asyncio.sleep(SHORT.total_seconds() * 2)
    assert await queue(db, "next", max_attempts=1).claim(10) == []
    (record,) = await log(data, hook)
    assert record.status == "FAILED" and "its worker died" in (record.last_error or "")


async def test_orphans_of_a_dead_worker_are_claimable_at_once_and_release_gives_the_attempt_back(
    db: Database,
) -> None:
    await _one_pending(db)
    dead, alive = queue(db, "host:1"), queue(db, "host:2")
    (held,) = await dead.claim(10)
    assert await alive.release_orphans(lambda worker: worker != "host:1") == 1
    (taken,) = await alive.claim(10)
    assert taken.id == held.id and taken.attempts == 2
    await alive.release([taken])
    (again,) = await alive.claim(10)
    assert again.attempts == 2


async def test_deleting_a_webhook_deletes_its_deliveries(db: Database, migrated_database_url: str) -> None:
    data, hook, _ = await _one_pending(db)
    async with data.transaction() as tables:
        assert await tables.webhooks.delete(hook.id)
        assert not await tables.webhooks.delete(hook.id)
    async with await psycopg.AsyncConnection.connect(migrated_database_url) as conn:
        row = await (await conn.execute("SELECT count(*) FROM webhook_deliveries")).fetchone()
    assert row == (0,)
