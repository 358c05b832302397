"""A memory's history (``memory_history``): one entry per add, update, supersede and delete."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import Any, LiteralString

from psycopg.types.json import Jsonb

from mnemo.domain.memories import MemoryRecord, Scope
from mnemo.storage.database import Conn
from mnemo.storage.records import HistoryEntry
from mnemo.storage.tenant import TenantGuard, in_parts, project_rows

#: One change: the memory (after it), the event word, its text before and after.
Change = tuple[MemoryRecord, str, str | None, str | None]

_COLUMNS: LiteralString = (
    "project_id, id, memory_id, event, old_memory, new_memory, input, user_id, agent_id, app_id, run_id, categories,"
    " metadata"
)
#: The ADD entries of the memories that a statement's CTE ``m`` has just inserted (``RETURNING`` the memory columns),
#: as one more CTE of that statement: inserting memories and their entries is one round trip. Its one parameter is
#: the add's input messages (JSON, or NULL).
ADDED_FROM_M: LiteralString = (
    "INSERT INTO memory_history (" + _COLUMNS + ") SELECT {project}, gen_random_uuid(), m.id, 'ADD', NULL, m.memory,"
    " %s, m.user_id, m.agent_id, m.app_id, m.run_id, m.categories, m.metadata FROM m"
)


class HistoryStore:
    __slots__ = ("_conn", "_guard")

    def __init__(self, conn: Conn, guard: TenantGuard) -> None:
        self._conn = conn
        self._guard = guard

    async def record(self, changes: Sequence[Change]) -> None:
        """Write one entry per change. (The ADD entries of new memories, with the add's input messages, are written
        by the memories' own insert: :data:`ADDED_FROM_M`.)"""
        if not changes:
            return
        rows = [
            (
                uuid.uuid4(),
                record.id,
                event,
                old,
                new,
                None,  # input: only ADD entries keep the add's messages
                record.scope.user_id,
                record.scope.agent_id,
                record.scope.app_id,
                record.scope.run_id,
                record.categories,
                Jsonb(record.metadata) if record.metadata is not None else None,
            )
            for record, event, old, new in changes
        ]
        for part in in_parts(rows):
            statement = self._guard.sql(
                "INSERT INTO memory_history (" + _COLUMNS + ") VALUES " + project_rows(len(part), 12)
            )
            await self._conn.execute(statement, [value for row in part for value in row])

    async def record_deletions(self, deleted: Sequence[dict[str, Any]], event_ids: Sequence[uuid.UUID]) -> None:
        """Forget what the deleted memories said, and keep that they existed: every history entry of a deleted
        memory loses its texts, input messages, categories and metadata, and so does the input kept with the
        entries of memories written by the same adds (``event_ids``: it holds those adds' messages); then a
        DELETE entry is recorded for each, with its entity ids and the time."""
        if not deleted:
            return
        ids = [row["id"] for row in deleted]
        scrub = self._guard.sql(
            "UPDATE memory_history SET old_memory = NULL, new_memory = NULL, input = NULL, categories = NULL,"
            " metadata = NULL WHERE {tenant} AND memory_id = ANY(%s)"
        )
        await self._conn.execute(scrub, (ids,))
        if event_ids:
            siblings = self._guard.sql(
                "UPDATE memory_history h SET input = NULL WHERE h.{tenant} AND h.input IS NOT NULL AND h.memory_id IN"
                " (SELECT m.id FROM memories m WHERE m.{tenant} AND m.event_id = ANY(%s))"
            )
            await self._conn.execute(siblings, (list(event_ids),))
        statement = self._guard.sql(
            "INSERT INTO memory_history (project_id, id, memory_id, event, user_id, agent_id, app_id, run_id)"
            " SELECT {project}, gen_random_uuid(), d.id, 'DELETE', d.user_id, d.agent_id, d.app_id, d.run_id"
            " FROM jsonb_to_recordset(%s) AS d(id uuid, user_id text, agent_id text, app_id text, run_id text)"
        )
        rows = [
            {"id": str(row["id"]), **{key: row[key] for key in ("user_id", "agent_id", "app_id", "run_id")}}
            for row in deleted
        ]
        await self._conn.execute(statement, (Jsonb(rows),))

    async def of_memory(self, memory_id: uuid.UUID) -> list[HistoryEntry]:
        statement = self._guard.sql(
            "SELECT id, memory_id, event, old_memory, new_memory, input, user_id, agent_id, app_id,"
            " run_id, categories, metadata, created_at FROM memory_history"
            " WHERE {tenant} AND memory_id = %s ORDER BY created_at, id"
        )
        rows = await (await self._conn.execute(statement, (memory_id,))).fetchall()
        return [
            HistoryEntry(
                id=row["id"],
                memory_id=row["memory_id"],
                event=row["event"],
                old_memory=row["old_memory"],
                new_memory=row["new_memory"],
                input=row["input"] or [],
                scope=Scope(row["user_id"], row["agent_id"], row["app_id"], row["run_id"]),
                categories=list(row["categories"] or []),
                metadata=row["metadata"],
                created_at=row["created_at"],
            )
            for row in rows
        ]
