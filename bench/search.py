"""Search latency for one user among many: 100,000 memories in a project, 10,000 of them one user's.

Loading: in ten rounds (so the target user's rows are spread through the table like a live
service's), 9,000 memories of other users (900 users x 100) are written straight into the
``memories`` table with COPY, then 1,000 of the target user's memories go through the HTTP API
(``infer=false``, 20 messages per add, 8 concurrent clients), so the target's rows are real. The
others' texts come from a pool of distinct template sentences whose real embeddings (computed here
with the server's int8 model) are reused with small Gaussian noise and re-normalised; ``hash`` is the
md5 of the text. Then ``VACUUM (ANALYZE) memories``.

Measured: ``POST /v3/memories/search/`` with ``filters: {"user_id": target}``, ``top_k`` 10, varied
questions (the query embedding is part of every request): one client sequentially, then 8
concurrent clients. Then where the time goes: an authenticated no-op request (HTTP floor), the
query embedding alone, and the server's two storage legs (nearest neighbours, keyword matches)
alone, through ``ProjectStore`` on one connection.

``--total N`` keeps the target user's 10,000 memories and adds other users (100 memories each) up to N
memories in all (e.g. ``--total 1000000``: 99,000 other users, same 3,000-text embedding pool).

    python -m bench.search [--quick] [--total 100000] [--seconds 20] [--concurrent-seconds 15]
"""

from __future__ import annotations

import argparse
import asyncio
import functools
import inspect
import random
import statistics
import sys
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, cast

import httpx
import numpy as np
import numpy.typing as npt
import psycopg
from pgvector.psycopg import register_vector

from bench import texts
from bench.common import (
    MODEL_DIR,
    closed_loop,
    embedded_database_url,
    http_clients,
    machine,
    percentiles,
    report,
    running_server,
)
from mnemo.domain.entities import extract_entities
from mnemo.domain.memories import text_hash
from mnemo.domain.selection import parse_selection, selection_filter
from mnemo.pipeline.retrieve import Retriever
from mnemo.providers.embedding.minilm_onnx import MiniLMOnnxEmbedder
from mnemo.storage import Database, ProjectData, ReadOptions
from testkit.server import MnemoServer

TARGETS_MS = {"p50": 15.0, "p95": 30.0}
TARGET_USER = "target-user"
TOP_K = 10
ROUNDS = 10
ADD_SIZE = 20
LOAD_CLIENTS = 8
NOISE = 0.01  # per dimension; cosine to the pool vector ~0.98
SEARCH_TIMEOUT = 120.0  # a slow plan must not turn into client timeouts that leave queries running

Vectors = npt.NDArray[np.float32]


@dataclass(frozen=True)
class Sizes:
    others_per_round_users: int  # users written per round, each with ``per_user`` memories
    per_user: int
    target_per_round: int
    pool: int

    @property
    def others(self) -> int:
        return ROUNDS * self.others_per_round_users * self.per_user

    @property
    def target(self) -> int:
        return ROUNDS * self.target_per_round


FULL = Sizes(others_per_round_users=90, per_user=100, target_per_round=1000, pool=3000)
QUICK = Sizes(others_per_round_users=9, per_user=100, target_per_round=100, pool=400)


def sizes_for_total(total: int) -> Sizes:
    """FULL's target user (10,000 memories through the API) among ``total`` memories in all.

    The other users keep 100 memories each; ``total - 10,000`` is rounded down to whole rounds of
    ``ROUNDS * 100``.
    """
    per_round_users = (total - FULL.target) // (ROUNDS * FULL.per_user)
    if per_round_users < 1:
        raise ValueError(f"--total must be at least {FULL.target + ROUNDS * FULL.per_user}")
    return Sizes(per_round_users, FULL.per_user, FULL.target_per_round, FULL.pool)


# --------------------------------------------------------------------------------------------- loading


@functools.cache
def pool_row_parts(text: str) -> tuple[str, list[str]]:
    """Hash and entities of a pool text, computed once per text (rows reuse the pool's texts)."""
    return text_hash(text), extract_entities(text)


@functools.cache
def embedder() -> MiniLMOnnxEmbedder:
    """The server's default model and settings (int8, every core), built in this process."""
    return MiniLMOnnxEmbedder(MODEL_DIR, precision="int8")


def embed_pool(count: int, seed: int) -> tuple[list[str], Vectors]:
    """``count`` distinct facts and their real vectors."""
    stream = texts.distinct_facts(random.Random(seed))
    pool = [next(stream) for _ in range(count)]
    return pool, embedder().embed(pool)


def copy_others(
    conn: psycopg.Connection[Any], project: str, users: range, sizes: Sizes, pool: tuple[list[str], Vectors]
) -> None:
    """Write ``per_user`` memories for each of ``users`` with COPY: pool texts, noisy pool vectors."""
    rng = np.random.default_rng(users.start)
    pool_texts, pool_vectors = pool
    now = datetime.now(UTC)
    columns = "project_id, id, user_id, memory, hash, attributed_to, embedding, entities, created_at, updated_at"
    types = ["text", "uuid", "text", "text", "text", "text", "vector", "text[]", "timestamptz", "timestamptz"]
    with conn.cursor() as cur, cur.copy(f"COPY memories ({columns}) FROM STDIN (FORMAT BINARY)") as copy:
        copy.set_types(types)
        for user in users:
            picks = rng.choice(len(pool_texts), size=sizes.per_user, replace=False)
            noisy = pool_vectors[picks] + rng.normal(0, NOISE, (len(picks), pool_vectors.shape[1]))
            noisy /= np.linalg.norm(noisy, axis=1, keepdims=True)
            for index, vector in zip(picks, noisy.astype(np.float32), strict=True):
                text = pool_texts[index]
                created = now - timedelta(seconds=float(rng.uniform(0, 365 * 86400)))
                digest, entities = pool_row_parts(text)
                row = (project, uuid.uuid4(), f"member-{user:04d}", text, digest, "user", vector)
                copy.write_row((*row, entities, created, created))
    conn.commit()


async def add_target(server: MnemoServer, facts: list[str]) -> int:
    """The target user's memories through the API; returns how many were stored."""
    chunks = [facts[i : i + ADD_SIZE] for i in range(0, len(facts), ADD_SIZE)]
    queue: asyncio.Queue[list[str]] = asyncio.Queue()
    for chunk in chunks:
        queue.put_nowait(chunk)
    stored = 0

    async def loader(client: httpx.AsyncClient) -> None:
        nonlocal stored
        while not queue.empty():
            chunk = queue.get_nowait()
            messages = [{"role": "user", "content": text} for text in chunk]
            body = {"messages": messages, "user_id": TARGET_USER, "infer": False}
            response = await client.post("/v3/memories/add/", json=body)
            response.raise_for_status()
            stored += len(response.json()["results"])

    async with http_clients(server, LOAD_CLIENTS) as clients:
        await asyncio.gather(*(loader(client) for client in clients))
    return stored


def load(server: MnemoServer, url: str, project: str, sizes: Sizes, seed: int) -> dict[str, Any]:
    started = time.perf_counter()
    pool = embed_pool(sizes.pool, seed)
    embedded = time.perf_counter()
    target_facts = texts.distinct_facts(random.Random(seed + 1))
    copy_seconds = api_seconds = 0.0
    stored = 0
    with psycopg.connect(url) as conn:
        register_vector(conn)
        for round_ in range(ROUNDS):
            first = round_ * sizes.others_per_round_users
            tick = time.perf_counter()
            copy_others(conn, project, range(first, first + sizes.others_per_round_users), sizes, pool)
            copy_seconds += time.perf_counter() - tick
            tick = time.perf_counter()
            stored += asyncio.run(add_target(server, [next(target_facts) for _ in range(sizes.target_per_round)]))
            api_seconds += time.perf_counter() - tick
            print(f"round {round_ + 1}/{ROUNDS}: copy {copy_seconds:.0f} s, api {api_seconds:.0f} s", file=sys.stderr)
        conn.autocommit = True
        tick = time.perf_counter()
        conn.execute("VACUUM (ANALYZE) memories")
        vacuum_seconds = time.perf_counter() - tick
        counts = conn.execute("SELECT count(*), count(*) FILTER (WHERE user_id = %s) FROM memories", (TARGET_USER,))
        total, target = cast(tuple[int, int], counts.fetchone())
        sizes_row = conn.execute("SELECT pg_database_size(current_database()), pg_total_relation_size('memories')")
        database_bytes, table_bytes = cast(tuple[int, int], sizes_row.fetchone())
    if target != sizes.target or total != sizes.target + sizes.others:
        raise RuntimeError(f"loaded {total} memories, {target} for the target; expected {sizes}")
    return {
        "memories": total,
        "target_user_memories": target,
        "other_users": ROUNDS * sizes.others_per_round_users,
        "embedding_pool": sizes.pool,
        "pool_embed_seconds": round(embedded - started, 1),
        "copy_seconds": round(copy_seconds, 1),
        "api_seconds": round(api_seconds, 1),
        "api_memories_per_second": round(stored / api_seconds, 1),
        "vacuum_analyze_seconds": round(vacuum_seconds, 1),
        "database_size_mb": round(database_bytes / 2**20),
        "memories_table_size_mb": round(table_bytes / 2**20),
    }


# --------------------------------------------------------------------------------------------- measuring


def search_bodies(seed: int, count: int = 2000) -> list[dict[str, Any]]:
    rng = random.Random(seed)
    return [{"query": texts.question(rng), "filters": {"user_id": TARGET_USER}, "top_k": TOP_K} for _ in range(count)]


async def search_load(
    server: MnemoServer, bodies: list[dict[str, Any]], clients: int, seconds: float
) -> dict[str, Any]:
    async def search(client: httpx.AsyncClient, n: int) -> httpx.Response:
        return await client.post("/v3/memories/search/", json=bodies[n % len(bodies)])

    async with http_clients(server, clients, timeout=SEARCH_TIMEOUT) as pool:
        result = await closed_loop(pool, search, seconds=seconds, warmup=2.0, keep_bodies=True)
    hits = [len(body["results"]) for body in result.responses]
    return {
        "clients": clients,
        "queries": len(result.latencies_ms),
        "errors": dict(result.errors),
        "queries_per_second": round(result.requests_per_second, 1),
        "mean_results": round(statistics.mean(hits), 2) if hits else 0,
        "latency_ms": percentiles(result.latencies_ms),
    }


async def ping_latency(server: MnemoServer, count: int) -> dict[str, float]:
    """An authenticated request that does no work: the floor of HTTP + auth in this setup."""
    latencies = []
    async with http_clients(server, 1) as (client,):
        for _ in range(count):
            started = time.perf_counter()
            (await client.get("/v1/ping/")).raise_for_status()
            latencies.append((time.perf_counter() - started) * 1000)
    return percentiles(latencies[len(latencies) // 10 :])


def embed_latency(queries: list[str]) -> dict[str, float]:
    """One query embedded at a time, as a lone search is, by the same model and settings."""
    embedder().embed(queries[:8])
    latencies = []
    for query in queries:
        started = time.perf_counter()
        embedder().embed([query])
        latencies.append((time.perf_counter() - started) * 1000)
    return percentiles(latencies)


async def _leg_times(url: str, project: str, queries: list[str], vectors: Vectors) -> dict[str, list[float]]:
    """Each storage leg of the server's search, run through the project's search store on one connection."""
    selection = parse_selection(selection_filter({"user_id": TARGET_USER}))
    min_pool = inspect.signature(Retriever.__init__).parameters["min_pool"].default
    pool = max(min_pool, 3 * TOP_K)
    times: dict[str, list[float]] = {"nearest": [], "keywords": [], "both_in_sequence": []}
    db = Database(url, min_size=1, max_size=1)
    await db.open()
    try:
        async with ProjectData(db, project).reading() as tables:
            for query, vector in zip(queries, vectors, strict=True):
                started = time.perf_counter()
                await tables.search.nearest(vector, selection, ReadOptions(), limit=pool)
                middle = time.perf_counter()
                await tables.search.keyword_matches(query, selection, ReadOptions())
                ended = time.perf_counter()
                times["nearest"].append((middle - started) * 1000)
                times["keywords"].append((ended - middle) * 1000)
                times["both_in_sequence"].append((ended - started) * 1000)
    finally:
        await db.close()
    return times


def sql_breakdown(url: str, project: str, queries: list[str]) -> dict[str, Any]:
    """The server's two storage legs alone (no HTTP, no embedding), timed per query.

    The server runs them at once on two connections, then fetches the keyword leg's best rows that
    the nearest leg did not return.
    """
    times = asyncio.run(_leg_times(url, project, queries, embedder().embed(queries)))
    skip = len(queries) // 10
    return {name: percentiles(values[skip:]) for name, values in times.items()}


def project_of(server: MnemoServer) -> str:
    with server.client() as client:
        response = client.get("/v1/ping/")
        response.raise_for_status()
        return str(response.json()["project_id"])


def searches(server: MnemoServer, bodies: list[dict[str, Any]], args: argparse.Namespace) -> dict[str, Any]:
    sequential = asyncio.run(search_load(server, bodies, 1, args.seconds))
    return {
        "sequential": sequential,
        "concurrent": asyncio.run(search_load(server, bodies, 8, args.concurrent_seconds)),
        "meets_targets": all(sequential["latency_ms"].get(k, float("inf")) <= v for k, v in TARGETS_MS.items()),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--quick", action="store_true", help="a short smoke run on 10x less data")
    parser.add_argument("--seconds", type=float, default=20.0, help="sequential run length")
    parser.add_argument("--concurrent-seconds", type=float, default=15.0)
    parser.add_argument("--seed", type=int, default=5)
    parser.add_argument("--total", type=int, help="memories in all (default 100,000); the target user keeps 10,000")
    args = parser.parse_args()
    sizes = QUICK if args.quick else FULL if args.total is None else sizes_for_total(args.total)
    if args.quick:
        args.seconds, args.concurrent_seconds = 3.0, 3.0
    host = machine()
    bodies = search_bodies(args.seed)
    queries = [body["query"] for body in bodies[:200]]
    with running_server() as server:
        url = embedded_database_url(server)
        project = project_of(server)
        loaded = load(server, url, project, sizes, args.seed)
        default = searches(server, bodies, args)
        breakdown = {
            "http_ping_ms": asyncio.run(ping_latency(server, 200)),
            "query_embedding_ms": embed_latency(queries),
            "sql": sql_breakdown(url, project, queries),
        }
    report(
        "search",
        host,
        {
            "endpoint": "POST /v3/memories/search/ (filters user_id, top_k 10)",
            "data": loaded,
            "targets_ms": TARGETS_MS,
            **default,
            "breakdown": breakdown,
        },
    )


if __name__ == "__main__":
    main()
