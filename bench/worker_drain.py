"""How fast workers drain queued ``infer: true`` adds (offline extractor) with the API idle (issue 14 §2).

The embedded PostgreSQL runs alone; a ``mnemo serve --no-workers`` on it accepts ``--adds`` inferred adds
(varied short chats from ``bench/texts.py``: 1-3 user facts, most with an assistant reply, ``--users`` user
ids) from 8 clients. Then, with nothing else sent, one ``mnemo worker`` (``--concurrency`` jobs at once)
starts, and the queue's depth (events PENDING or RUNNING) is read every second until it is empty. Printed:
events/s over the whole drain and per second, the depth over time, and the events' final statuses.
``--profile FILE`` records the worker with py-spy (collapsed stacks).

    python -m bench.worker_drain [--adds 3000] [--concurrency N] [--workers N] [--profile /tmp/worker.txt]
"""

from __future__ import annotations

import argparse
import asyncio
import random
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx
import psycopg

from bench import texts
from bench.common import MODEL_DIR, embedded_database, machine, report, server_env, start_worker, stop_process
from testkit.server import start_server


async def _enqueue(url: str, key: str, adds: int, users: int) -> float:
    rng = random.Random(14)
    bodies = [
        {"messages": texts.conversation(rng), "user_id": f"user-{rng.randrange(users)}", "infer": True}
        for _ in range(adds)
    ]
    started = time.perf_counter()

    async def client(part: list[dict[str, Any]]) -> None:
        async with httpx.AsyncClient(base_url=url, headers={"Authorization": f"Token {key}"}, timeout=60) as http:
            for body in part:
                (await http.post("/v3/memories/add/", json=body)).raise_for_status()

    await asyncio.gather(*(client(bodies[i::8]) for i in range(8)))
    return time.perf_counter() - started


def _depth(database_url: str) -> dict[str, int]:
    with psycopg.connect(database_url, autocommit=True) as conn:
        rows = conn.execute("SELECT status, count(*) FROM events GROUP BY status").fetchall()
    return {str(status): int(count) for status, count in rows}


def _completion_rate(database_url: str) -> float:
    """Events finished per second between the first and the last completion (the model's loading excluded, to
    the millisecond rather than the depth samples' second)."""
    with psycopg.connect(database_url, autocommit=True) as conn:
        row = conn.execute(
            "SELECT count(*), extract(epoch FROM max(completed_at) - min(completed_at)) FROM events"
            " WHERE completed_at IS NOT NULL"
        ).fetchone()
    count, seconds = (int(row[0]), float(row[1] or 0)) if row else (0, 0.0)
    return round((count - 1) / seconds, 1) if count > 1 and seconds > 0 else 0.0


def run(args: argparse.Namespace) -> tuple[dict[str, Any], dict[str, Any]]:
    host = machine()
    code = {"PYTHONPATH": str(args.src)} if args.src else {}
    code.update(server_env(args.env))
    with embedded_database() as (database_url, tmp):
        server = start_server(
            tmp / "serve", database_url=database_url, model_dir=MODEL_DIR, extra_args=["--no-workers"], extra_env=code
        )
        try:
            enqueue_seconds = asyncio.run(_enqueue(server.url, server.api_key, args.adds, args.users))
        finally:
            server.stop(timeout=120)
        env = {"MNEMO_JOB_POLL_SECONDS": "0.5", **code}
        if args.concurrency is not None:
            env["MNEMO_WORKER_CONCURRENCY"] = str(args.concurrency)
        workers = [start_worker(tmp / f"worker-{n}", database_url, extra_env=env) for n in range(args.workers)]
        worker = workers[0]
        spy = None
        if args.profile:
            spy_bin = str(Path(sys.executable).with_name("py-spy"))
            command = [spy_bin, "record", "--pid", str(worker.pid), "--format", "raw", "--rate", "100"]
            command += ["--output", str(args.profile)]
            spy = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        started = time.perf_counter()
        samples = []
        try:
            while True:
                counts = _depth(database_url)
                depth = counts.get("PENDING", 0) + counts.get("RUNNING", 0)
                samples.append((round(time.perf_counter() - started, 1), depth))
                if depth == 0 or time.perf_counter() - started > args.timeout:
                    break
                time.sleep(1.0)
        finally:
            if spy is not None:
                spy.send_signal(2)
                spy.wait(60)
            for each in workers:
                stop_process(each)
        drained = time.perf_counter() - started
        final = _depth(database_url)
        by_completion = _completion_rate(database_url)
    # the first sample is taken as the worker starts (model loading), so the rate is counted from the first drop
    first_drop = next((t for (t, d), (_, d0) in zip(samples[1:], samples, strict=False) if d < d0), samples[-1][0])
    done = args.adds - samples[-1][1]
    return host, {
        "adds": args.adds,
        "users": args.users,
        "workers": args.workers,
        "concurrency": args.concurrency or "the default of mnemo worker",
        "enqueue_adds_per_second": round(args.adds / enqueue_seconds, 1),
        "drain_seconds_from_worker_start": round(drained, 1),
        "events_per_second_after_first_drop": round(done / max(0.001, samples[-1][0] - first_drop + 1.0), 1),
        "events_per_second_by_completion": by_completion,
        "statuses": final,
        "depth_over_time": samples,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--adds", type=int, default=3000)
    parser.add_argument("--users", type=int, default=50)
    parser.add_argument(
        "--concurrency", type=int, default=None, help="jobs at once per worker process (default: mnemo worker's)"
    )
    parser.add_argument("--workers", type=int, default=1, help="worker processes")
    parser.add_argument("--timeout", type=float, default=600)
    parser.add_argument("--profile", type=Path, default=None)
    parser.add_argument("--src", type=Path, default=None, help="run the code of this src dir (e.g. a git worktree's)")
    parser.add_argument("--env", action="append", default=[], help="KEY=VALUE for the server and the worker")
    report("worker-drain", *run(parser.parse_args()))


if __name__ == "__main__":
    main()
