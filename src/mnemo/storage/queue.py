"""The job queue: PENDING events are jobs, claimed with ``FOR UPDATE SKIP LOCKED``.

A claimed job holds a lease (``locked_until``) that its worker extends while it runs; a job whose
lease ran out (its worker crashed or hung) is claimable again. A job's results are written in the
same transaction that marks it SUCCEEDED, and only while its claim is still held, so a job finishes
exactly once however many workers race for it.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from psycopg.types.json import Jsonb

from mnemo.storage.database import Database
from mnemo.storage.project_store import Conn

NOTIFY_CHANNEL = "mnemo_jobs"


@dataclass(frozen=True, slots=True)
class Job:
    project_id: str
    event_id: uuid.UUID
    event_type: str
    payload: dict[str, Any]
    attempts: int
    max_attempts: int


class LostClaim(Exception):
    """The job's lease expired and another worker took it; this worker must drop its result."""


class JobQueue:
    def __init__(self, db: Database, worker_id: str, *, lease: timedelta) -> None:
        self.db = db
        self.worker_id = worker_id
        self.lease = lease

    async def claim(self, limit: int) -> list[Job]:
        async with self.db.transaction() as conn:
            rows = await (
                await conn.execute(
                    "UPDATE events e SET status = 'RUNNING', attempts = e.attempts + 1, locked_by = %s,"
                    " locked_until = now() + %s, started_at = coalesce(e.started_at, clock_timestamp()),"
                    " updated_at = clock_timestamp()"
                    " FROM (SELECT project_id, id FROM events"
                    "       WHERE status IN ('PENDING', 'RUNNING')"
                    "         AND run_after <= now()"
                    "         AND (status = 'PENDING' OR locked_until < now())"
                    "       ORDER BY run_after LIMIT %s FOR UPDATE SKIP LOCKED) picked"
                    " WHERE e.project_id = picked.project_id AND e.id = picked.id"
                    " RETURNING e.project_id, e.id, e.event_type, e.payload, e.attempts, e.max_attempts",
                    (self.worker_id, self.lease, limit),
                )
            ).fetchall()
        return [
            Job(r["project_id"], r["id"], r["event_type"], r["payload"], r["attempts"], r["max_attempts"]) for r in rows
        ]

    async def extend(self, jobs: list[Job]) -> int:
        """Heartbeat: push the leases of running jobs forward, and hand back at once any job this worker
        still holds but no longer runs (an attempt that ended while the database was unreachable, so its
        failure could not be recorded), instead of letting it wait out its lease. Returns how many."""
        running = [j.event_id for j in jobs]
        async with self.db.transaction() as conn:
            await conn.execute(
                "UPDATE events SET locked_until = now() + %s WHERE locked_by = %s AND status = 'RUNNING'"
                " AND id = ANY(%s)",
                (self.lease, self.worker_id, running),
            )
            # Claimed more than a moment ago: a claim this heartbeat has not seen yet is not a stray.
            strays = await conn.execute(
                "UPDATE events SET status = 'PENDING', locked_by = NULL, locked_until = NULL, run_after = now(),"
                " updated_at = clock_timestamp() WHERE locked_by = %s AND status = 'RUNNING'"
                " AND NOT id = ANY(%s) AND updated_at < clock_timestamp() - interval '2 seconds'",
                (self.worker_id, running),
            )
            if strays.rowcount:
                await conn.execute("SELECT pg_notify(%s, '')", (NOTIFY_CHANNEL,))
            return strays.rowcount

    async def hold(self, conn: Conn, job: Job) -> None:
        """Inside the caller's transaction: lock the job's row, or raise LostClaim."""
        row = await (
            await conn.execute(
                "SELECT 1 FROM events WHERE project_id = %s AND id = %s AND locked_by = %s"
                " AND status = 'RUNNING' FOR UPDATE",
                (job.project_id, job.event_id, self.worker_id),
            )
        ).fetchone()
        if row is None:
            raise LostClaim(str(job.event_id))

    async def succeed(self, conn: Conn, job: Job, results: list[Any], metadata: dict[str, Any]) -> None:
        """Inside the caller's transaction (after :meth:`hold`): mark the job SUCCEEDED."""
        await conn.execute(
            "UPDATE events SET status = 'SUCCEEDED', results = %s, metadata = %s, error = NULL,"
            " locked_by = NULL, locked_until = NULL, completed_at = clock_timestamp(),"
            " updated_at = clock_timestamp() WHERE project_id = %s AND id = %s",
            (Jsonb(results), Jsonb(metadata), job.project_id, job.event_id),
        )

    async def fail(
        self, job: Job, error: str, *, retry_in: timedelta | None, metadata: dict[str, Any] | None = None
    ) -> None:
        """Record a failed attempt: back to PENDING after ``retry_in``, or FAILED for good."""
        async with self.db.transaction() as conn:
            if retry_in is not None and job.attempts < job.max_attempts:
                await conn.execute(
                    "UPDATE events SET status = 'PENDING', error = %s, run_after = now() + %s,"
                    " locked_by = NULL, locked_until = NULL, updated_at = clock_timestamp()"
                    " WHERE project_id = %s AND id = %s AND locked_by = %s",
                    (error, retry_in, job.project_id, job.event_id, self.worker_id),
                )
            else:
                await conn.execute(
                    "UPDATE events SET status = 'FAILED', error = %s, metadata = coalesce(%s, metadata),"
                    " locked_by = NULL, locked_until = NULL, completed_at = clock_timestamp(),"
                    " updated_at = clock_timestamp() WHERE project_id = %s AND id = %s AND locked_by = %s",
                    (error, Jsonb(metadata) if metadata else None, job.project_id, job.event_id, self.worker_id),
                )

    async def release(self, jobs: list[Job]) -> None:
        """On graceful shutdown: hand unfinished jobs back without counting the attempt."""
        if not jobs:
            return
        async with self.db.transaction() as conn:
            await conn.execute(
                "UPDATE events SET status = 'PENDING', attempts = greatest(attempts - 1, 0),"
                " locked_by = NULL, locked_until = NULL, updated_at = clock_timestamp()"
                " WHERE locked_by = %s AND status = 'RUNNING' AND id = ANY(%s)",
                (self.worker_id, [j.event_id for j in jobs]),
            )

    async def release_orphans(self, is_alive: Callable[[str], bool]) -> int:
        """Hand back RUNNING jobs whose worker is known dead (``is_alive(worker_id)`` is False) at once,
        instead of waiting for their leases to run out. Returns how many were released."""
        async with self.db.transaction() as conn:
            rows = await (
                await conn.execute(
                    "SELECT DISTINCT locked_by FROM events WHERE status = 'RUNNING' AND locked_by <> %s",
                    (self.worker_id,),
                )
            ).fetchall()
            dead = [row["locked_by"] for row in rows if row["locked_by"] and not is_alive(row["locked_by"])]
            if not dead:
                return 0
            cur = await conn.execute(
                "UPDATE events SET status = 'PENDING', locked_by = NULL, locked_until = NULL,"
                " updated_at = clock_timestamp() WHERE status = 'RUNNING' AND locked_by = ANY(%s)",
                (dead,),
            )
            await conn.execute("SELECT pg_notify(%s, '')", (NOTIFY_CHANNEL,))
            return cur.rowcount

    async def retry_failed(self, project_id: str, event_id: uuid.UUID) -> bool:
        """Re-queue a FAILED job (``mnemo events retry``)."""
        async with self.db.transaction() as conn:
            cur = await conn.execute(
                "UPDATE events SET status = 'PENDING', attempts = 0, error = NULL, run_after = now(),"
                " completed_at = NULL, updated_at = clock_timestamp()"
                " WHERE project_id = %s AND id = %s AND status = 'FAILED'",
                (project_id, event_id),
            )
            if cur.rowcount == 1:
                await conn.execute("SELECT pg_notify(%s, '')", (NOTIFY_CHANNEL,))
            return cur.rowcount == 1
