"""Feedback on one project's memories (``memory_feedback``): one row per memory, the latest feedback.

A row goes with its memory (a foreign key with ``ON DELETE CASCADE``): deleting a memory, by any path,
deletes its feedback and the reason text in the same statement.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from mnemo.storage.database import Conn
from mnemo.storage.tenant import TenantGuard


@dataclass(frozen=True, slots=True)
class FeedbackRecord:
    memory_id: uuid.UUID
    feedback: str | None
    reason: str | None
    updated_at: datetime


class FeedbackStore:
    __slots__ = ("_conn", "_guard")

    def __init__(self, conn: Conn, guard: TenantGuard) -> None:
        self._conn = conn
        self._guard = guard

    async def give(self, memory_id: uuid.UUID, feedback: str | None, reason: str | None) -> bool:
        """Record the memory's feedback (replacing any before it); both ``None`` clears it. False when the
        project has no such memory."""
        exists = self._guard.sql("SELECT 1 FROM memories m WHERE {tenant} AND m.id = %s FOR KEY SHARE")
        if await (await self._conn.execute(exists, (memory_id,))).fetchone() is None:
            return False
        if feedback is None and reason is None:
            clear = self._guard.sql("DELETE FROM memory_feedback WHERE {tenant} AND memory_id = %s")
            await self._conn.execute(clear, (memory_id,))
            return True
        statement = self._guard.sql(
            "INSERT INTO memory_feedback (project_id, memory_id, feedback, reason) VALUES ({project}, %s, %s, %s)"
            " ON CONFLICT (project_id, memory_id) DO UPDATE SET feedback = excluded.feedback,"
            " reason = excluded.reason, updated_at = clock_timestamp()"
        )
        await self._conn.execute(statement, (memory_id, feedback, reason))
        return True

    async def of(self, memory_ids: Sequence[uuid.UUID]) -> dict[uuid.UUID, FeedbackRecord]:
        """The feedback given on those of ``memory_ids`` that have some."""
        if not memory_ids:
            return {}
        statement = self._guard.sql(
            "SELECT memory_id, feedback, reason, updated_at FROM memory_feedback WHERE {tenant} AND memory_id = ANY(%s)"
        )
        rows = await (await self._conn.execute(statement, (list(memory_ids),))).fetchall()
        return {row["memory_id"]: FeedbackRecord(**row) for row in rows}
