"""One user with a very large scope: exact scan against the HNSW index (issue 14 §3).

The embedded PostgreSQL gets ``--memories`` memories of ONE user, written with COPY: texts from a pool of 3,000
distinct facts (``bench/texts.py``) embedded by the real model, each row's vector its pool text's vector plus
Gaussian noise (σ ``--noise`` per dimension, re-normalised): synthetic, clustered like real text. Then, with 200
questions embedded by the real model:

1. the nearest-neighbour statement of a search (``SearchStore.nearest``, pool 60) timed exactly, and 100
   one-memory inserts timed (insert, history, commit), without the index;
2. the HNSW index built (``mnemo.storage.ensure_vector_index``), timed;
3. the same statement through the index (``approximate``): time, and recall@10 of its ids against the exact
   top 10; 100 more inserts timed, now updating the index;
4. end to end: two ``serve --no-workers`` on the database, one with ``MNEMO_VECTOR_INDEX_MIN_MEMORIES`` set
   (approximate), one without (exact), the same 200 searches sent to both in turn (``top_k`` 10).

    python -m bench.large_scope [--memories 100000] [--noise 0.02] [--mix 0.6] [--links 16]
        [--construction 256] [--shared-buffers 8GB]

With ``--mix M`` each row's vector also takes a second, random pool text's vector at a weight drawn in [0, M]:
without it, the 1,000,000 rows are 3,000 islands of ~333 near-copies each, which an HNSW graph (whose links stay
inside each island) walks badly; real memories spread between topics.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import time
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np
import psycopg
from pgvector.psycopg import register_vector

from bench import texts
from bench.common import MODEL_DIR, embedded_database, machine, percentiles, report
from bench.search import embed_pool, embedder, pool_row_parts, project_of
from mnemo.domain.memories import Scope, index_fields, text_hash
from mnemo.domain.scoring import keyword_query
from mnemo.domain.selection import parse_selection, selection_filter
from mnemo.storage import HNSW_EF_SEARCH, Database, NewMemory, ProjectData, ReadOptions, Vector, ensure_vector_index
from testkit.server import MnemoServer, start_server

USER = "big"
EF_SEARCH = (100, 200, 400, 600, 800, 1000)
#: The recall@10 the API phase's walk must reach: it runs at the smallest ``ef_search`` that reached it.
TARGET_RECALL = 0.95
POOL = 60
QUERIES = 200
INSERTS = 100
#: enough for the graph of 1,000,000 memories to be built in memory (~1.7 kB a memory)
BUILD_MEMORY = "3GB"


def copy_rows(url: str, project: str, count: int, noise: float, mix: float = 0.0) -> float:
    pool_texts, pool_vectors = embed_pool(3000, seed=14)
    rng = np.random.default_rng(14)
    now = datetime.now(UTC)
    columns = "project_id, id, user_id, memory, hash, attributed_to, embedding, entities, created_at, updated_at"
    types = ["text", "uuid", "text", "text", "text", "text", "vector", "text[]", "timestamptz", "timestamptz"]
    started = time.perf_counter()
    with psycopg.connect(url) as conn:
        register_vector(conn)
        with conn.cursor() as cur, cur.copy(f"COPY memories ({columns}) FROM STDIN (FORMAT BINARY)") as copy:
            copy.set_types(types)
            for start in range(0, count, 10_000):
                picks = rng.integers(0, len(pool_texts), size=min(10_000, count - start))
                vectors = pool_vectors[picks] + rng.normal(0, noise, (len(picks), pool_vectors.shape[1]))
                if mix:  # a second pool text blended in: a continuum of topics instead of islands of copies
                    others = rng.integers(0, len(pool_texts), size=len(picks))
                    vectors += rng.uniform(0, mix, (len(picks), 1)) * pool_vectors[others]
                vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
                for n, (index, vector) in enumerate(zip(picks, vectors.astype(np.float32), strict=True)):
                    text = f"{pool_texts[index]} (note {start + n})"  # one scope holds each text once
                    created = now - timedelta(seconds=float(rng.uniform(0, 365 * 86400)))
                    entities = pool_row_parts(pool_texts[index])[1]
                    row = (project, uuid.uuid4(), USER, text, text_hash(text), "user", vector, entities)
                    copy.write_row((*row, created, created))
        conn.commit()
    copy_seconds = time.perf_counter() - started
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("VACUUM (ANALYZE) memories")
    return copy_seconds


async def nearest_times(
    db: Database, project: str, vectors: list[Vector], *, approximate: bool, ef_search: int = HNSW_EF_SEARCH
) -> tuple[list[float], list[list[tuple[uuid.UUID, float, str]]]]:
    selection = parse_selection(selection_filter({"user_id": USER}))
    times, tops = [], []
    async with ProjectData(db, project).reading() as tables:
        for vector in vectors:
            started = time.perf_counter()
            found = await tables.search.nearest(
                vector, selection, ReadOptions(), limit=POOL, approximate=approximate, ef_search=ef_search
            )
            times.append((time.perf_counter() - started) * 1000)
            tops.append([(c.id, c.similarity, pool_text(c.memory)) for c in found[:10]])
    return times, tops


async def keyword_times(db: Database, project: str, queries: list[str]) -> list[float]:
    """The search's other leg (BM25 inputs: the scope's size and every memory sharing a word with the query)."""
    selection = parse_selection(selection_filter({"user_id": USER}))
    times = []
    async with ProjectData(db, project).reading() as tables:
        for query in queries:
            started = time.perf_counter()
            await tables.search.keyword_matches(keyword_query(query), selection, ReadOptions())
            times.append((time.perf_counter() - started) * 1000)
    return times


def recall(approximate: list[list[Any]], exact: list[list[Any]]) -> dict[str, float]:
    """recall@10 by id, and by similarity (an approximate hit as close as the exact 10th counts: copies of one pool
    text are nearly equidistant, so which of them is returned is a tie)."""
    pairs = list(zip(approximate, exact, strict=True))
    by_id = [len({i for i, _, _ in a} & {i for i, _, _ in e}) / len(e) for a, e in pairs]
    by_similarity = [sum(1 for _, s, _ in a if s >= e[-1][1] - 1e-6) / len(e) for a, e in pairs]
    # The facts found: each row is a noisy copy of a pool text, and copies of one text are interchangeable answers.
    by_text = [len({t for _, _, t in a} & {t for _, _, t in e}) / len({t for _, _, t in e}) for a, e in pairs]
    return {
        "recall_at_10_by_id": round(sum(by_id) / len(by_id), 4),
        "recall_at_10_by_similarity": round(sum(by_similarity) / len(by_similarity), 4),
        "recall_at_10_by_id_worst": round(min(by_id), 2),
        "recall_at_10_by_text": round(sum(by_text) / len(by_text), 4),
        "recall_at_10_by_text_worst": round(min(by_text), 2),
    }


def pool_text(memory: str) -> str:
    """The pool text a synthetic row copies (its text without the suffix that keeps it distinct)."""
    return memory.rsplit(" (note ", 1)[0]


async def insert_times(db: Database, project: str, rng: random.Random) -> list[float]:
    facts = [texts.fact(rng) for _ in range(INSERTS)]
    vectors = embedder().embed(facts)
    now = datetime.now(UTC)
    times = []
    data = ProjectData(db, project)
    for fact, vector in zip(facts, vectors, strict=True):
        memory = NewMemory(
            scope=Scope(user_id=USER),
            text=fact,
            index=index_fields(fact, speaker=None, observed_at=now),
            embedding=vector,
            metadata=None,
            created_at=now,
            attributed_to="user",
        )
        started = time.perf_counter()
        async with data.transaction() as tables:
            await tables.memories.insert([memory], event_id=None, input_messages=None)
        times.append((time.perf_counter() - started) * 1000)
    return times


async def storage_phase(
    url: str, project: str, queries: list[str], links: int, construction: int | None
) -> dict[str, Any]:
    vectors = list(embedder().embed(queries))
    db = Database(url, min_size=1, max_size=1)
    await db.open()
    try:
        rng = random.Random(14)
        inserts_before = await insert_times(db, project, rng)  # first: the exact top 10 must include these rows
        exact, exact_tops = await nearest_times(db, project, vectors, approximate=False)
        started = time.perf_counter()
        await ensure_vector_index(
            db, len(vectors[0]), links=links, construction=construction, build_memory=BUILD_MEMORY
        )
        build_seconds = time.perf_counter() - started
        walks = {}
        for ef in EF_SEARCH:
            times, tops = await nearest_times(db, project, vectors, approximate=True, ef_search=ef)
            walks[ef] = {"nearest_hnsw_ms": percentiles(times[len(times) // 10 :]), **recall(tops, exact_tops)}
        inserts_after = await insert_times(db, project, rng)
        keyword = await keyword_times(db, project, queries)
    finally:
        await db.close()
    skip = len(queries) // 10
    return {
        "nearest_exact_ms": percentiles(exact[skip:]),
        "nearest_hnsw_by_ef_search": walks,
        "keyword_leg_ms": percentiles(keyword[skip:]),
        "index_build_seconds": round(build_seconds, 1),
        "insert_ms_without_index": percentiles(inserts_before),
        "insert_ms_with_index": percentiles(inserts_after),
    }


def enough_ef_search(walks: dict[int, dict[str, Any]]) -> int:
    """The smallest ``ef_search`` whose walk reached the target recall (the largest tried when none did)."""
    return next((ef for ef in EF_SEARCH if walks[ef]["recall_at_10_by_id"] >= TARGET_RECALL), EF_SEARCH[-1])


def api_phase(url: str, key: str, tmp: Any, queries: list[str], threshold: int, ef_search: int) -> dict[str, Any]:
    servers: dict[str, MnemoServer] = {}
    try:
        for name, env in (("hnsw", str(threshold)), ("exact", "0")):
            servers[name] = start_server(
                tmp / f"serve-{name}",
                database_url=url,
                model_dir=MODEL_DIR,
                api_key=key,
                extra_args=["--no-workers"],
                extra_env={"MNEMO_VECTOR_INDEX_MIN_MEMORIES": env, "MNEMO_VECTOR_INDEX_EF_SEARCH": str(ef_search)},
            )
        clients = {name: s.client() for name, s in servers.items()}
        times: dict[str, list[float]] = {name: [] for name in servers}
        for query in queries:
            for name, client in clients.items():
                body = {"query": query, "filters": {"user_id": USER}, "top_k": 10}
                started = time.perf_counter()
                client.post("/v3/memories/search/", json=body).raise_for_status()
                times[name].append((time.perf_counter() - started) * 1000)
        skip = len(queries) // 10
        return {f"search_{name}_ms": percentiles(values[skip:]) for name, values in times.items()}
    finally:
        for server in servers.values():
            server.stop(timeout=120)


def run(args: argparse.Namespace) -> tuple[dict[str, Any], dict[str, Any]]:
    host = machine()
    rng = random.Random(7)
    queries = [texts.question(rng) for _ in range(QUERIES)]
    settings = {"shared_buffers": args.shared_buffers} if args.shared_buffers else None
    with embedded_database(settings) as (url, tmp):
        first = start_server(tmp / "serve-load", database_url=url, model_dir=MODEL_DIR, extra_args=["--no-workers"])
        try:
            project = project_of(first)
            key = first.api_key
        finally:
            first.stop(timeout=120)
        copy_seconds = copy_rows(url, project, args.memories, args.noise, args.mix)
        results: dict[str, Any] = {
            "memories": args.memories,
            "noise": args.noise,
            "mix": args.mix,
            "links": args.links,
            "construction": args.construction,
            "copy_seconds": round(copy_seconds, 1),
        }
        results.update(asyncio.run(storage_phase(url, project, queries, args.links, args.construction)))
        results["api_ef_search"] = ef = enough_ef_search(results["nearest_hnsw_by_ef_search"])
        results.update(api_phase(url, key, tmp, queries, threshold=min(50_000, args.memories), ef_search=ef))
        with psycopg.connect(url, autocommit=True) as conn:
            sizes = conn.execute(
                "SELECT pg_relation_size('memories_embedding_hnsw'), pg_total_relation_size('memories'),"
                " current_setting('shared_buffers')"
            ).fetchone()
        assert sizes is not None
        results["hnsw_index_mb"] = round(sizes[0] / 2**20, 1)
        results["memories_with_indexes_mb"] = round(sizes[1] / 2**20, 1)
        results["shared_buffers"] = sizes[2]
    return host, results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--memories", type=int, default=100_000)
    parser.add_argument("--noise", type=float, default=0.02)
    parser.add_argument(
        "--mix", type=float, default=0.0, help="blend a second pool text into each row, weight uniform in [0, MIX]"
    )
    parser.add_argument("--links", type=int, default=16, help="the HNSW index's links per memory (pgvector's m)")
    parser.add_argument(
        "--construction", type=int, help="the HNSW build's ef_construction (default: mnemo's, max(128, 4 * links))"
    )
    parser.add_argument("--shared-buffers", help="PostgreSQL's shared_buffers, e.g. 8GB (default: its own, 128MB)")
    report("large-scope", *run(parser.parse_args()))


if __name__ == "__main__":
    main()
