"""Soak: a sustained mixed load on mnemo, with the memory (RSS) of every process sampled throughout.

32 closed-loop clients for ``--seconds`` (default 300; ``--quick`` 30), each loop picking one of:
add with ``infer=true`` (40%), add with ``infer=false`` (10%), search (35%), get-all (15%), for one of
200 user ids, with the synthetic texts of ``bench/texts.py``. Reported: per endpoint the count, the
errors by status and p50/p95/p99; the overall error rate (target 0); every 5 s, the RSS of each mnemo
process and, for PostgreSQL (from each process's ``/proc/PID/smaps_rollup``), the RSS and PSS summed
over its processes (RSS counts a shared buffer once per backend that touched it; PSS splits shared pages
among the processes sharing them, so a sum of PSS counts each page once), split into anonymous memory
(each process's own heap: catalog caches, sort memory) and shared memory (``shared_buffers`` and the
other shared structures), per process (labelled by role: postmaster, checkpointer, backend, ...) and
per role, and how much of ``shared_buffers`` holds pages (``pg_buffercache_summary()``); for each series
first/last/max and the least-squares slope in MB/minute after a 30 s warm-up and over the last 120 s of
the load (flat = no leak; a slope that falls to ~0 late = levelled off); the ``infer=true`` events'
statuses (and the final vectors still queued) when the load stops, and again after waiting (at most ``--drain`` s)
for the queue to drain.

Two configurations, one after the other, each on a fresh embedded database:

- ``single``: one ``mnemo serve`` with its workers, on its own embedded PostgreSQL;
- ``split``: the embedded PostgreSQL started alone, two ``serve --no-workers`` on it (16 clients
  each) and one ``mnemo worker``.

    python -m bench.soak [--quick] [--seconds 300] [--drain 120] [--only single|split]
"""

from __future__ import annotations

import argparse
import asyncio
import random
import statistics
import time
from collections import Counter, defaultdict
from collections.abc import Iterator
from contextlib import AsyncExitStack, ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import psutil  # type: ignore[import-untyped]
import psycopg

from bench import texts
from bench.common import (
    MODEL_DIR,
    embedded_database,
    embedded_database_url,
    http_clients,
    machine,
    pending_final_vectors_at,
    percentiles,
    postgres_pids,
    report,
    running_server,
    start_worker,
    stop_process,
)
from testkit.server import MnemoServer, start_server

CLIENTS = 32
USERS = 200
TOP_K = 10
SAMPLE_SECONDS = 5.0
WARMUP_SECONDS = 30.0
LATE_SECONDS = 120.0  # the late slope: over the load's last two minutes
OPERATIONS = {"add_infer": 0.40, "add_verbatim": 0.10, "search": 0.35, "get_all": 0.15}
ENDPOINTS = {
    "add_infer": "POST /v3/memories/add/ infer=true",
    "add_verbatim": "POST /v3/memories/add/ infer=false",
    "search": "POST /v3/memories/search/",
    "get_all": "POST /v3/memories/ (get all of a user)",
}
UNFINISHED = ("PENDING", "RUNNING")
MB = 2**20


@dataclass
class Setup:
    """What one configuration runs: the APIs the clients use, the processes to watch, the database."""

    apis: list[MnemoServer]
    processes: dict[str, int]  # label -> pid of a mnemo process
    pgdata: Path
    url: str


@dataclass
class Tally:
    """Latencies and errors per operation, and the event ids of the ``infer=true`` adds."""

    latencies_ms: dict[str, list[float]] = field(default_factory=lambda: defaultdict(list))
    errors: dict[str, Counter[str]] = field(default_factory=lambda: defaultdict(Counter))
    event_ids: list[str] = field(default_factory=list)

    def record(self, operation: str, response: httpx.Response | str, started: float) -> None:
        if isinstance(response, str) or response.status_code != 200:
            self.errors[operation][response if isinstance(response, str) else str(response.status_code)] += 1
            return
        self.latencies_ms[operation].append((time.perf_counter() - started) * 1000)
        if operation == "add_infer":
            self.event_ids.append(response.json()["event_id"])


# --------------------------------------------------------------------------------------------- load


def request_for(operation: str, rng: random.Random) -> tuple[str, dict[str, Any]]:
    """The path and body of one request of ``operation`` for a random user."""
    user = f"soak-user-{rng.randrange(USERS):03d}"
    if operation == "add_infer":
        return "/v3/memories/add/", {"messages": texts.conversation(rng), "user_id": user, "infer": True}
    if operation == "add_verbatim":
        messages = [{"role": "user", "content": texts.fact(rng)} for _ in range(rng.randint(1, 2))]
        return "/v3/memories/add/", {"messages": messages, "user_id": user, "infer": False}
    if operation == "search":
        return "/v3/memories/search/", {"query": texts.question(rng), "filters": {"user_id": user}, "top_k": TOP_K}
    return "/v3/memories/", {"filters": {"user_id": user}}


async def client_loop(client: httpx.AsyncClient, seed: int, deadline: float, tally: Tally) -> None:
    """One closed-loop caller: a random operation, sent as soon as the previous one is answered."""
    rng = random.Random(seed)
    names, weights = list(OPERATIONS), list(OPERATIONS.values())
    while time.perf_counter() < deadline:
        operation = rng.choices(names, weights)[0]
        path, body = request_for(operation, rng)
        started = time.perf_counter()
        try:
            response: httpx.Response | str = await client.post(path, json=body)
        except httpx.HTTPError as exc:
            response = type(exc).__name__
        tally.record(operation, response, started)


# --------------------------------------------------------------------------------------------- memory


def rss_and_pss_mb(pids: list[int]) -> tuple[float, float]:
    """Summed RSS and PSS (MB) of ``pids``; processes that exit meanwhile are skipped."""
    rss = pss = 0.0
    for pid in pids:
        try:
            info = psutil.Process(pid).memory_full_info()
        except psutil.Error:
            continue
        rss, pss = rss + info.rss / MB, pss + getattr(info, "pss", info.rss) / MB
    return rss, pss


PG_AUXILIARY = (
    "checkpointer",
    "background writer",
    "walwriter",
    "autovacuum launcher",
    "autovacuum worker",
    "logical replication launcher",
    "io worker",
    "startup",
)


def postgres_role(process: psutil.Process) -> str:
    """What a PostgreSQL process is, from its title: ``postmaster``, an auxiliary process, or ``backend``."""
    title = " ".join(process.cmdline())
    if not title.startswith("postgres:"):
        return "postmaster"
    title = title.removeprefix("postgres:").strip()
    return next((role for role in PG_AUXILIARY if title.startswith(role)), "backend")


ROLLUP_FIELDS = {"Rss": "rss", "Pss": "pss", "Pss_Anon": "anon", "Pss_Shmem": "shmem"}


def smaps_rollup_mb(pid: int) -> dict[str, float]:
    """RSS, PSS, and the PSS of anonymous memory (the process's own heap: caches, sort memory) and of shared
    memory (``shared_buffers`` and the other shared structures), in MB, from ``/proc/PID/smaps_rollup``."""
    found = {}
    for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
        name, _, rest = line.partition(":")
        if name in ROLLUP_FIELDS:
            found[ROLLUP_FIELDS[name]] = int(rest.split()[0]) / 1024
    return found


def postgres_processes(pgdata: Path) -> list[dict[str, Any]]:
    """Every PostgreSQL process: pid, role, and its :func:`smaps_rollup_mb` figures."""
    found = []
    for pid in postgres_pids(pgdata):
        try:
            role = postgres_role(psutil.Process(pid))
            found.append({"pid": pid, "role": role, **smaps_rollup_mb(pid)})
        except (psutil.Error, OSError):
            continue
    return found


def database_mb(conn: psycopg.Connection[Any]) -> dict[str, float]:
    """How much of ``shared_buffers`` holds a page (the rest has never been used since the start), and the
    size of the database on disk, in MB."""
    row = conn.execute(
        "SELECT (SELECT buffers_used FROM pg_buffercache_summary()) * current_setting('block_size')::bigint,"
        " pg_database_size(current_database())"
    ).fetchone()
    assert row is not None
    return {"pg_shared_buffers_used": row[0] / MB, "pg_database_size": row[1] / MB}


def memory_sample(
    setup: Setup, conn: psycopg.Connection[Any], processes: list[dict[str, Any]] | None = None
) -> dict[str, float]:
    """RSS of every mnemo process; for PostgreSQL (``processes``, else all of them now), RSS, PSS, and PSS of
    anonymous and of shared memory summed over its processes (a sum of PSS counts each page once), the
    number of backends, PSS and anonymous PSS summed per role, the shared buffers in use and the database
    size; in MB."""
    sample = {label: rss_and_pss_mb([pid])[0] for label, pid in setup.processes.items()}
    processes = postgres_processes(setup.pgdata) if processes is None else processes
    sample["postgres"] = sum(p.get("rss", 0.0) for p in processes)
    for kind in ("pss", "anon", "shmem"):
        sample[f"postgres_{kind}"] = sum(p.get(kind, 0.0) for p in processes)
    sample["count_postgres_backends"] = sum(1 for p in processes if p["role"] == "backend")
    for process in processes:
        for kind in ("pss", "anon"):
            key = f"pg_{kind}:{process['role']}"
            sample[key] = sample.get(key, 0.0) + process.get(kind, 0.0)
    sample.update(database_mb(conn))
    return {key: round(value, 1) for key, value in sample.items()}


def full_sample(setup: Setup, conn: psycopg.Connection[Any]) -> tuple[dict[str, float], dict[int, dict[str, Any]]]:
    """:func:`memory_sample`, and the PSS, anonymous PSS and shared-memory PSS (MB) of each PostgreSQL process."""
    processes = postgres_processes(setup.pgdata)
    each = {
        p["pid"]: {"role": p["role"], **{kind: round(p.get(kind, 0.0), 1) for kind in ("pss", "anon", "shmem")}}
        for p in processes
    }
    return memory_sample(setup, conn, processes), each


@dataclass
class Samples:
    """Memory over time: the summed series, and each PostgreSQL process on its own."""

    series: list[dict[str, float]] = field(default_factory=list)
    processes: list[tuple[float, dict[int, dict[str, Any]]]] = field(default_factory=list)


async def sample_memory(setup: Setup, stop: asyncio.Event, samples: Samples) -> None:
    """Sample (with ``t``, seconds since the start) every ``SAMPLE_SECONDS`` until ``stop``."""
    started = time.perf_counter()
    with psycopg.connect(setup.url, autocommit=True) as conn:
        conn.execute("CREATE EXTENSION IF NOT EXISTS pg_buffercache")
        while True:
            sample, processes = await asyncio.to_thread(full_sample, setup, conn)
            t = round(time.perf_counter() - started, 1)
            samples.series.append({"t": t, **sample})
            samples.processes.append((t, processes))
            try:
                await asyncio.wait_for(stop.wait(), SAMPLE_SECONDS)
                return
            except TimeoutError:
                pass


def slope_mb_per_minute(points: list[tuple[float, float]]) -> float | None:
    if len(points) < 3:
        return None
    times, values = zip(*points, strict=True)
    return round(statistics.linear_regression(times, values).slope * 60, 2)


def slopes(points: list[tuple[float, float]]) -> dict[str, float | None]:
    """The slope (MB/min) after the warm-up, and over the last ``LATE_SECONDS`` of the samples."""
    end = points[-1][0] if points else 0.0
    return {
        "slope_mb_per_min_after_warmup": slope_mb_per_minute([p for p in points if p[0] >= WARMUP_SECONDS]),
        "slope_mb_per_min_late": slope_mb_per_minute([p for p in points if p[0] >= end - LATE_SECONDS]),
    }


def memory_summary(samples: list[dict[str, float]]) -> dict[str, dict[str, float | None]]:
    """first/last/max (MB) of each series, and its slopes (MB/min) after the warm-up and late; for counts
    (``count_*``), first/last/max."""
    series = sorted({key for s in samples for key in s if key != "t"})
    summary: dict[str, dict[str, float | None]] = {}
    for key in series:
        points = [(s["t"], s[key]) for s in samples if key in s]
        values = [value for _, value in points]
        if key.startswith("count_"):
            summary[key] = {"first": values[0], "last": values[-1], "max": max(values)}
            continue
        summary[key] = {"first_mb": values[0], "last_mb": values[-1], "max_mb": max(values), **slopes(points)}
    return summary


def per_process_summary(samples: Samples) -> list[dict[str, Any]]:
    """Each PostgreSQL process seen for a minute or more: its role, its PSS, anonymous PSS and shared-memory
    PSS every minute, and the slopes of the first two."""
    by_pid: dict[int, list[tuple[float, dict[str, Any]]]] = defaultdict(list)
    for t, processes in samples.processes:
        for pid, process in processes.items():
            by_pid[pid].append((t, process))
    summary: list[dict[str, Any]] = []
    short_lived: Counter[str] = Counter()
    for pid, points in sorted(by_pid.items(), key=lambda item: (item[1][0][1]["role"], item[0])):
        if points[-1][0] - points[0][0] < 60:  # autovacuum workers and the like: counted, not listed
            short_lived[points[0][1]["role"]] += 1
            continue
        minutes = [point for i, point in enumerate(points) if i % int(60 / SAMPLE_SECONDS) == 0 or i == len(points) - 1]
        entry: dict[str, Any] = {"pid": pid, "role": points[0][1]["role"], "seen_s": [points[0][0], points[-1][0]]}
        for kind in ("pss", "anon", "shmem"):
            entry[f"{kind}_mb_each_minute"] = [p[kind] for _, p in minutes]
        for kind in ("pss", "anon"):
            entry.update({f"{kind}_{key}": value for key, value in slopes([(t, p[kind]) for t, p in points]).items()})
        summary.append(entry)
    if short_lived:
        summary.append({"seen_less_than_60_s": dict(short_lived)})
    return summary


# --------------------------------------------------------------------------------------------- events


def event_statuses(url: str, ids: list[str]) -> dict[str, int]:
    with psycopg.connect(url) as conn:
        rows = conn.execute(
            "SELECT status, count(*) FROM events WHERE id = ANY(%s::uuid[]) GROUP BY status ORDER BY status", (ids,)
        ).fetchall()
    return {status: count for status, count in rows}


def wait_for_drain(url: str, ids: list[str], limit: float) -> dict[str, Any]:
    """Poll the events until none is unfinished or ``limit`` seconds pass."""
    started = time.perf_counter()
    before = event_statuses(url, ids)
    while True:
        statuses = event_statuses(url, ids)
        waited = time.perf_counter() - started
        if not any(statuses.get(s, 0) for s in UNFINISHED) or waited >= limit:
            break
        time.sleep(2.0)
    finished = statuses.get("SUCCEEDED", 0) - before.get("SUCCEEDED", 0)
    return {
        "waited_seconds": round(waited, 1),
        "drained": not any(statuses.get(s, 0) for s in UNFINISHED),
        "events_by_status": statuses,
        "succeeded_per_second_while_waiting": round(finished / waited, 1) if waited else None,
    }


# --------------------------------------------------------------------------------------------- runs


async def drive(setup: Setup, seconds: float, seed: int) -> tuple[Tally, Samples]:
    """The mixed load on ``setup``'s APIs (clients split evenly) while memory is sampled."""
    tally, stop = Tally(), asyncio.Event()
    samples = Samples()
    per_api = CLIENTS // len(setup.apis)
    async with AsyncExitStack() as stack:
        pools = [await stack.enter_async_context(http_clients(api, per_api)) for api in setup.apis]
        clients = [client for pool in pools for client in pool]
        sampler = asyncio.create_task(sample_memory(setup, stop, samples))
        deadline = time.perf_counter() + seconds
        try:
            await asyncio.gather(*(client_loop(c, seed + i, deadline, tally) for i, c in enumerate(clients)))
        finally:
            stop.set()
            await sampler
    return tally, samples


def endpoint_summary(tally: Tally, seconds: float) -> dict[str, Any]:
    summary = {}
    for operation, endpoint in ENDPOINTS.items():
        latencies, errors = tally.latencies_ms[operation], tally.errors[operation]
        summary[operation] = {
            "endpoint": endpoint,
            "count": len(latencies) + sum(errors.values()),
            "per_second": round(len(latencies) / seconds, 1),
            "errors": sum(errors.values()),
            "error_statuses": dict(errors),
            "latency_ms": percentiles(latencies),
        }
    return summary


def soak(setup: Setup, args: argparse.Namespace) -> dict[str, Any]:
    tally, samples = asyncio.run(drive(setup, args.seconds, args.seed))
    endpoints = endpoint_summary(tally, args.seconds)
    total = sum(e["count"] for e in endpoints.values())
    errors = sum(e["errors"] for e in endpoints.values())
    return {
        "clients": CLIENTS,
        "apis": len(setup.apis),
        "seconds": args.seconds,
        "requests": total,
        "requests_per_second": round((total - errors) / args.seconds, 1),
        "errors": errors,
        "error_rate": round(errors / total, 6) if total else None,
        "endpoints": endpoints,
        "postgres_shared_buffers": shared_buffers_setting(setup.url),
        "memory": memory_summary(samples.series),
        "postgres_per_process": per_process_summary(samples),
        "memory_samples": samples.series,
        "infer_events_at_end_of_load": event_statuses(setup.url, tally.event_ids),
        "final_vectors_queued_at_end_of_load": pending_final_vectors_at(setup.url),
        "infer_events_after_drain": wait_for_drain(setup.url, tally.event_ids, args.drain),
        "final_vectors_queued_after_drain": pending_final_vectors_at(setup.url),
        "memory_after_drain_mb": memory_after_drain(setup),
    }


def shared_buffers_setting(url: str) -> str:
    with psycopg.connect(url, autocommit=True) as conn:
        row = conn.execute("SHOW shared_buffers").fetchone()
    return str(row[0]) if row else "?"


def memory_after_drain(setup: Setup) -> dict[str, float]:
    with psycopg.connect(setup.url, autocommit=True) as conn:
        return memory_sample(setup, conn)


@contextmanager
def single() -> Iterator[Setup]:
    """One ``serve`` with workers, on its own embedded PostgreSQL."""
    with running_server() as server:
        url = embedded_database_url(server)
        yield Setup([server], {"serve": server.process.pid}, server.data_dir / "pgdata", url)


@contextmanager
def split() -> Iterator[Setup]:
    """Two ``serve --no-workers`` and one ``mnemo worker`` sharing one embedded PostgreSQL."""
    with embedded_database() as (url, tmp), ExitStack() as stack:
        options: dict[str, Any] = {"database_url": url, "model_dir": MODEL_DIR, "extra_args": ["--no-workers"]}
        first = start_server(tmp / "api-a", **options)
        stack.callback(first.stop, timeout=120)
        second = start_server(tmp / "api-b", api_key=first.api_key, **options)
        stack.callback(second.stop, timeout=120)
        worker = start_worker(tmp / "worker", url)
        stack.callback(stop_process, worker)
        processes = {"serve_a": first.process.pid, "serve_b": second.process.pid, "worker": worker.pid}
        yield Setup([first, second], processes, tmp / "pgdata", url)


CONFIGURATIONS = {"single": single, "split": split}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--quick", action="store_true", help="30 s of load per configuration")
    parser.add_argument("--seconds", type=float, default=300.0, help="load duration per configuration")
    parser.add_argument("--drain", type=float, default=120.0, help="longest wait for the queue to drain")
    parser.add_argument("--only", choices=sorted(CONFIGURATIONS), help="run one configuration")
    parser.add_argument("--seed", type=int, default=11)
    args = parser.parse_args()
    if args.quick:
        args.seconds = 30.0
    host = machine()
    results = {}
    for name, configuration in CONFIGURATIONS.items():
        if args.only in (None, name):
            with configuration() as setup:
                results[name] = soak(setup, args)
    settings = {
        "operations": OPERATIONS,
        "users": USERS,
        "warmup_seconds": WARMUP_SECONDS,
        "late_seconds": LATE_SECONDS,
    }
    report("soak", host, {**settings, **results})


if __name__ == "__main__":
    main()
