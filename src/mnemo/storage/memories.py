"""One project's memories (``memories``): insert, read, page, update, supersede, delete.

Every change writes its history entry (:class:`~mnemo.storage.history.HistoryStore`) in the same
transaction, and a delete also drops the exports holding a deleted memory
(:class:`~mnemo.storage.exports.ExportStore`): a deleted memory survives nowhere.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, LiteralString

from psycopg import sql
from psycopg.types.json import Jsonb

from mnemo.domain.events import EventStatus, EventType
from mnemo.domain.memories import MemoryRecord, Scope, add_result, add_result_of
from mnemo.domain.webhooks import Announced, change_notices
from mnemo.filters import Node
from mnemo.storage.database import Conn
from mnemo.storage.deliveries import DeliveryLog, enqueue_deliveries, notice_rows
from mnemo.storage.events import ADDED_EVENT_OF_M, EventStore, added_event_values
from mnemo.storage.exports import ExportStore
from mnemo.storage.filter_sql import compile_filter
from mnemo.storage.history import ADDED_FROM_M, HistoryStore
from mnemo.storage.idempotency import IdempotencyStore
from mnemo.storage.records import (
    MEMORY_COLUMNS,
    MemoryPatch,
    NewMemory,
    ReadOptions,
    multirange,
    record_from_row,
)
from mnemo.storage.tenant import ROWS_PER_INSERT, TenantGuard, in_parts, project_rows


def visibility(options: ReadOptions) -> sql.Composable:
    """The condition (over ``memories`` aliased ``m``) that hides expired or superseded memories."""
    parts: list[sql.Composable] = []
    if not options.show_expired:
        parts.append(sql.SQL("(m.expiration_date IS NULL OR m.expiration_date >= current_date)"))
    if options.latest_only:
        parts.append(sql.SQL("m.replaced_by IS NULL"))
    return sql.SQL(" AND ").join(parts) if parts else sql.SQL("TRUE")


@dataclass(frozen=True, slots=True)
class KeptMemory:
    """A memory moving in from elsewhere (``mnemo import``), written as it was: its id, times and lifecycle."""

    id: uuid.UUID
    memory: NewMemory
    updated_at: datetime
    replaced_by: uuid.UUID | None = None
    state: str = "active"


@dataclass(frozen=True, slots=True)
class _Row:
    """A memory as one INSERT writes it."""

    id: uuid.UUID
    memory: NewMemory
    event_id: uuid.UUID | None
    replaced_by: uuid.UUID | None
    state: str
    updated_at: datetime


#: The inserted memories' final vectors, queued for a worker (the ids and inputs of those that have one).
_QUEUE_JOINT_VECTORS: LiteralString = (
    ", queued AS (INSERT INTO pending_vectors (project_id, memory_id, hash, input)"
    " SELECT {project}, m.id, m.hash, q.input FROM m JOIN unnest(%s::uuid[], %s::text[]) q(id, input) ON q.id = m.id)"
)


def _new_rows(memories: Sequence[NewMemory], event_id: uuid.UUID | None) -> list[_Row]:
    """New memories as rows to insert: each a new id, active, updated when created."""
    return [_Row(uuid.uuid4(), m, event_id, None, "active", m.created_at) for m in memories]


def _announced(row: _Row) -> Announced:
    """The row as its webhooks' ADD notice tells it (enqueued by the insert itself, for the rows inserted)."""
    memory = row.memory
    return Announced(row.id, memory.text, memory.scope, row.state, row.replaced_by, memory.categories)


def _insert_values(row: _Row) -> tuple[Any, ...]:
    """The 23 parameters of one row of :meth:`MemoryStore._insert` (after the project id)."""
    memory = row.memory
    return (
        row.id,
        memory.scope.user_id,
        memory.scope.agent_id,
        memory.scope.app_id,
        memory.scope.run_id,
        memory.text,
        memory.index.hash,
        Jsonb(memory.metadata) if memory.metadata is not None else None,
        list(memory.categories),
        memory.immutable,
        memory.expiration_date,
        memory.attributed_to,
        memory.actor_name,
        row.event_id,
        row.replaced_by,
        row.state,
        memory.embedding,
        list(memory.index.entities),
        multirange(memory.index.dates),
        list(memory.context_events),
        memory.small_talk,
        memory.created_at,
        row.updated_at,
    )


class MemoryStore:
    __slots__ = ("_conn", "_deliveries", "_events", "_exports", "_guard", "_history", "_idempotency")

    def __init__(
        self,
        conn: Conn,
        guard: TenantGuard,
        *,
        history: HistoryStore,
        exports: ExportStore,
        events: EventStore,
        idempotency: IdempotencyStore,
        deliveries: DeliveryLog,
    ) -> None:
        self._conn = conn
        self._guard = guard
        self._history = history
        self._exports = exports
        self._events = events
        self._idempotency = idempotency
        self._deliveries = deliveries

    # --- writes ------------------------------------------------------------------------------

    async def insert(
        self,
        memories: Sequence[NewMemory],
        *,
        event_id: uuid.UUID | None,
        input_messages: list[dict[str, Any]] | None,
    ) -> list[MemoryRecord]:
        """Insert memories; exact duplicates of an existing memory in the same scope are skipped.

        Returns only the memories actually inserted, in input order.
        """
        return await self._insert(_new_rows(memories, event_id), input_messages=input_messages)

    async def insert_add(
        self,
        memories: Sequence[NewMemory],
        *,
        event_id: uuid.UUID,
        input_messages: list[dict[str, Any]],
        payload: dict[str, Any],
        scope: Scope,
    ) -> list[MemoryRecord]:
        """A verbatim add: its memories (as :meth:`insert`) and its SUCCEEDED event ``event_id``, whose results are
        those of the memories inserted (:func:`~mnemo.domain.memories.add_result`). One statement writes both, so
        the add is atomic on an autocommit connection, with no BEGIN and COMMIT around it; an add of more memories
        than a statement takes (or of none) is written in a transaction of its own (a savepoint inside the
        caller's)."""
        rows = _new_rows(memories, event_id)
        if 0 < len(rows) <= ROWS_PER_INSERT:
            planned = [add_result_of(row.id, row.memory.text, row.memory.scope) for row in rows]
            event = added_event_values(event_id, payload, scope, planned)
            return await self._insert(rows, input_messages=input_messages, event=event)
        async with self._conn.transaction():
            written = await self._insert(rows, input_messages=input_messages)
            await self._events.create(
                event_type=EventType.ADD,
                status=EventStatus.SUCCEEDED,
                payload=payload,
                results=[add_result(r) for r in written],
                event_id=event_id,
                scope=scope,
            )
        return written

    async def insert_kept(self, memories: Sequence[KeptMemory]) -> list[MemoryRecord]:
        """Insert memories with their own ids and times (an ADD history entry each); one whose id the project
        holds, or whose text its scope and speaker already have, is skipped. Returns those inserted."""
        rows = [_Row(kept.id, kept.memory, None, kept.replaced_by, kept.state, kept.updated_at) for kept in memories]
        return await self._insert(rows, input_messages=None)

    async def _insert(
        self,
        rows: Sequence[_Row],
        *,
        input_messages: list[dict[str, Any]] | None,
        event: list[Any] | None = None,
    ) -> list[MemoryRecord]:
        """Multi-row INSERT ... ON CONFLICT DO NOTHING (a conflict: the id, or the text in its scope and speaker, is
        already there, or comes earlier in ``rows``) with an ADD history entry for each row inserted, in the same
        statement; returns the rows inserted, in input order. One statement, not one per row and table: a pipelined
        ``executemany`` cost the worker more Python than the rows themselves. ``event``: the parameters of the add's
        event (:data:`~mnemo.storage.events.ADDED_EVENT_OF_M`), recorded by the same statement (rows of one part
        only)."""
        inserted: dict[uuid.UUID, MemoryRecord] = {}
        messages = Jsonb(input_messages) if input_messages is not None else None
        for part in in_parts(rows):
            later = [(row.id, row.memory.joint_input) for row in part if row.memory.joint_input is not None]
            statement = self._guard.sql(
                "WITH m AS (INSERT INTO memories (project_id, id, user_id, agent_id, app_id, run_id, memory, hash,"
                " metadata, categories, immutable, expiration_date, attributed_to, actor_name, event_id, replaced_by,"
                " state, embedding, entities, dates, context_events, small_talk, created_at, updated_at)"
                " VALUES " + project_rows(len(part), 23) + " ON CONFLICT DO NOTHING RETURNING " + MEMORY_COLUMNS + "),"
                " history AS (" + ADDED_FROM_M + "),"
                " announced AS ("
                + enqueue_deliveries(" JOIN m ON m.id = c.memory_id")
                + ")"
                + (_QUEUE_JOINT_VECTORS if later else "")
                + (", event AS (" + ADDED_EVENT_OF_M + ")" if event is not None else "")
                + " SELECT * FROM m",
            )
            values = [value for row in part for value in _insert_values(row)]
            notices = notice_rows([(row.id, said) for row in part for said in change_notices(_announced(row), "ADD")])
            queued = [[memory_id for memory_id, _ in later], [text for _, text in later]] if later else []
            parameters = [*values, messages, notices, *queued, *(event or [])]
            for found in await (await self._conn.execute(statement, parameters)).fetchall():
                record = record_from_row(found)
                inserted[record.id] = record
        return [inserted.pop(row.id) for row in rows if row.id in inserted]

    async def existing_ids(self, ids: Sequence[uuid.UUID]) -> set[uuid.UUID]:
        """Which of ``ids`` the project's memories hold."""
        statement = self._guard.sql("SELECT m.id FROM memories m WHERE {tenant} AND m.id = ANY(%s)")
        rows = await (await self._conn.execute(statement, (list(ids),))).fetchall()
        return {row["id"] for row in rows}

    async def update(self, current: MemoryRecord, patch: MemoryPatch) -> MemoryRecord:
        """Apply ``patch`` to a memory the caller has locked (``get(..., lock=True)``)."""
        statement = self._guard.sql(
            "UPDATE memories m SET memory = coalesce(%s, memory), hash = coalesce(%s, hash),"
            " embedding = coalesce(%s, embedding), entities = coalesce(%s, entities),"
            " dates = CASE WHEN %s THEN %s ELSE dates END,"
            " metadata = CASE WHEN %s THEN %s ELSE metadata END,"
            " expiration_date = CASE WHEN %s THEN %s ELSE expiration_date END,"
            " created_at = coalesce(%s, created_at), updated_at = clock_timestamp(),"
            # A memory someone rewrote is what they chose to keep, whatever the message it came from said.
            " small_talk = small_talk AND %s::text IS NULL"
            " WHERE {tenant} AND m.id = %s RETURNING " + MEMORY_COLUMNS
        )
        index = patch.index
        values = (
            patch.text,
            index.hash if index else None,
            patch.embedding,
            list(index.entities) if index else None,
            index is not None,
            multirange(index.dates if index else ()),
            patch.set_metadata,
            Jsonb(patch.metadata) if patch.metadata is not None else None,
            patch.set_expiration,
            patch.expiration_date,
            patch.created_at,
            patch.text,
            current.id,
        )
        row = await (await self._conn.execute(statement, values)).fetchone()
        assert row is not None, "update of a memory the caller did not lock"
        updated = record_from_row(row)
        await self._history.record([(updated, "UPDATE", current.memory, updated.memory)])
        await self._deliveries.updated([updated])
        return updated

    async def supersede(self, old_ids: Sequence[uuid.UUID], new_id: uuid.UUID) -> int:
        """Inside the write transaction: link older memories to the memory that replaces them; returns how many
        changed.

        Only current memories (``replaced_by IS NULL``) are linked, and only to a current memory: both ends are
        row-locked first (in id order), then checked, so two concurrent adds cannot both re-point one memory,
        and a chain never loops (a link only ever joins the ends of two chains). Immutable memories are kept.
        """
        lock = self._guard.sql("SELECT m.id FROM memories m WHERE {tenant} AND m.id = ANY(%s) ORDER BY m.id FOR UPDATE")
        await self._conn.execute(lock, ([*old_ids, new_id],))
        statement = self._guard.sql(
            "UPDATE memories m SET replaced_by = %s, state = 'superseded', updated_at = clock_timestamp()"
            " WHERE {tenant} AND m.id = ANY(%s) AND m.id <> %s AND NOT m.immutable AND m.replaced_by IS NULL"
            " AND EXISTS (SELECT 1 FROM memories s WHERE s.{tenant} AND s.id = %s AND s.replaced_by IS NULL)"
            " RETURNING " + MEMORY_COLUMNS
        )
        rows = await (await self._conn.execute(statement, (new_id, list(old_ids), new_id, new_id))).fetchall()
        changed = [record_from_row(row) for row in rows]
        await self._history.record([(r, "UPDATE", r.memory, r.memory) for r in changed])
        await self._deliveries.updated(changed)
        return len(changed)

    async def delete(self, selection: Node) -> list[uuid.UUID]:
        """Inside the caller's transaction: delete every memory ``selection`` matches. Deleted means deleted: its
        text leaves history (a DELETE entry keeps that it existed, and when), the events of the adds that wrote
        it (their payloads and its result) and every export holding it."""
        where, params = compile_filter(selection, alias="m")
        statement = self._guard.sql(
            "DELETE FROM memories m WHERE {tenant} AND ({where})"
            " RETURNING id, user_id, agent_id, app_id, run_id, event_id",
            where=where,
        )
        rows = await (await self._conn.execute(statement, params)).fetchall()
        deleted = [row["id"] for row in rows]
        event_ids = sorted({row["event_id"] for row in rows if row["event_id"] is not None})
        await self._history.record_deletions(rows, event_ids)
        await self._events.redact(event_ids, deleted)
        await self._idempotency.redact(event_ids, deleted)
        await self._exports.drop_containing(deleted)
        await self._deliveries.deleted(rows)
        await self._restore_replaced(deleted)
        return deleted

    async def _restore_replaced(self, deleted: Sequence[uuid.UUID]) -> None:
        """A memory replaced by one that is now deleted is current again (deleting a correction restores what
        it corrected); its history says so."""
        if not deleted:
            return
        statement = self._guard.sql(
            "UPDATE memories m SET replaced_by = NULL, state = 'active', updated_at = clock_timestamp()"
            " WHERE {tenant} AND m.replaced_by = ANY(%s) RETURNING " + MEMORY_COLUMNS
        )
        rows = await (await self._conn.execute(statement, (list(deleted),))).fetchall()
        restored = [record_from_row(row) for row in rows]
        await self._history.record([(r, "UPDATE", r.memory, r.memory) for r in restored])
        await self._deliveries.updated(restored)

    # --- reads -------------------------------------------------------------------------------

    async def get(self, memory_id: uuid.UUID, *, lock: bool = False) -> MemoryRecord | None:
        """The memory, or None; with ``lock`` (inside a transaction) it is locked for update until it ends."""
        statement = self._guard.sql(
            "SELECT " + MEMORY_COLUMNS + " FROM memories m WHERE {tenant} AND m.id = %s {lock}",
            lock=sql.SQL("FOR UPDATE" if lock else ""),
        )
        row = await (await self._conn.execute(statement, (memory_id,))).fetchone()
        return record_from_row(row) if row else None

    async def get_many(self, ids: Sequence[uuid.UUID]) -> list[MemoryRecord]:
        """The memories of ``ids`` that exist, in the order of ``ids``."""
        statement = self._guard.sql("SELECT " + MEMORY_COLUMNS + " FROM memories m WHERE {tenant} AND m.id = ANY(%s)")
        rows = await (await self._conn.execute(statement, (list(ids),))).fetchall()
        found = {record.id: record for record in map(record_from_row, rows)}
        return [found[i] for i in ids if i in found]

    async def page(
        self, selection: Node, options: ReadOptions, *, offset: int, limit: int, lock: bool = False
    ) -> tuple[int, list[MemoryRecord]]:
        """One page of the memories ``selection`` matches, newest first, and their total count. With ``lock``,
        inside a transaction, the page's rows cannot be deleted until it ends (``FOR KEY SHARE``)."""
        where, params = compile_filter(selection, alias="m")
        count_stmt = self._guard.sql(
            "SELECT count(*) AS n FROM memories m WHERE {tenant} AND ({where}) AND {visible}",
            where=where,
            visible=visibility(options),
        )
        row = await (await self._conn.execute(count_stmt, params)).fetchone()
        total = int(row["n"]) if row else 0
        page_stmt = self._guard.sql(
            "SELECT " + MEMORY_COLUMNS + " FROM memories m WHERE {tenant} AND ({where}) AND {visible}"
            " ORDER BY m.created_at DESC, m.id LIMIT %s OFFSET %s {lock}",
            where=where,
            visible=visibility(options),
            lock=sql.SQL("FOR KEY SHARE" if lock else ""),
        )
        rows = await (await self._conn.execute(page_stmt, [*params, limit, offset])).fetchall()
        return total, [record_from_row(r) for r in rows]

    async def superseded_chain(self, memory_id: uuid.UUID) -> list[uuid.UUID]:
        """The memory and every memory it replaced, transitively (for delete_linked)."""
        statement = self._guard.sql(
            "WITH RECURSIVE chain(id) AS (SELECT %s::uuid UNION"
            " SELECT m.id FROM memories m JOIN chain c ON m.replaced_by = c.id WHERE {tenant})"
            " SELECT id FROM chain"
        )
        rows = await (await self._conn.execute(statement, (memory_id,))).fetchall()
        return [row["id"] for row in rows]
