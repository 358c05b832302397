"""Facts about the whole deployment (``deployment``): which embedding model its vectors come from."""

from __future__ import annotations

from psycopg.types.json import Jsonb

from mnemo.storage.database import Database


class VectorSpaceMismatch(Exception):
    """The database holds vectors of another embedding model than this process is configured with."""


async def claim_vector_space(db: Database, space: str, dimensions: int) -> None:
    """Record the embedding model of this deployment on first start; refuse another one later."""
    wanted = {"space": space, "dimensions": dimensions}
    async with db.transaction() as conn:
        await conn.execute(
            "INSERT INTO deployment (key, value) VALUES ('vector_space', %s) ON CONFLICT (key) DO NOTHING",
            (Jsonb(wanted),),
        )
        row = await (await conn.execute("SELECT value FROM deployment WHERE key = 'vector_space'")).fetchone()
    recorded = row["value"] if row else wanted
    if recorded != wanted:
        raise VectorSpaceMismatch(
            f"this database holds vectors of {recorded['space']} ({recorded['dimensions']} dimensions), but"
            f" this process is configured to embed with {space} ({dimensions} dimensions). Vectors of"
            " different models cannot be compared: configure the same embedder (MNEMO_EMBEDDER and its"
            " model settings) as the processes that wrote them, or use another database."
        )
