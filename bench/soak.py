"""Soak: a sustained mixed load on mnemo, with the memory (RSS) of every process sampled throughout.

32 closed-loop clients for ``--seconds`` (default 180; ``--quick`` 30), each loop picking one of:
add with ``infer=true`` (40%), add with ``infer=false`` (10%), search (35%), get-all (15%), for one of
200 user ids, with the synthetic texts of ``bench/texts.py``. Reported: per endpoint the count, the
errors by status and p50/p95/p99; the overall error rate (target 0); the RSS of each mnemo process and
of PostgreSQL (sum over its processes; shared buffers are counted once per backend that touched them,
so PSS is given too) every 5 s, with first/last/max and the least-squares slope in MB/minute after a
30 s warm-up (flat = no leak); the ``infer=true`` events' statuses when the load stops, and again
after waiting (at most ``--drain`` s) for the queue to drain.

Two configurations, one after the other, each on a fresh embedded database:

- ``single``: one ``mnemo serve`` with its workers, on its own embedded PostgreSQL;
- ``split``: the embedded PostgreSQL started alone, two ``serve --no-workers`` on it (16 clients
  each) and one ``mnemo worker``.

    python -m bench.soak [--quick] [--seconds 180] [--drain 120] [--only single|split]
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
from tests.support import MnemoServer, start_server

from bench import texts
from bench.common import (
    MODEL_DIR,
    embedded_database,
    embedded_database_url,
    http_clients,
    machine,
    percentiles,
    postgres_pids,
    report,
    running_server,
    start_worker,
    stop_process,
)

CLIENTS = 32
USERS = 200
TOP_K = 10
SAMPLE_SECONDS = 5.0
WARMUP_SECONDS = 30.0
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


def memory_sample(setup: Setup) -> dict[str, float]:
    """RSS of every mnemo process, and RSS and PSS of PostgreSQL (all its processes), in MB."""
    sample = {label: rss_and_pss_mb([pid])[0] for label, pid in setup.processes.items()}
    sample["postgres"], sample["postgres_pss"] = rss_and_pss_mb(postgres_pids(setup.pgdata))
    return {key: round(value, 1) for key, value in sample.items()}


async def sample_memory(setup: Setup, stop: asyncio.Event, samples: list[dict[str, float]]) -> None:
    """Append a sample (with ``t``, seconds since the start) every ``SAMPLE_SECONDS`` until ``stop``."""
    started = time.perf_counter()
    while True:
        sample = await asyncio.to_thread(memory_sample, setup)
        samples.append({"t": round(time.perf_counter() - started, 1), **sample})
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


def memory_summary(samples: list[dict[str, float]]) -> dict[str, dict[str, float | None]]:
    """first/last/max (MB) of each series, and its slope (MB/min) after the warm-up."""
    series = [key for key in samples[0] if key != "t"] if samples else []
    summary: dict[str, dict[str, float | None]] = {}
    for key in series:
        values = [s[key] for s in samples]
        after = [(s["t"], s[key]) for s in samples if s["t"] >= WARMUP_SECONDS]
        summary[key] = {
            "first_mb": values[0],
            "last_mb": values[-1],
            "max_mb": max(values),
            "slope_mb_per_min_after_warmup": slope_mb_per_minute(after),
        }
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


async def drive(setup: Setup, seconds: float, seed: int) -> tuple[Tally, list[dict[str, float]]]:
    """The mixed load on ``setup``'s APIs (clients split evenly) while memory is sampled."""
    tally, stop = Tally(), asyncio.Event()
    samples: list[dict[str, float]] = []
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
        "memory": memory_summary(samples),
        "memory_samples": samples,
        "infer_events_at_end_of_load": event_statuses(setup.url, tally.event_ids),
        "infer_events_after_drain": wait_for_drain(setup.url, tally.event_ids, args.drain),
        "rss_after_drain_mb": memory_sample(setup),
    }


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
    parser.add_argument("--seconds", type=float, default=180.0, help="load duration per configuration")
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
    report("soak", host, {"operations": OPERATIONS, "users": USERS, "warmup_seconds": WARMUP_SECONDS, **results})


if __name__ == "__main__":
    main()
