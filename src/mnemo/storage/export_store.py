"""Memory exports of one project (``memory_exports``).

:class:`ExportStore` is a :class:`~mnemo.storage.project_store.ProjectStore`: every statement here is
built by ``ProjectStore._sql`` too, so tenant isolation stays in that one place.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from psycopg import sql
from psycopg.types.json import Jsonb

from mnemo.domain.memories import Scope
from mnemo.storage.project_store import Conn, ProjectStore


@dataclass(frozen=True, slots=True)
class ExportRow:
    id: uuid.UUID
    result: dict[str, Any]


class ExportStore(ProjectStore):
    """The project's memory exports. Construct one per request (cheap)."""

    async def insert_export(
        self,
        conn: Conn,
        *,
        scope: Scope,
        schema: object,
        filters: dict[str, Any],
        export_instructions: str | None,
        memory_ids: Sequence[uuid.UUID],
        result: dict[str, Any],
    ) -> uuid.UUID:
        """Store an export of the memories ``memory_ids``; deleting any of them deletes it
        (:meth:`~mnemo.storage.project_store.ProjectStore.delete_memories`)."""
        export_id = uuid.uuid4()
        statement = self._sql(
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
        await conn.execute(statement, values)
        return export_id

    async def latest_export(self, conn: Conn, where: sql.Composable, params: Sequence[object]) -> ExportRow | None:
        """The newest export matching ``where`` (a condition over ``memory_exports`` aliased ``e``)."""
        statement = self._sql(
            "SELECT e.id, e.result FROM memory_exports e WHERE e.{tenant} AND ({where})"
            " ORDER BY e.created_at DESC, e.id LIMIT 1",
            where=where,
        )
        row = await (await conn.execute(statement, params)).fetchone()
        return ExportRow(id=row["id"], result=row["result"]) if row else None
