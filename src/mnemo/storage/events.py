"""The ``events`` table, and the job queue it also is: its only owner.

An event records an add or a delete. A PENDING event is a job: workers claim it with
``FOR UPDATE SKIP LOCKED`` (:class:`JobQueue`). A claimed job holds a lease (``locked_until``) that
its worker extends while it runs; a job whose lease ran out (its worker crashed or hung) is
claimable again. A job's results are written in the same transaction that marks it SUCCEEDED, and
only while its claim is still held (:meth:`EventStore.succeed`), so a job finishes exactly once however
many workers race for it. When a failed attempt is retried is the worker's decision
(``mnemo.worker.retry``); this module only records it.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, LiteralString

from psycopg import sql
from psycopg.types.json import Jsonb

from mnemo.domain.events import EventStatus, EventType
from mnemo.domain.memories import ENTITY_FIELDS, Scope
from mnemo.domain.projects import ProjectSettings
from mnemo.storage.database import Conn, Database
from mnemo.storage.records import EventRecord, redacted_results, settings_from_column
from mnemo.storage.tenant import TenantGuard

NOTIFY_CHANNEL = "mnemo_jobs"
#: How many attempts an event gets when its creator names none (a finished one never uses them).
DEFAULT_MAX_ATTEMPTS = 5
_NOTIFY = sql.SQL("SELECT pg_notify({}, '')").format(sql.Literal(NOTIFY_CHANNEL))

#: SET clause handing a RUNNING job back whose attempt ended unrecorded (its worker died, or the database went away
#: before the outcome could be written): PENDING while attempts remain, else FAILED with that cause. Attempts are
#: counted at claim, so a job that kills its process every time ends FAILED instead of crash-looping workers.
_HAND_BACK = sql.SQL(
    "status = CASE WHEN attempts < max_attempts THEN 'PENDING' ELSE 'FAILED' END,"
    " error = CASE WHEN attempts < max_attempts THEN error ELSE concat_ws('; ', error, 'attempt ' || attempts"
    " || ' of ' || max_attempts || ' stopped before it finished (its worker died or lost the database);"
    " no attempts are left') END,"
    " completed_at = CASE WHEN attempts < max_attempts THEN NULL ELSE clock_timestamp() END,"
    " locked_by = NULL, locked_until = NULL, updated_at = clock_timestamp()"
)

#: What a redacted event's payload keeps: its entity ids.
_REDACTED_PAYLOAD = (
    "jsonb_strip_nulls(jsonb_build_object('redacted', true, 'user_id', e.user_id, 'agent_id', e.agent_id,"
    " 'app_id', e.app_id, 'run_id', e.run_id))"
)

_EVENT_COLUMNS = (
    "id, event_type, status, payload, metadata, results, error, attempts,"
    " created_at, updated_at, started_at, completed_at"
)


def _insert_event(results: LiteralString, *, started: LiteralString) -> LiteralString:
    """The INSERT of one event (its parameters: :func:`_event_values`), its results given by ``results`` (an SQL
    expression of one parameter), and ``started`` its start and end (NULL for an event still to run)."""
    return (
        "INSERT INTO events (project_id, id, event_type, status, payload, results, max_attempts,"
        " user_id, agent_id, app_id, run_id, started_at, completed_at)"
        " SELECT {project}, %s, %s, %s, %s, " + results + ", %s, %s, %s, %s, %s, " + started + ", " + started
    )


def _event_values(
    event_id: uuid.UUID,
    event_type: EventType,
    status: EventStatus,
    payload: dict[str, Any],
    results: Any,
    max_attempts: int,
    scope: Scope | None,
) -> list[Any]:
    scope = scope or Scope()
    return [
        event_id,
        event_type.value,
        status.value,
        Jsonb(payload),
        results,
        max_attempts,
        scope.user_id,
        scope.agent_id,
        scope.app_id,
        scope.run_id,
    ]


#: In a statement that inserts an add's memories as ``m``: the add's SUCCEEDED event, whose results are those of
#: the memories ``m`` holds, out of the results it would have if every memory were inserted (in their order; a
#: memory whose text its scope already held is not inserted). Its parameters: :func:`added_event_values`.
ADDED_EVENT_OF_M: LiteralString = _insert_event(
    "(SELECT coalesce(jsonb_agg(r.item ORDER BY r.n), '[]'::jsonb)"
    " FROM jsonb_array_elements(%s::jsonb) WITH ORDINALITY AS r(item, n) JOIN m ON m.id = (r.item->>'id')::uuid)",
    started="clock_timestamp()",
)


def added_event_values(
    event_id: uuid.UUID, payload: dict[str, Any], scope: Scope, planned: list[dict[str, Any]]
) -> list[Any]:
    """The parameters of :data:`ADDED_EVENT_OF_M`: ``planned`` holds one result per memory to insert, each with the
    memory's ``id``."""
    status = EventStatus.SUCCEEDED
    return _event_values(event_id, EventType.ADD, status, payload, Jsonb(planned), DEFAULT_MAX_ATTEMPTS, scope)


@dataclass(frozen=True, slots=True)
class Job:
    """A claimed job: which event, its payload, and which attempt this is (counted at claim); ``settings``: its
    project's settings as they were at the claim (read in the same statement), None for a job made by hand."""

    project_id: str
    event_id: uuid.UUID
    event_type: EventType
    payload: dict[str, Any]
    attempts: int
    max_attempts: int
    settings: ProjectSettings | None = None


class LostClaim(Exception):
    """The job's lease expired and another worker took it; this worker must drop its result."""


def _event(row: dict[str, Any]) -> EventRecord:
    return EventRecord(**{**row, "event_type": EventType(row["event_type"]), "status": EventStatus(row["status"])})


class EventStore:
    """One project's events, and the in-transaction steps of finishing its jobs."""

    __slots__ = ("_conn", "_guard")

    def __init__(self, conn: Conn, guard: TenantGuard) -> None:
        self._conn = conn
        self._guard = guard

    async def create(
        self,
        *,
        event_type: EventType,
        status: EventStatus,
        payload: dict[str, Any],
        results: list[Any] | None = None,
        max_attempts: int = DEFAULT_MAX_ATTEMPTS,
        event_id: uuid.UUID | None = None,
        scope: Scope | None = None,
    ) -> uuid.UUID:
        """Record an event. A PENDING event is a queued job: workers are woken by NOTIFY on commit."""
        event_id = event_id or uuid.uuid4()
        statement = self._guard.sql(_insert_event("%s", started="clock_timestamp()" if status.finished else "NULL"))
        values = _event_values(event_id, event_type, status, payload, Jsonb(results or []), max_attempts, scope)
        await self._conn.execute(statement, values)
        if status is EventStatus.PENDING:
            await self._conn.execute(_NOTIFY)
        return event_id

    async def get(self, event_id: uuid.UUID) -> EventRecord | None:
        statement = self._guard.sql("SELECT " + _EVENT_COLUMNS + " FROM events WHERE {tenant} AND id = %s")
        row = await (await self._conn.execute(statement, (event_id,))).fetchone()
        return _event(row) if row else None

    async def page(self, *, offset: int, limit: int) -> tuple[int, list[EventRecord]]:
        """One page of the project's events, newest first, and their total count."""
        count = await (
            await self._conn.execute(self._guard.sql("SELECT count(*) AS n FROM events WHERE {tenant}"))
        ).fetchone()
        statement = self._guard.sql(
            "SELECT " + _EVENT_COLUMNS + " FROM events WHERE {tenant} ORDER BY created_at DESC, id LIMIT %s OFFSET %s"
        )
        rows = await (await self._conn.execute(statement, (limit, offset))).fetchall()
        return (int(count["n"]) if count else 0), [_event(r) for r in rows]

    async def recent_adds(self, scope: Scope, before: uuid.UUID | None, *, limit: int) -> list[tuple[uuid.UUID, Any]]:
        """The scope's latest adds created before event ``before`` (or all), newest first: (event id, payload)."""
        # Equality (or IS NULL) per entity id, not IS NOT DISTINCT FROM: only these can walk the scope's index
        # (events_scope); the other form read the whole project's adds, newest first, until it found the scope's.
        ids = scope.as_dict()
        same_scope = sql.SQL(" AND ").join(
            sql.SQL("e.{} IS NULL" if ids[field] is None else "e.{} = %s").format(sql.Identifier(field))
            for field in ENTITY_FIELDS
        )
        statement = self._guard.sql(
            "SELECT e.id, e.payload FROM events e WHERE {tenant} AND e.event_type = 'ADD' AND {same_scope}"
            " AND (%s::uuid IS NULL OR e.created_at < (SELECT created_at FROM events WHERE {tenant} AND id = %s))"
            " ORDER BY e.created_at DESC LIMIT %s",
            same_scope=same_scope,
        )
        values = (*(ids[field] for field in ENTITY_FIELDS if ids[field] is not None), before, before, limit)
        rows = await (await self._conn.execute(statement, values)).fetchall()
        return [(row["id"], row["payload"]) for row in rows]

    async def redact(self, event_ids: Sequence[uuid.UUID], deleted: Sequence[uuid.UUID]) -> None:
        """Forget what finished adds said once a memory they wrote is deleted: the payload keeps only its entity
        ids (``redacted: true``), and the deleted memories' items in ``results`` lose their text."""
        if not event_ids:
            return
        statement = self._guard.sql(
            "UPDATE events e SET payload = " + _REDACTED_PAYLOAD + ","
            " results = " + redacted_results("e.results") + ", updated_at = clock_timestamp()"
            " WHERE e.{tenant} AND e.id = ANY(%s) AND e.status IN ('SUCCEEDED', 'FAILED')"
        )
        await self._conn.execute(statement, ([str(i) for i in deleted], list(event_ids)))

    async def succeed(self, job: Job, worker_id: str, results: list[Any], metadata: dict[str, Any]) -> None:
        """Inside the finishing transaction, after its writes: mark the job SUCCEEDED with its results while
        ``worker_id`` still holds its claim, or raise :class:`LostClaim` (the caller rolls the writes back).

        The row is locked from here to the commit; a worker that took the job over in the meantime has changed
        ``locked_by``, so this matches nothing.
        """
        statement = self._guard.sql(
            "UPDATE events SET status = 'SUCCEEDED', results = %s, metadata = %s, error = NULL,"
            " locked_by = NULL, locked_until = NULL, completed_at = clock_timestamp(),"
            " updated_at = clock_timestamp() WHERE {tenant} AND id = %s AND locked_by = %s AND status = 'RUNNING'"
        )
        done = await self._conn.execute(statement, (Jsonb(results), Jsonb(metadata), job.event_id, worker_id))
        if done.rowcount != 1:
            raise LostClaim(str(job.event_id))


async def dead_holders(
    conn: Conn, table: LiteralString, held: LiteralString, worker_id: str, is_alive: Callable[[str], bool]
) -> list[str]:
    """The workers other than ``worker_id`` holding rows of ``table`` (those matching ``held``) that
    ``is_alive`` says are dead: their claims can be handed back without waiting for the leases to run out."""
    statement = sql.SQL("SELECT DISTINCT locked_by FROM {} WHERE " + held + " AND locked_by <> %s")
    rows = await (await conn.execute(statement.format(sql.Identifier(table)), (worker_id,))).fetchall()
    return [row["locked_by"] for row in rows if row["locked_by"] and not is_alive(row["locked_by"])]


class JobQueue:
    """The queue across every project: claiming, leases, and recording failed attempts."""

    def __init__(self, db: Database, worker_id: str, *, lease: timedelta) -> None:
        self.db = db
        self.worker_id = worker_id
        self.lease = lease

    async def claim(self, limit: int) -> list[Job]:
        """Up to ``limit`` runnable jobs, now RUNNING under this worker; the attempt is counted here, so an
        attempt that kills its process still counts. A job whose lease ran out on its last attempt is not run
        again: it ends FAILED."""
        async with self.db.transaction() as conn:
            await conn.execute(
                sql.SQL(
                    "UPDATE events SET {} WHERE (project_id, id) IN (SELECT project_id, id FROM events"
                    " WHERE status = 'RUNNING' AND locked_until < now() AND attempts >= max_attempts"
                    " FOR UPDATE SKIP LOCKED)"
                ).format(_HAND_BACK)
            )
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
                    " RETURNING e.project_id, e.id, e.event_type, e.payload, e.attempts, e.max_attempts,"
                    " (SELECT p.settings FROM projects p WHERE p.id = e.project_id) AS settings",
                    (self.worker_id, self.lease, limit),
                )
            ).fetchall()
        return [
            Job(
                r["project_id"],
                r["id"],
                EventType(r["event_type"]),
                r["payload"],
                r["attempts"],
                r["max_attempts"],
                settings_from_column(r["settings"]),
            )
            for r in rows
        ]

    async def register(self) -> None:
        """Announce this worker (``workers``); forget workers silent for a day."""
        async with self.db.transaction() as conn:
            await conn.execute("DELETE FROM workers WHERE heartbeat_at < now() - interval '1 day'")
            await conn.execute(
                "INSERT INTO workers (id) VALUES (%s)"
                " ON CONFLICT (id) DO UPDATE SET started_at = now(), heartbeat_at = now()",
                (self.worker_id,),
            )

    async def unregister(self) -> None:
        async with self.db.transaction() as conn:
            await conn.execute("DELETE FROM workers WHERE id = %s", (self.worker_id,))

    async def extend(self, jobs: list[Job]) -> int:
        """Heartbeat: record that this worker lives, push the leases of running jobs forward, and hand back at
        once any job this worker still holds but no longer runs (an attempt that ended while the database was
        unreachable, so its failure could not be recorded), instead of letting it wait out its lease. Returns
        how many."""
        running = [j.event_id for j in jobs]
        async with self.db.transaction() as conn:
            await conn.execute(
                "INSERT INTO workers (id) VALUES (%s) ON CONFLICT (id) DO UPDATE SET heartbeat_at = now()",
                (self.worker_id,),
            )
            await conn.execute(
                "UPDATE events SET locked_until = now() + %s WHERE locked_by = %s AND status = 'RUNNING'"
                " AND id = ANY(%s)",
                (self.lease, self.worker_id, running),
            )
            # Claimed more than a moment ago: a claim this heartbeat has not seen yet is not a stray.
            strays = await conn.execute(
                sql.SQL(
                    "UPDATE events SET {}, run_after = now() WHERE locked_by = %s AND status = 'RUNNING'"
                    " AND NOT id = ANY(%s) AND updated_at < clock_timestamp() - interval '2 seconds'"
                ).format(_HAND_BACK),
                (self.worker_id, running),
            )
            if strays.rowcount:
                await conn.execute(_NOTIFY)
            return strays.rowcount

    async def retry(self, job: Job, error: str, *, run_in: timedelta) -> None:
        """Record a failed attempt that will run again after ``run_in``."""
        async with self.db.transaction() as conn:
            await conn.execute(
                "UPDATE events SET status = 'PENDING', error = %s, run_after = now() + %s,"
                " locked_by = NULL, locked_until = NULL, updated_at = clock_timestamp()"
                " WHERE project_id = %s AND id = %s AND locked_by = %s",
                (error, run_in, job.project_id, job.event_id, self.worker_id),
            )

    async def fail(self, job: Job, error: str, *, metadata: dict[str, Any] | None = None) -> None:
        """Record a failed attempt that ends the job: FAILED, with its cause."""
        async with self.db.transaction() as conn:
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
            dead = await dead_holders(conn, "events", "status = 'RUNNING'", self.worker_id, is_alive)
            if not dead:
                return 0
            cur = await conn.execute(
                sql.SQL("UPDATE events SET {} WHERE status = 'RUNNING' AND locked_by = ANY(%s)").format(_HAND_BACK),
                (dead,),
            )
            await conn.execute(_NOTIFY)
            return cur.rowcount

    async def retry_failed(self, event_id: uuid.UUID, *, project_id: str | None = None) -> EventRecord | None:
        """Re-queue a FAILED job (``mnemo events retry``, ``POST /v1/event/{id}/retry/``), of ``project_id`` when
        given. Returns the event as this call left it: PENDING when re-queued, unchanged when it was not FAILED;
        None when there is no such event."""
        async with self.db.transaction() as conn:
            row = await (
                await conn.execute(
                    "SELECT project_id, " + _EVENT_COLUMNS + " FROM events"
                    " WHERE id = %s AND (%s::text IS NULL OR project_id = %s) FOR UPDATE",
                    (event_id, project_id, project_id),
                )
            ).fetchone()
            if row is None or row["status"] != EventStatus.FAILED:
                return _event({k: v for k, v in row.items() if k != "project_id"}) if row else None
            requeued = await (
                await conn.execute(
                    "UPDATE events SET status = 'PENDING', attempts = 0, error = NULL, run_after = now(),"
                    " completed_at = NULL, updated_at = clock_timestamp() WHERE project_id = %s AND id = %s"
                    " RETURNING " + _EVENT_COLUMNS,
                    (row["project_id"], event_id),
                )
            ).fetchone()
            await conn.execute(_NOTIFY)
        assert requeued is not None
        return _event(requeued)

    async def purge_payloads(self, older_than: timedelta) -> int:
        """Retention: forget the payloads (the messages) of events finished longer than ``older_than`` ago, in
        every project; they keep their entity ids, status, results and times. Returns how many."""
        async with self.db.transaction() as conn:
            cur = await conn.execute(
                "UPDATE events e SET payload = " + _REDACTED_PAYLOAD + ", updated_at = clock_timestamp()"
                " WHERE e.status IN ('SUCCEEDED', 'FAILED') AND e.completed_at < now() - %s"
                " AND NOT e.payload ? 'redacted'",
                (older_than,),
            )
            return cur.rowcount

    async def notifications(self) -> AsyncIterator[None]:
        """Yield whenever a job may have become claimable (NOTIFY on the queue's channel)."""
        async for _ in self.db.listen(NOTIFY_CHANNEL):
            yield
