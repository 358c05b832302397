"""What Prometheus metrics cost: search and add latency with metrics on vs off, same run, interleaved.

Three ``mnemo serve --no-workers`` processes on one embedded PostgreSQL (the same database, project and key):
``on`` with ``MNEMO_METRICS=true`` (the default), ``off`` and ``off2`` with ``MNEMO_METRICS=false``. Everything
else is the same, the access log included (on, as by default). A user gets ``--seed`` memories first
(``infer=false`` adds of 10 messages). Then, in ``--rounds`` rounds, ``--requests`` searches and then as many
``infer=false`` adds (one message each): each request goes to the three servers, one after the other, in a
random order, so drift (other work on the machine, the database growing) hits every arm alike. The ``on``
server's ``/metrics`` is scraped once per round, as Prometheus would (between measured requests).

Reported per operation and arm: p50, p95, mean (ms); the mean over rounds of the paired difference of per-round
medians, on − off, with a 95% t interval; and the same for off2 − off, two identical servers (an A/A
comparison: what noise alone looks like). "within noise" when the on − off interval contains 0 or its mean is
no larger than the A/A interval's half-width.
Also, in this process: the CPU cost of the recording calls one request makes (the middleware's counter and
histogram, an add counter), timed with ``timeit``.

    python -m bench.metrics_overhead [--quick] [--rounds 20] [--requests 25] [--seed 200]
"""

from __future__ import annotations

import argparse
import math
import random
import statistics
import sys
import time
import timeit
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx

from bench import texts
from bench.common import MODEL_DIR, embedded_database, machine, percentiles, report
from testkit.server import MnemoServer, start_server

ARMS = ("on", "off", "off2")
USER = "metrics-bench-user"
#: Two-sided 95% t quantiles by degrees of freedom (beyond the table: normal).
_T95 = {4: 2.776, 9: 2.262, 14: 2.145, 19: 2.093, 24: 2.064, 29: 2.045, 39: 2.023, 49: 2.010}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="5 rounds of 10 pairs, 50 seed adds")
    parser.add_argument("--rounds", type=int, default=20)
    parser.add_argument("--requests", type=int, default=25, help="pairs of each operation per round")
    parser.add_argument("--seed", type=int, default=200, help="adds of 10 messages stored before measuring")
    args = parser.parse_args(argv)
    if args.quick:
        args.rounds, args.requests, args.seed = 5, 10, 50
    host = machine()
    with embedded_database() as (url, tmp):
        servers = _start(url, tmp)
        try:
            results = _measure(servers, rounds=args.rounds, pairs=args.requests, seed=args.seed)
        finally:
            for server in servers.values():
                server.stop(timeout=120)
    results["recording_cost_us_per_request"] = _recording_cost()
    results["settings"] = {"rounds": args.rounds, "pairs_per_round": args.requests, "seed_adds": args.seed}
    report("metrics_overhead", host, results)
    return 0


def _start(url: str, tmp: Path) -> dict[str, MnemoServer]:
    servers: dict[str, MnemoServer] = {}
    try:
        for arm in ARMS:
            key = servers["on"].api_key if servers else None
            servers[arm] = start_server(
                tmp / arm,
                database_url=url,
                model_dir=MODEL_DIR,
                api_key=key,
                extra_args=["--no-workers"],
                extra_env={"MNEMO_METRICS": "true" if arm == "on" else "false"},
            )
    except BaseException:
        for server in servers.values():
            server.stop(timeout=120)
        raise
    return servers


def _measure(servers: dict[str, MnemoServer], *, rounds: int, pairs: int, seed: int) -> dict[str, Any]:
    rng = random.Random(7)
    facts = texts.distinct_facts(rng)
    clients = {arm: servers[arm].client() for arm in ARMS}
    try:
        for _ in range(seed):
            body = {"messages": [{"role": "user", "content": next(facts)} for _ in range(10)], "user_id": USER}
            _ok(clients["on"].post("/v3/memories/add/", json={**body, "infer": False}))
        latencies: dict[str, dict[str, list[list[float]]]] = {op: {arm: [] for arm in ARMS} for op in ("search", "add")}
        for arm in ARMS:  # warm both servers' connections, pools and model sessions
            for _ in range(10):
                _ok(clients[arm].post("/v3/memories/search/", json=_search(rng)))
        for _ in range(rounds):
            for op in ("search", "add"):
                for arm in ARMS:
                    latencies[op][arm].append([])
                for _ in range(pairs):
                    path, body = ("/v3/memories/search/", _search(rng)) if op == "search" else _add(facts)
                    for arm in rng.sample(ARMS, len(ARMS)):
                        started = time.perf_counter()
                        _ok(clients[arm].post(path, json=body))
                        latencies[op][arm][-1].append((time.perf_counter() - started) * 1000)
            _ok(httpx.get(f"{servers['on'].url}/metrics", timeout=10))
    finally:
        for client in clients.values():
            client.close()
    return {op: _summary(by_arm) for op, by_arm in latencies.items()}


def _search(rng: random.Random) -> dict[str, Any]:
    return {"query": texts.question(rng), "filters": {"user_id": USER}, "top_k": 10}


def _add(facts: Iterator[str]) -> tuple[str, dict[str, Any]]:
    return "/v3/memories/add/", {"messages": next(facts), "user_id": f"{USER}-adds", "infer": False}


def _ok(response: httpx.Response) -> None:
    if response.status_code != 200:
        raise RuntimeError(f"{response.request.url}: {response.status_code} {response.text[:300]}")


def _summary(by_arm: dict[str, list[list[float]]]) -> dict[str, Any]:
    figures: dict[str, Any] = {
        arm: percentiles([ms for block in by_arm[arm] for ms in block]) | {"count": sum(map(len, by_arm[arm]))}
        for arm in ARMS
    }
    medians = {arm: [statistics.median(block) for block in by_arm[arm]] for arm in ARMS}
    on_minus_off = _paired([a - b for a, b in zip(medians["on"], medians["off"], strict=True)])
    noise = _paired([a - b for a, b in zip(medians["off2"], medians["off"], strict=True)])
    figures["on_minus_off_ms"] = on_minus_off
    figures["aa_off2_minus_off_ms"] = noise
    low, high = on_minus_off["ci95"]
    noise_half_width = (noise["ci95"][1] - noise["ci95"][0]) / 2
    within = low <= 0 <= high or abs(on_minus_off["mean"]) <= noise_half_width
    figures["verdict"] = "within noise" if within else "measurable"
    return figures


def _paired(differences: list[float]) -> dict[str, Any]:
    """Mean of per-round differences with a 95% t interval."""
    n = len(differences)
    mean = statistics.fmean(differences)
    sd = statistics.stdev(differences) if n > 1 else 0.0
    half = _t95(n - 1) * sd / math.sqrt(n) if n > 1 else math.inf
    return {"mean": round(mean, 3), "ci95": [round(mean - half, 3), round(mean + half, 3)], "rounds": n}


def _t95(df: int) -> float:
    for bound in sorted(_T95):
        if df <= bound:
            return _T95[bound]
    return 1.96


def _recording_cost() -> dict[str, float]:
    """Microseconds the recording calls of one request take in this process (best of 5 runs)."""
    from mnemo.observability import metrics

    def http_request() -> None:
        metrics.request_started()
        metrics.observe_request("POST", "/v3/memories/search/", 200, 0.012)
        metrics.request_ended()

    calls: dict[str, Callable[[], None]] = {
        "http_request": http_request,
        "add_accepted": lambda: metrics.add_accepted(infer=False),
        "embedding_batch": lambda: metrics.embedding_batch(3, 0.004, ok=True),
    }
    number = 20_000
    return {
        name: round(min(timeit.repeat(call, number=number, repeat=5)) / number * 1e6, 2) for name, call in calls.items()
    }


if __name__ == "__main__":
    sys.exit(main())
