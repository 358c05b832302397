"""Final vectors that workers compute later (``MNEMO_EMBEDDING_CONTEXT=deferred``; migration 0016).

Deployment-wide, like the job queue: a worker serves every project. A worker claims the oldest rows for a while
(:func:`claim_pending`), embeds their inputs outside any transaction, then stores the vectors and drops the rows
(:func:`store_final`). Nothing here holds a lock while the model runs, and :func:`store_final` takes the memory
rows before the queue's, as a delete of the memory (whose rows cascade) does.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import LiteralString

from mnemo.storage.database import Database
from mnemo.storage.records import Vector

#: Neither a claim nor a final vector needs its commit flushed before the worker goes on: a crash that loses one
#: leaves the row queued, and the vector is computed again (no accepted write depends on it).
_NO_FLUSH: LiteralString = "SET LOCAL synchronous_commit = off"


@dataclass(frozen=True, slots=True)
class PendingVector:
    project_id: str
    memory_id: uuid.UUID
    #: the memory's text hash when it was queued
    hash: str
    #: what the model reads
    input: str


async def claim_pending(
    db: Database, *, limit: int, lease: timedelta, queued_for: timedelta = timedelta(0)
) -> list[PendingVector]:
    """The oldest rows no worker holds and queued at least ``queued_for`` ago, now held by the caller for ``lease``
    (a worker that dies lets them go)."""
    async with db.transaction() as conn:
        await conn.execute(_NO_FLUSH)
        rows = await (
            await conn.execute(
                "UPDATE pending_vectors p SET claimed_until = clock_timestamp() + %s"
                " FROM (SELECT project_id, memory_id FROM pending_vectors"
                "  WHERE (claimed_until IS NULL OR claimed_until < clock_timestamp())"
                "   AND queued_at <= clock_timestamp() - %s"
                "  ORDER BY queued_at LIMIT %s FOR UPDATE SKIP LOCKED) c"
                " WHERE p.project_id = c.project_id AND p.memory_id = c.memory_id"
                " RETURNING p.project_id, p.memory_id, p.hash, p.input",
                (lease, queued_for, limit),
            )
        ).fetchall()
    return [PendingVector(row["project_id"], row["memory_id"], row["hash"], row["input"]) for row in rows]


async def store_final(db: Database, pending: Sequence[PendingVector], vectors: Sequence[Vector]) -> int:
    """Give the memories of ``pending`` their vectors, unless deleted or rewritten since, and drop the rows;
    how many memories took their vector."""
    projects = [p.project_id for p in pending]
    ids = [p.memory_id for p in pending]
    async with db.transaction() as conn:
        await conn.execute(_NO_FLUSH)
        cursor = await conn.execute(
            "UPDATE memories m SET embedding = v.embedding"
            " FROM unnest(%s::text[], %s::uuid[], %s::text[], %b::vector[]) v(project_id, id, hash, embedding)"
            " WHERE m.project_id = v.project_id AND m.id = v.id AND m.hash = v.hash",
            (projects, ids, [p.hash for p in pending], list(vectors)),
        )
        stored = cursor.rowcount
        await conn.execute(
            "DELETE FROM pending_vectors p USING unnest(%s::text[], %s::uuid[]) v(project_id, id)"
            " WHERE p.project_id = v.project_id AND p.memory_id = v.id",
            (projects, ids),
        )
    return stored


async def forget_pending_vectors(db: Database) -> int:
    """Drop the whole queue: a re-embedding (``mnemo reembed``) computes every memory's final vector itself."""
    async with db.transaction() as conn:
        return (await conn.execute("DELETE FROM pending_vectors")).rowcount


async def count_pending(db: Database) -> int:
    async with db.connection() as conn:
        row = await (await conn.execute("SELECT count(*) AS n FROM pending_vectors")).fetchone()
    return int(row["n"]) if row else 0


async def oldest_wait(db: Database) -> float:
    """How many seconds the oldest queued row has waited (0.0: none is queued)."""
    async with db.connection() as conn:
        row = await (
            await conn.execute(
                "SELECT coalesce(extract(epoch FROM clock_timestamp() - min(queued_at)), 0)::float8 AS s"
                " FROM pending_vectors"
            )
        ).fetchone()
    return float(row["s"]) if row else 0.0
