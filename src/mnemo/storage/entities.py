"""One project's entities (``entities``): the users, agents, apps and runs its memories were written under.

An entity is a record of its own. The first memory written under it creates it, in the writer's transaction
(the ``memories_entities`` trigger of migration 0011, so every path that writes memories records them);
deleting memories never removes it, so after a delete-all the entity is still listed, with 0 memories, until
it is deleted by name (:meth:`EntityStore.delete`, with its memories, by the caller, in one transaction).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from psycopg import sql

from mnemo.domain.feedback import FEEDBACK_VALUES
from mnemo.domain.memories import ENTITY_KINDS
from mnemo.storage.database import Conn
from mnemo.storage.tenant import TenantGuard

_COLUMNS = "e.id, e.kind, e.name, e.metadata, e.created_at, e.updated_at"
_ONE = "SELECT " + _COLUMNS + " FROM entities e WHERE e.{tenant} AND kind = %s"


@dataclass(frozen=True, slots=True)
class EntityRecord:
    """An entity, with how many memories it owns now and when the newest of them last changed."""

    id: int
    kind: str
    name: str
    metadata: dict[str, Any] | None
    created_at: datetime
    updated_at: datetime
    total_memories: int


@dataclass(frozen=True, slots=True)
class ProjectStats:
    """What ``GET /v1/stats/`` reports of one project."""

    total_memories: int
    current_memories: int
    entities: dict[str, int]
    add_requests: int
    feedback: dict[str, int]


class EntityStore:
    __slots__ = ("_conn", "_guard")

    def __init__(self, conn: Conn, guard: TenantGuard) -> None:
        self._conn = conn
        self._guard = guard

    async def page(self, *, offset: int, limit: int) -> tuple[dict[str, int], list[EntityRecord]]:
        """How many entities of each kind, and one page of them, newest first."""
        counts_stmt = self._guard.sql("SELECT kind, count(*) AS n FROM entities WHERE {tenant} GROUP BY kind")
        counts = {row["kind"]: int(row["n"]) for row in await (await self._conn.execute(counts_stmt)).fetchall()}
        statement = self._guard.sql(
            "SELECT " + _COLUMNS + " FROM entities e WHERE e.{tenant}"
            " ORDER BY e.created_at DESC, e.kind, e.name LIMIT %s OFFSET %s"
        )
        rows = await (await self._conn.execute(statement, (limit, offset))).fetchall()
        return {kind: counts.get(kind, 0) for kind in ENTITY_KINDS}, await self._with_memories(rows)

    async def get(self, kind: str, name: str) -> EntityRecord | None:
        statement = self._guard.sql(_ONE + " AND name = %s")
        row = await (await self._conn.execute(statement, (kind, name))).fetchone()
        return (await self._with_memories([row]))[0] if row else None

    async def get_by_id(self, kind: str, entity_id: int) -> EntityRecord | None:
        statement = self._guard.sql(_ONE + " AND id = %s")
        row = await (await self._conn.execute(statement, (kind, entity_id))).fetchone()
        return (await self._with_memories([row]))[0] if row else None

    async def delete(self, kind: str, name: str) -> bool:
        """Inside the caller's transaction (which deletes the entity's memories too): forget the entity, its
        profile with it. False when the project has no such entity."""
        statement = self._guard.sql("DELETE FROM entities WHERE {tenant} AND kind = %s AND name = %s RETURNING id")
        return await (await self._conn.execute(statement, (kind, name))).fetchone() is not None

    async def _with_memories(self, rows: Sequence[dict[str, Any]]) -> list[EntityRecord]:
        """The entities of ``rows`` with their memory counts: one query per kind present."""
        found: dict[tuple[str, str], tuple[int, datetime | None]] = {}
        for kind in ENTITY_KINDS:
            names = [row["name"] for row in rows if row["kind"] == kind]
            if not names:
                continue
            statement = self._guard.sql(
                "SELECT {column} AS name, count(*) AS n, max(updated_at) AS newest FROM memories"
                " WHERE {tenant} AND {column} = ANY(%s) GROUP BY {column}",
                column=sql.Identifier(f"{kind}_id"),
            )
            for row in await (await self._conn.execute(statement, (names,))).fetchall():
                found[(kind, row["name"])] = (int(row["n"]), row["newest"])
        records = []
        for row in rows:
            count, newest = found.get((row["kind"], row["name"]), (0, None))
            updated = max(row["updated_at"], newest) if newest is not None else row["updated_at"]
            records.append(EntityRecord(**{**row, "updated_at": updated, "total_memories": count}))
        return records

    async def stats(self) -> ProjectStats:
        statement = self._guard.sql(
            "SELECT (SELECT count(*) FROM memories WHERE {tenant}) AS total,"
            " (SELECT count(*) FROM memories WHERE {tenant} AND replaced_by IS NULL) AS current,"
            " (SELECT count(*) FROM events WHERE {tenant} AND event_type = 'ADD') AS adds,"
            " (SELECT coalesce(jsonb_object_agg(kind, n), '{{}}') FROM"
            "   (SELECT kind, count(*) AS n FROM entities WHERE {tenant} GROUP BY kind) k) AS entities,"
            " (SELECT coalesce(jsonb_object_agg(feedback, n), '{{}}') FROM"
            "   (SELECT feedback, count(*) AS n FROM memory_feedback WHERE {tenant} AND feedback IS NOT NULL"
            "    GROUP BY feedback) f) AS feedback"
        )
        row = await (await self._conn.execute(statement)).fetchone()
        assert row is not None
        return ProjectStats(
            total_memories=int(row["total"]),
            current_memories=int(row["current"]),
            entities={kind: int(row["entities"].get(kind, 0)) for kind in ENTITY_KINDS},
            add_requests=int(row["adds"]),
            feedback={value: int(row["feedback"].get(value, 0)) for value in FEEDBACK_VALUES},
        )
