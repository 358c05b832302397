"""One project's memory exports (``memory_exports``): stored snapshots, found by id or by filters."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from psycopg import sql
from psycopg.types.json import Jsonb

from mnemo.domain.memories import Scope
from mnemo.filters import Node
from mnemo.storage.database import Conn
from mnemo.storage.filter_sql import compile_filter
from mnemo.storage.tenant import TenantGuard


@dataclass(frozen=True, slots=True)
class StoredExport:
    id: uuid.UUID
    result: dict[str, Any]


class ExportStore:
    __slots__ = ("_conn", "_guard")

    def __init__(self, conn: Conn, guard: TenantGuard) -> None:
        self._conn = conn
        self._guard = guard

    async def insert(
        self,
        *,
        scope: Scope,
        schema: object,
        filters: dict[str, Any],
        export_instructions: str | None,
        memory_ids: Sequence[uuid.UUID],
        result: dict[str, Any],
    ) -> uuid.UUID:
        """Store an export of the memories ``memory_ids``; deleting any of them deletes it (:meth:`drop_containing`)."""
        export_id = uuid.uuid4()
        statement = self._guard.sql(
            "INSERT INTO memory_exports (project_id, id, user_id, agent_id, app_id, run_id, schema, filters,"
            " export_instructions, memory_count, memory_ids, result)"
            " VALUES ({project}, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)"
        )
        values = (
            export_id,
            scope.user_id,
            scope.agent_id,
            scope.app_id,
            scope.run_id,
            Jsonb(schema),
            Jsonb(filters),
            export_instructions,
            len(memory_ids),
            list(memory_ids),
            Jsonb(result),
        )
        await self._conn.execute(statement, values)
        return export_id

    async def latest(self, export_id: uuid.UUID | None, selection: Node | None) -> StoredExport | None:
        """The newest export with this id and/or matching ``selection`` (over the export's pinned entity ids
        and its timestamps)."""
        parts: list[sql.Composable] = [sql.SQL("TRUE")]
        params: list[object] = []
        if export_id is not None:
            parts.append(sql.SQL("e.id = %s"))
            params.append(export_id)
        if selection is not None:
            where, filter_params = compile_filter(selection, alias="e")
            parts.append(sql.SQL("({})").format(where))
            params.extend(filter_params)
        statement = self._guard.sql(
            "SELECT e.id, e.result FROM memory_exports e WHERE e.{tenant} AND {where}"
            " ORDER BY e.created_at DESC, e.id LIMIT 1",
            where=sql.SQL(" AND ").join(parts),
        )
        row = await (await self._conn.execute(statement, params)).fetchone()
        return StoredExport(id=row["id"], result=row["result"]) if row else None

    async def drop_containing(self, memory_ids: Sequence[uuid.UUID]) -> None:
        """Delete every export holding one of ``memory_ids`` (an export keeps no deleted memory).

        Run after the memories' own DELETE, as a statement of its own, so its snapshot is taken after that
        deletion got its row locks: an export being created holds its memories locked (``FOR KEY SHARE``)
        until it commits, so it is either committed and seen here, or made after and without them.
        """
        if memory_ids:
            statement = self._guard.sql("DELETE FROM memory_exports e WHERE e.{tenant} AND e.memory_ids && %s::uuid[]")
            await self._conn.execute(statement, (list(memory_ids),))
