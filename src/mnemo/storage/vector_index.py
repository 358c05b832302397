"""The approximate nearest-neighbour index (pgvector HNSW) for large scopes, built when a deployment asks for it.

The ``embedding`` column is untyped (the deployment's model decides the dimensions, ``deployment``), so the index
is on the expression ``embedding::vector(N)`` for the deployment's N. Searches use it only through that
expression (:meth:`mnemo.storage.search.SearchStore.nearest` with ``approximate``); the exact scan orders by the
bare column, which the index cannot serve, so a small scope is never searched approximately by accident.
"""

from __future__ import annotations

import logging
import time

from psycopg import sql

from mnemo.storage.database import Database

logger = logging.getLogger(__name__)

INDEX_NAME = "memories_embedding_hnsw"
#: Candidates a walk keeps by default (pgvector's ``hnsw.ef_search``, at most 1000; at least the rows asked for):
#: recall against time. With the default build, recall@10 against the exact scan at 1,000,000 memories in one scope
#: was 0.957 and 0.9925 at 1000 in two builds (0.937 and 0.972 at 800), the walk's p95 ~20 ms (bench/large_scope.py).
HNSW_EF_SEARCH = 1000
#: Serialises the build between processes starting together (the first builds, the others find it).
_LOCK_KEY = 0x6D6E656D6F_4E4E  # "mnemo" + "NN"


async def ensure_vector_index(
    db: Database, dimensions: int, *, links: int = 16, construction: int | None = None, build_memory: str = "512MB"
) -> bool:
    """Build the HNSW index over every memory's vector unless it exists; True when this call built it.

    ``links`` is pgvector's ``m``, the links each node keeps: more cost a longer build and a larger index, and let
    a walk with a smaller ``hnsw.ef_search`` reach the same recall. ``construction`` is pgvector's
    ``ef_construction``, the candidates kept while linking each node (default ``max(256, 4 * links)``): more make
    a better graph, reached by a walk with fewer misses, at a build and inserts that cost more (at 1,000,000
    memories, 256 against 128: build 361-368 s against 212 s, an insert 2.7-3.0 ms against 2.3 ms). An index built with
    other parameters is kept as it is (drop it to rebuild).

    Building reads every vector once (on two cores, about 36 s per 100,000 memories with the default
    ``construction``, 21 s at 128, while the graph fits in ``build_memory``, PostgreSQL's ``maintenance_work_mem``:
    ~1.7 kB a memory; past it the build slows down several times); every later insert also updates the index."""
    async with db.transaction() as conn:
        await conn.execute("SELECT pg_advisory_xact_lock(%s)", (_LOCK_KEY,))
        found = await (await conn.execute("SELECT to_regclass(%s) IS NOT NULL AS found", (INDEX_NAME,))).fetchone()
        if found is not None and found["found"]:
            return False
        started = time.perf_counter()
        logger.info("building the HNSW index of memory vectors (MNEMO_VECTOR_INDEX_MIN_MEMORIES is set)")
        await conn.execute("SELECT set_config('maintenance_work_mem', %s, true)", (build_memory,))
        await conn.execute(
            sql.SQL(
                "CREATE INDEX {name} ON memories USING hnsw ((embedding::vector({dims})) vector_cosine_ops)"
                " WITH (m = {links}, ef_construction = {construction})"
            ).format(
                name=sql.Identifier(INDEX_NAME),
                dims=sql.Literal(dimensions),
                links=sql.Literal(links),
                construction=sql.Literal(construction or max(256, 4 * links)),
            )
        )
    logger.info("HNSW index built in %.1f s", time.perf_counter() - started)
    return True


async def drop_vector_index(db: Database) -> bool:
    """Drop the HNSW index if it exists (its expression names the old model's dimensions); True when it did. A
    process configured for it builds it again when it starts (:func:`ensure_vector_index`)."""
    async with db.transaction() as conn:
        await conn.execute("SELECT pg_advisory_xact_lock(%s)", (_LOCK_KEY,))
        found = await (await conn.execute("SELECT to_regclass(%s) IS NOT NULL AS found", (INDEX_NAME,))).fetchone()
        if found is None or not found["found"]:
            return False
        await conn.execute(sql.SQL("DROP INDEX {name}").format(name=sql.Identifier(INDEX_NAME)))
    return True
