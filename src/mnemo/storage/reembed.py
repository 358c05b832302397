"""Re-embedding a deployment (``mnemo reembed``): every memory, in the order its conversation said it, and its new
vector stored in place.

Like a backup, this is deployment-wide maintenance, not a request of one project: it reads every project's memories,
and it is the one place outside a project's tables that does.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncGenerator, Sequence
from dataclasses import dataclass
from typing import LiteralString

from psycopg.rows import tuple_row

from mnemo.storage.database import Database
from mnemo.storage.records import Vector

#: Every memory, each scope's in the order its messages were said: by the add that wrote it (the events' own clock;
#: a memory's ``created_at`` is the client's ``timestamp``, shared by a whole session), then by the message's place
#: in that add (a verbatim memory's text is its message's), then as written.
_IN_CONVERSATION_ORDER: LiteralString = (
    "SELECT m.project_id, m.user_id, m.agent_id, m.app_id, m.run_id, m.id, m.memory, m.actor_name"
    " FROM memories m LEFT JOIN events e ON e.project_id = m.project_id AND e.id = m.event_id"
    " ORDER BY m.project_id, m.user_id NULLS FIRST, m.agent_id NULLS FIRST, m.app_id NULLS FIRST,"
    "  m.run_id NULLS FIRST, coalesce(e.created_at, m.created_at),"
    "  (SELECT min(said.place) FROM jsonb_array_elements(CASE jsonb_typeof(e.payload -> 'messages')"
    "    WHEN 'array' THEN e.payload -> 'messages' ELSE '[]'::jsonb END) WITH ORDINALITY said(message, place)"
    "   WHERE said.message ->> 'content' = m.memory) NULLS LAST,"
    "  m.created_at, m.id"
)


@dataclass(frozen=True, slots=True)
class StoredMemory:
    """A memory as re-embedding reads it: where it lives, its text and who said it."""

    #: its project and entity ids: the conversation it belongs to
    conversation: tuple[str, str | None, str | None, str | None, str | None]
    id: uuid.UUID
    memory: str
    speaker: str | None

    @property
    def project_id(self) -> str:
        return self.conversation[0]


async def count_memories(db: Database) -> int:
    async with db.connection() as conn:
        row = await (await conn.execute("SELECT count(*) AS n FROM memories")).fetchone()
    return int(row["n"]) if row else 0


async def memories_in_conversation_order(db: Database, *, batch: int) -> AsyncGenerator[list[StoredMemory], None]:
    """Every memory of the deployment, ``batch`` at a time, each conversation's in the order it was said (one
    snapshot, read through a server-side cursor)."""
    async with db.transaction() as conn:
        async with conn.cursor("mnemo_reembed", row_factory=tuple_row) as cursor:
            await cursor.execute(_IN_CONVERSATION_ORDER)
            while rows := await cursor.fetchmany(batch):
                yield [
                    StoredMemory((project, user, agent, app, run), memory_id, text, speaker)
                    for project, user, agent, app, run, memory_id, text, speaker in rows
                ]


async def store_vectors(db: Database, memories: Sequence[StoredMemory], vectors: Sequence[Vector]) -> None:
    """Replace the vectors of ``memories`` (one statement; a memory deleted meanwhile is skipped)."""
    async with db.transaction() as conn:
        await conn.execute(
            "UPDATE memories m SET embedding = v.embedding"
            " FROM unnest(%s::text[], %s::uuid[], %b::vector[]) v(project_id, id, embedding)"
            " WHERE m.project_id = v.project_id AND m.id = v.id",
            ([m.project_id for m in memories], [m.id for m in memories], list(vectors)),
        )
