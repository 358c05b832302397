"""Add acceptance latency: queued ``infer=true`` adds from many concurrent clients.

32 clients post short chats for several users to ``POST /v3/memories/add/`` for ~20 s after a
warm-up. An accepted add is one committed event row, so this measures HTTP + auth + parsing + one
INSERT/NOTIFY/COMMIT. Two load shapes, both run on each of two fresh servers (``--no-workers``:
acceptance alone; with workers extracting and embedding the queued adds on the same cores):

- closed loop: each client sends its next add as soon as the previous one is answered (saturation;
  with 32 requests always in flight, latency is at least 32 / throughput);
- paced: the 32 clients together send a fixed rate (``--rate``, default half the closed-loop
  throughput of the no-workers server), and latency runs from each request's scheduled send time.

    python -m bench.add_acceptance [--quick] [--seconds 20] [--warmup 5] [--clients 32] [--rate R]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
from typing import Any

import httpx
import psycopg

from bench import texts
from bench.common import (
    LoadResult,
    closed_loop,
    cpu_split,
    embedded_database_url,
    http_clients,
    machine,
    paced_loop,
    percentiles,
    report,
    running_server,
)
from testkit.server import MnemoServer

TARGETS_MS = {"p50": 5.0, "p99": 25.0}
USERS = 50
PAYLOADS = 4000


def payloads(seed: int) -> list[bytes]:
    """Pre-encoded add bodies (so the client spends its CPU on sending, not on building JSON)."""
    rng = random.Random(seed)
    bodies = []
    for _ in range(PAYLOADS):
        body = {"messages": texts.conversation(rng), "user_id": f"user-{rng.randrange(USERS)}", "infer": True}
        bodies.append(json.dumps(body).encode())
    return bodies


def summary(result: LoadResult) -> dict[str, Any]:
    return {
        "requests": len(result.latencies_ms),
        "errors": dict(result.errors),
        "requests_per_second": round(result.requests_per_second, 1),
        "latency_ms": percentiles(result.latencies_ms),
    }


async def load(server: MnemoServer, args: argparse.Namespace, paced_rate: float | None) -> dict[str, Any]:
    """The closed-loop run, then a paced run at ``paced_rate`` (default: half the closed-loop rate)."""
    bodies = payloads(args.seed)
    headers = {"Content-Type": "application/json"}

    async def add(client: httpx.AsyncClient, n: int) -> httpx.Response:
        return await client.post("/v3/memories/add/", content=bodies[n % len(bodies)], headers=headers)

    cpu: dict[str, float] = {}
    async with http_clients(server, args.clients) as clients:
        async with cpu_split(server, cpu):
            closed = await closed_loop(clients, add, seconds=args.seconds, warmup=args.warmup)
        rate = paced_rate or round(closed.requests_per_second / 2, 1)
        paced = await paced_loop(clients, add, rate=rate, seconds=args.seconds, warmup=args.warmup)
    figures = summary(closed)
    figures["meets_targets"] = meets_targets(figures["latency_ms"])
    figures["cpu_seconds_incl_warmup"] = cpu
    paced_figures = {"target_rate": rate, **summary(paced)}
    paced_figures["meets_targets"] = meets_targets(paced_figures["latency_ms"])
    return {"closed_loop": figures, "paced": paced_figures}


def meets_targets(latency_ms: dict[str, float]) -> bool:
    return all(latency_ms.get(key, float("inf")) <= limit for key, limit in TARGETS_MS.items())


def events_by_status(server: MnemoServer) -> dict[str, int]:
    with psycopg.connect(embedded_database_url(server)) as conn:
        rows = conn.execute("SELECT status, count(*) FROM events GROUP BY status ORDER BY status").fetchall()
    return {status: count for status, count in rows}


def measure(args: argparse.Namespace, *, workers: bool, paced_rate: float | None = None) -> dict[str, Any]:
    with running_server(workers=workers) as server:
        figures = asyncio.run(load(server, args, paced_rate))
        figures["events_by_status_after_run"] = events_by_status(server)
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--quick", action="store_true", help="a short smoke run (3 s after 1 s warm-up)")
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--warmup", type=float, default=5.0)
    parser.add_argument("--clients", type=int, default=32)
    parser.add_argument("--rate", type=float, default=None, help="paced requests/s (default: half the closed loop's)")
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    if args.quick:
        args.seconds, args.warmup = 3.0, 1.0
    host = machine()
    results = {
        "endpoint": "POST /v3/memories/add/ (infer=true, queued)",
        "clients": args.clients,
        "seconds": args.seconds,
        "warmup_seconds": args.warmup,
        "users": USERS,
        "targets_ms": TARGETS_MS,
    }
    results["no_workers"] = measure(args, workers=False, paced_rate=args.rate)
    results["with_workers"] = measure(args, workers=True, paced_rate=results["no_workers"]["paced"]["target_rate"])
    report("add-acceptance", host, results)


if __name__ == "__main__":
    main()
