"""Facts about the whole deployment (``deployment``): which embedding model its vectors come from."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from psycopg.types.json import Jsonb

from mnemo.storage.database import Database


class VectorSpaceMismatch(Exception):
    """The database holds vectors of another embedding model than this process is configured with."""


@dataclass(frozen=True, slots=True)
class VectorSpace:
    """The embedding model whose vectors the memories hold; ``reembedding``: ``mnemo reembed`` is replacing them
    with this model's, and has not finished."""

    space: str
    dimensions: int
    reembedding: bool = False

    def as_value(self) -> dict[str, Any]:
        value: dict[str, Any] = {"space": self.space, "dimensions": self.dimensions}
        return value | {"reembedding": True} if self.reembedding else value


async def claim_vector_space(db: Database, space: str, dimensions: int) -> None:
    """Record the embedding model of this deployment on first start; refuse another one later, and any while
    ``mnemo reembed`` is replacing the vectors."""
    wanted = VectorSpace(space, dimensions)
    async with db.transaction() as conn:
        await conn.execute(
            "INSERT INTO deployment (key, value) VALUES ('vector_space', %s) ON CONFLICT (key) DO NOTHING",
            (Jsonb(wanted.as_value()),),
        )
    recorded = await recorded_vector_space(db) or wanted
    if recorded.reembedding:
        raise VectorSpaceMismatch(
            f"this database's memories are being re-embedded with {recorded.space} (`mnemo reembed`) and the"
            " re-embedding has not finished: wait for it, or run `mnemo reembed` again with that model if it stopped."
        )
    if recorded != wanted:
        raise VectorSpaceMismatch(
            f"this database holds vectors of {recorded.space} ({recorded.dimensions} dimensions), but"
            f" this process is configured to embed with {space} ({dimensions} dimensions). Vectors of"
            " different models cannot be compared: configure the same embedder (MNEMO_EMBEDDER and its"
            " model settings) as the processes that wrote them, run `mnemo reembed` with the new one, or use"
            " another database."
        )


async def recorded_vector_space(db: Database) -> VectorSpace | None:
    """The deployment's recorded model (None before any process has started on it)."""
    async with db.connection() as conn:
        row = await (await conn.execute("SELECT value FROM deployment WHERE key = 'vector_space'")).fetchone()
    if row is None:
        return None
    value = row["value"]
    return VectorSpace(str(value["space"]), int(value["dimensions"]), bool(value.get("reembedding", False)))


async def record_vector_space(db: Database, space: VectorSpace) -> None:
    """Record ``space`` as the deployment's model, whatever was recorded (``mnemo reembed`` only)."""
    async with db.transaction() as conn:
        await conn.execute(
            "INSERT INTO deployment (key, value) VALUES ('vector_space', %s)"
            " ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value",
            (Jsonb(space.as_value()),),
        )
