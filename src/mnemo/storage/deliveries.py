"""Webhook deliveries (``webhook_deliveries``): the outbox of memory changes, and the log users read.

:class:`DeliveryLog` works inside one project's transaction: every memory written, changed or deleted
(:class:`~mnemo.storage.memories.MemoryStore`) adds one PENDING row per active webhook of the project that
subscribes to the event, in the same transaction as the change, so a change is announced if and only if it
commits. A deleted memory's text also leaves the payloads of every delivery about it.

:class:`DeliveryQueue` is what workers drain, across projects, the way the job queue is drained
(:mod:`mnemo.storage.events`): a claim takes due rows with ``FOR UPDATE SKIP LOCKED`` under a lease
(``locked_until``) and counts the attempt; a row whose worker died is claimable again once its lease has run
out (or at once, when a worker on the same host sees the process is gone), and ends FAILED instead when it
was on its last attempt. An outcome is recorded only while the claim is held. Delivery is at least once: a
receiver may see a delivery id again (after a worker died mid-request), never two ids for one change.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Literal, LiteralString

from psycopg import sql
from psycopg.types.json import Jsonb

from mnemo.domain.memories import MemoryRecord, Scope
from mnemo.domain.webhooks import Notice, change_notices, deletion_notice
from mnemo.storage.database import Conn, Database
from mnemo.storage.events import dead_holders
from mnemo.storage.tenant import TenantGuard

NOTIFY_CHANNEL: LiteralString = "mnemo_webhooks"
DeliveryStatus = Literal["PENDING", "DELIVERED", "FAILED"]

_LOG_COLUMNS = (
    "id, webhook_id, event_type, memory_id, payload, status, attempts, response_status, last_error,"
    " created_at, updated_at, next_attempt_at, delivered_at"
)


@dataclass(frozen=True, slots=True)
class DeliveryRecord:
    """One delivery, as its log shows it."""

    id: uuid.UUID
    webhook_id: uuid.UUID
    event_type: str
    memory_id: uuid.UUID
    payload: dict[str, Any]
    status: DeliveryStatus
    attempts: int
    response_status: int | None
    last_error: str | None
    created_at: datetime
    updated_at: datetime
    next_attempt_at: datetime
    delivered_at: datetime | None


@dataclass(frozen=True, slots=True)
class Delivery:
    """A claimed delivery: what to POST where, signed with which secret, and which attempt this is."""

    id: uuid.UUID
    project_id: str
    webhook_id: uuid.UUID
    url: str
    secret: str
    event_type: str
    payload: dict[str, Any]
    attempts: int
    created_at: datetime


class DeliveryLog:
    """One project's deliveries: enqueued with its memory changes, scrubbed with its deletions, paged for its
    users."""

    __slots__ = ("_conn", "_guard")

    def __init__(self, conn: Conn, guard: TenantGuard) -> None:
        self._conn = conn
        self._guard = guard

    async def updated(self, records: Sequence[MemoryRecord]) -> None:
        """Inside the change's transaction: announce memories changed (UPDATE). A memory added is announced by the
        statement that inserts it (:func:`enqueue_deliveries`)."""
        await self._enqueue([(record.id, notice) for record in records for notice in change_notices(record, "UPDATE")])

    async def deleted(self, rows: Sequence[dict[str, Any]]) -> None:
        """Inside the delete's transaction: forget what the deleted memories (``id`` and entity ids of each row)
        said in every delivery about them, and announce the deletions."""
        if not rows:
            return
        scrub = self._guard.sql(
            "UPDATE webhook_deliveries d SET payload = jsonb_set(d.payload, '{{data,memory}}', 'null'::jsonb)"
            " || '{{\"redacted\": true}}'::jsonb, updated_at = clock_timestamp()"
            " WHERE d.{tenant} AND d.memory_id = ANY(%s) AND d.payload -> 'data' ->> 'memory' IS NOT NULL"
        )
        await self._conn.execute(scrub, ([row["id"] for row in rows],))
        scopes = [Scope(row["user_id"], row["agent_id"], row["app_id"], row["run_id"]) for row in rows]
        await self._enqueue(
            [(row["id"], deletion_notice(row["id"], scope)) for row, scope in zip(rows, scopes, strict=True)]
        )

    async def _enqueue(self, notices: Sequence[tuple[uuid.UUID, Notice]]) -> None:
        """One row per notice per active webhook subscribing to its event type, in order; workers are woken on
        commit when there is any."""
        if not notices:
            return
        await self._conn.execute(self._guard.sql(enqueue_deliveries("")), (notice_rows(notices),))

    async def page(self, webhook_id: uuid.UUID, *, offset: int, limit: int) -> tuple[int, list[DeliveryRecord]]:
        """One page of the webhook's deliveries, newest first, and their total count."""
        count = self._guard.sql("SELECT count(*) AS n FROM webhook_deliveries WHERE {tenant} AND webhook_id = %s")
        found = await (await self._conn.execute(count, (webhook_id,))).fetchone()
        statement = self._guard.sql(
            "SELECT " + _LOG_COLUMNS + " FROM webhook_deliveries WHERE {tenant} AND webhook_id = %s"
            " ORDER BY created_at DESC, id LIMIT %s OFFSET %s"
        )
        rows = await (await self._conn.execute(statement, (webhook_id, limit, offset))).fetchall()
        return (int(found["n"]) if found else 0), [DeliveryRecord(**row) for row in rows]


def enqueue_deliveries(join: LiteralString) -> LiteralString:
    """The INSERT of one delivery per notice (its parameter: :func:`notice_rows`) per active webhook of the project
    subscribing to the notice's event type, in the notices' order. ``join`` keeps only the notices of some rows (in
    a statement that inserts memories as ``m``: ``" JOIN m ON m.id = c.memory_id"``, the memories inserted). Each
    delivery inserted wakes the webhook workers on commit (PostgreSQL sends a transaction's same NOTIFY once)."""
    return (
        "INSERT INTO webhook_deliveries (project_id, id, webhook_id, event_type, memory_id, payload)"
        " SELECT {project}, gen_random_uuid(), w.id, c.event_type, c.memory_id, c.payload"
        " FROM ROWS FROM (jsonb_to_recordset(%s) AS (event_type text, memory_id uuid, payload jsonb))"
        " WITH ORDINALITY AS c(event_type, memory_id, payload, n)" + join + " JOIN webhooks w ON w.{tenant}"
        " AND w.is_active AND c.event_type = ANY(w.event_types)"
        " ORDER BY c.n, w.created_at, w.id RETURNING pg_notify('" + NOTIFY_CHANNEL + "', '')"
    )


def notice_rows(notices: Sequence[tuple[uuid.UUID, Notice]]) -> Jsonb:
    """The parameter of :func:`enqueue_deliveries`: each notice with the memory it is about."""
    return Jsonb(
        [
            {"event_type": event_type, "memory_id": str(memory_id), "payload": details}
            for memory_id, (event_type, details) in notices
        ]
    )


class DeliveryQueue:
    """The deliveries across every project: claiming under a lease, and recording each attempt's outcome."""

    def __init__(self, db: Database, worker_id: str, *, lease: timedelta, max_attempts: int) -> None:
        self.db = db
        self.worker_id = worker_id
        self.lease = lease
        self.max_attempts = max_attempts

    async def claim(self, limit: int) -> list[Delivery]:
        """Up to ``limit`` due deliveries of active webhooks, now leased to this worker; the attempt is counted
        here. One whose lease ran out on its last attempt is not sent again: it ends FAILED."""
        async with self.db.transaction() as conn:
            await conn.execute(
                "UPDATE webhook_deliveries SET status = 'FAILED', locked_by = NULL, locked_until = NULL,"
                " last_error = concat_ws('; ', last_error, 'attempt ' || attempts || ' stopped before it finished"
                " (its worker died); no attempts are left'), updated_at = clock_timestamp()"
                " WHERE (project_id, id) IN (SELECT project_id, id FROM webhook_deliveries WHERE status = 'PENDING'"
                " AND locked_until < now() AND attempts >= %s FOR UPDATE SKIP LOCKED)",
                (self.max_attempts,),
            )
            rows = await (
                await conn.execute(
                    "UPDATE webhook_deliveries d SET attempts = d.attempts + 1, locked_by = %s,"
                    " locked_until = now() + %s, updated_at = clock_timestamp()"
                    " FROM (SELECT q.project_id, q.id FROM webhook_deliveries q JOIN webhooks w"
                    "       ON w.project_id = q.project_id AND w.id = q.webhook_id AND w.is_active"
                    "       WHERE q.status = 'PENDING' AND q.next_attempt_at <= now()"
                    "         AND (q.locked_until IS NULL OR q.locked_until < now())"
                    "       ORDER BY q.next_attempt_at LIMIT %s FOR UPDATE OF q SKIP LOCKED) picked, webhooks w"
                    " WHERE d.project_id = picked.project_id AND d.id = picked.id"
                    "   AND w.project_id = d.project_id AND w.id = d.webhook_id"
                    " RETURNING d.id, d.project_id, d.webhook_id, w.url, w.secret, d.event_type, d.payload,"
                    " d.attempts, d.created_at",
                    (self.worker_id, self.lease, limit),
                )
            ).fetchall()
        return [Delivery(**row) for row in rows]

    async def delivered(self, delivery: Delivery, response_status: int) -> None:
        await self._record(delivery, "status = 'DELIVERED', delivered_at = clock_timestamp()", None, response_status)

    async def retry(self, delivery: Delivery, error: str, response_status: int | None, *, run_in: timedelta) -> None:
        """Record a failed attempt that will be made again after ``run_in``."""
        await self._record(delivery, "next_attempt_at = now() + %s", error, response_status, run_in)

    async def fail(self, delivery: Delivery, error: str, response_status: int | None) -> None:
        """Record a failed attempt that ends the delivery."""
        await self._record(delivery, "status = 'FAILED'", error, response_status)

    async def _record(
        self, delivery: Delivery, change: LiteralString, error: str | None, response_status: int | None, *extra: Any
    ) -> None:
        """An attempt's outcome, only while this worker still holds the claim."""
        statement = sql.SQL(
            "UPDATE webhook_deliveries SET {change}, last_error = %s, response_status = %s, locked_by = NULL,"
            " locked_until = NULL, updated_at = clock_timestamp()"
            " WHERE project_id = %s AND id = %s AND locked_by = %s AND status = 'PENDING'"
        ).format(change=sql.SQL(change))
        async with self.db.transaction() as conn:
            values = (*extra, error, response_status, delivery.project_id, delivery.id, self.worker_id)
            await conn.execute(statement, values)

    async def release(self, deliveries: Sequence[Delivery]) -> None:
        """On shutdown: hand back unfinished deliveries without counting the attempt."""
        if not deliveries:
            return
        async with self.db.transaction() as conn:
            await conn.execute(
                "UPDATE webhook_deliveries SET attempts = greatest(attempts - 1, 0), locked_by = NULL,"
                " locked_until = NULL, updated_at = clock_timestamp()"
                " WHERE locked_by = %s AND status = 'PENDING' AND id = ANY(%s)",
                (self.worker_id, [d.id for d in deliveries]),
            )

    async def release_orphans(self, is_alive: Callable[[str], bool]) -> int:
        """End the leases of deliveries whose worker is known dead (``is_alive(worker_id)`` is False), so they
        are claimed at once instead of when their leases run out. Returns how many."""
        async with self.db.transaction() as conn:
            held = "status = 'PENDING' AND locked_until > now()"
            dead = await dead_holders(conn, "webhook_deliveries", held, self.worker_id, is_alive)
            if not dead:
                return 0
            cur = await conn.execute(
                "UPDATE webhook_deliveries SET locked_until = '-infinity', updated_at = clock_timestamp()"
                " WHERE status = 'PENDING' AND locked_by = ANY(%s) AND locked_until > now()",
                (dead,),
            )
            return cur.rowcount

    async def seconds_until_due(self) -> float | None:
        """How long until the next PENDING delivery is due (0 when one is), or None when none waits."""
        async with self.db.connection() as conn:
            row = await (
                await conn.execute(
                    "SELECT extract(epoch FROM min(greatest(d.next_attempt_at, coalesce(d.locked_until, '-infinity')))"
                    " - clock_timestamp()) AS wait FROM webhook_deliveries d JOIN webhooks w"
                    " ON w.project_id = d.project_id AND w.id = d.webhook_id AND w.is_active WHERE d.status = 'PENDING'"
                )
            ).fetchone()
        wait = row["wait"] if row else None
        return None if wait is None else max(0.0, float(wait))

    async def notifications(self) -> AsyncIterator[None]:
        """Yield whenever deliveries may have been enqueued (NOTIFY on commit of a change)."""
        async for _ in self.db.listen(NOTIFY_CHANNEL):
            yield
