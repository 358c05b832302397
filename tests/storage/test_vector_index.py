"""The HNSW index for large scopes: built once, walked by ``nearest(approximate=True)``, never starved by the
scope filter (pgvector's iterative scan), and never used by the exact scan."""

from __future__ import annotations

import numpy as np
import pytest

from mnemo.storage import Database, ProjectData, ReadOptions, ensure_vector_index
from tests.storage.support import BOB, DIMENSIONS, insert, memory, select, vec

pytestmark = pytest.mark.anyio

ALICE_ONLY = select({"user_id": "alice"})


async def _index_scans(db: Database) -> int:
    """Scans of the index so far, as counted by the pool's one backend (its own counts flushed first)."""
    async with db.connection() as conn:
        await conn.execute("SELECT pg_stat_force_next_flush()")
        await conn.execute("SELECT pg_stat_clear_snapshot()")
        row = await (
            await conn.execute(
                "SELECT coalesce(sum(idx_scan), 0) AS scans FROM pg_stat_user_indexes"
                " WHERE indexrelname = 'memories_embedding_hnsw'"
            )
        ).fetchone()
    assert row is not None
    return int(row["scans"])


async def test_a_scope_filter_cannot_starve_the_approximate_search(
    module_migrated_database_url: str, project: ProjectData
) -> None:
    db = Database(module_migrated_database_url, min_size=1, max_size=1)  # one backend: its index counts
    await db.open()
    try:
        await _check_approximate(db, ProjectData(db, project.project_id))
    finally:
        await db.close()


async def _check_approximate(db: Database, project: ProjectData) -> None:
    assert await ensure_vector_index(db, DIMENSIONS) is True
    assert await ensure_vector_index(db, DIMENSIONS) is False, "built once"
    rng = np.random.default_rng(14)
    # Bob's 400 memories all sit right next to the query; Alice's five are far from it and from each other.
    near_query = [vec(1.0, *(rng.normal(0, 0.05, DIMENSIONS - 1))) for _ in range(400)]
    await insert(project, *(memory(f"Bob {i}.", scope=BOB, vector=v) for i, v in enumerate(near_query)))
    alices = await insert(
        project,
        memory("Alice A.", vector=vec(0.5, 1)),
        memory("Alice B.", vector=vec(0.3, 0, 1)),
        memory("Alice C.", vector=vec(0.1, 0, 0, 1)),
        memory("Alice D.", vector=vec(0, 0, 0, 0, 1)),
        memory("Alice E.", vector=vec(-1, 0, 0, 0, 0, 0.1)),
    )
    async with db.connection() as conn:
        await conn.execute("ANALYZE memories")
    before = await _index_scans(db)
    async with project.reading() as tables:
        approximate = await tables.search.nearest(vec(1, 0), ALICE_ONLY, ReadOptions(), limit=5, approximate=True)
    walked = await _index_scans(db)
    async with project.reading() as tables:
        exact = await tables.search.nearest(vec(1, 0), ALICE_ONLY, ReadOptions(), limit=5)
        await tables.search.nearest(vec(1, 0), ALICE_ONLY, ReadOptions(), limit=3, also=[str(a) for a in alices[3:]])
    assert [c.id for c in approximate] == alices, "all five, nearest first, though 400 nearer rows are Bob's"
    assert [c.id for c in exact] == alices
    assert [c.similarity for c in approximate] == pytest.approx([c.similarity for c in exact], abs=1e-6)
    assert walked == before + 1, "the approximate search walked the index"
    assert await _index_scans(db) == walked, "the exact ones did not"


async def test_the_index_keeps_the_links_it_was_built_with(fresh_db: Database) -> None:
    assert await ensure_vector_index(fresh_db, DIMENSIONS, links=24) is True
    assert await ensure_vector_index(fresh_db, DIMENSIONS, links=32) is False, "an existing index is kept"
    async with fresh_db.connection() as conn:
        row = await (
            await conn.execute("SELECT reloptions FROM pg_class WHERE relname = 'memories_embedding_hnsw'")
        ).fetchone()
    assert row is not None
    assert sorted(row["reloptions"]) == ["ef_construction=256", "m=24"], "at least 256 candidates by default"
