"""Search and verbatim-add latency through the official Python client on LoCoMo, optionally against a
baseline build in the same run (issue 14 §1).

Every LoCoMo turn is added verbatim (``infer=false``) by one ``mem0.MemoryClient`` per server, one turn at a
time, then every question of categories 1-4 with evidence is searched (``top_k`` 20, ``threshold`` 0,
``reference_date`` = the last session's date, as ``bench.locomo``). With ``--baseline-src DIR`` a second
server runs the code of ``DIR`` (e.g. ``git worktree add /tmp/old <commit>``, then ``/tmp/old/src``) on its
own embedded PostgreSQL, and every add and every search goes to both servers back to back in a random order,
so both see the same noise. ``--profile DIR`` records each phase of the current server with py-spy
(collapsed stacks, ``DIR/add.txt`` and ``DIR/search.txt``; ``pip install py-spy``). Between the adds and the
searches the run waits for the workers' final vectors (``MNEMO_EMBEDDING_CONTEXT=deferred``: the seconds and the
CPU they took are reported), and each database is analysed (``--no-analyze``: searched on the plans of tables never
analysed, as in the first minute after a load).

With ``--pause-ms N`` the client sleeps N ms before every call, as an agent's calls come (and as in a run that
alternates with another system, ``mem0_oss.py``): on this VM the caches go cold meanwhile.

    python -m bench.client_speed [--limit-conversations N] [--baseline-src /tmp/old/src] [--profile DIR]
                                 [--pause-ms N]
"""

from __future__ import annotations

import argparse
import json
import os
import random
import subprocess
import sys
import time
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Any

from bench.common import (
    cpu_seconds,
    embedded_database_url,
    machine,
    memory_client,
    percentiles,
    report,
    running_server,
    server_env,
    settle,
)
from bench.locomo import DEFAULT_DATA, evidence_ids, score, session_turns, turn_adds
from testkit.server import MnemoServer


@contextmanager
def _py_spy(pid: int, out: Path | None) -> Any:
    if out is None:
        yield
        return
    spy = str(Path(sys.executable).with_name("py-spy"))
    command = [
        spy,
        "record",
        "--pid",
        str(pid),
        "--format",
        "raw",
        "--rate",
        "250",
        "--output",
        str(out),
        *os.environ.get("PY_SPY_ARGS", "").split(),
    ]
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    time.sleep(1.0)  # let it attach
    try:
        yield
    finally:
        process.send_signal(2)
        process.wait(60)


def _cpu_per_request(
    servers: dict[str, MnemoServer], before: dict[str, dict[str, float]], requests: int
) -> dict[str, dict[str, float]]:
    """CPU ms per request of each server's ``serve`` process and its PostgreSQL since ``before``."""
    spent = {}
    for name, server in servers.items():
        now = cpu_seconds(server)
        spent[name] = {
            side: round((now[side] - before[name][side]) * 1000 / requests, 2) for side in ("server", "postgres")
        }
    return spent


def _pause(ms: float) -> None:
    """An agent's pause before a call (an LLM's turn between two): on a shared VM the caches go cold meanwhile."""
    if ms:
        time.sleep(ms / 1000)


def analyze(server: MnemoServer) -> None:
    """Refresh the database's statistics, as autovacuum does within a minute or two of a load: the searches then
    run on the plans of a service in its steady state, not on those of a table never analysed (on one LoCoMo
    conversation, the nearest statement took 1.7 ms instead of 0.7 without statistics)."""
    import psycopg

    with psycopg.connect(embedded_database_url(server), autocommit=True) as conn:
        conn.execute("ANALYZE")


def searched_questions(sample: dict[str, Any]) -> list[tuple[dict[str, Any], set[str], str]]:
    """The questions of categories 1-4 with evidence, each with its evidence turns and the last session's date."""
    last = session_turns(sample["conversation"])[-1][1].date().isoformat()
    found = []
    for qa in sample["qa"]:
        evidence = evidence_ids(qa.get("evidence", []))
        if qa["category"] in (1, 2, 3, 4) and evidence:
            found.append((qa, evidence, last))
    return found


def run(args: argparse.Namespace) -> tuple[dict[str, Any], dict[str, Any]]:
    samples = json.loads(args.data.read_text())[: args.limit_conversations]
    rng = random.Random(14)
    host = machine()
    with ExitStack() as stack:
        current_env = {"PYTHONPATH": str(args.current_pythonpath)} if args.current_pythonpath else {}
        current_env.update(server_env(args.env))
        servers = {"current": stack.enter_context(running_server(workers=not args.no_workers, env=current_env))}
        if args.baseline_src:
            env = {"PYTHONPATH": str(args.baseline_src)}
            servers["baseline"] = stack.enter_context(running_server(workers=not args.no_workers, env=env))
        clients = {name: memory_client(s) for name, s in servers.items()}
        names = list(clients)
        adds: dict[str, list[float]] = {name: [] for name in names}
        jobs = [job for sample in samples for job in turn_adds(sample)]
        profile = args.profile
        if profile:
            profile.mkdir(parents=True, exist_ok=True)
        cpu = {name: cpu_seconds(server) for name, server in servers.items()}
        with _py_spy(servers["current"].process.pid, profile / "add.txt" if profile else None):
            for job in jobs:
                rng.shuffle(names)
                for name in names:
                    kwargs = dict(job)
                    messages = kwargs.pop("messages")
                    _pause(args.pause_ms)
                    started = time.perf_counter()
                    clients[name].add(messages, **kwargs)
                    adds[name].append((time.perf_counter() - started) * 1000)
        add_cpu = _cpu_per_request(servers, cpu, len(jobs))
        cpu = {name: cpu_seconds(server) for name, server in servers.items()}
        settled = {name: round(settle(server), 2) for name, server in servers.items()}
        final_cpu = _cpu_per_request(servers, cpu, len(jobs))
        if args.analyze:
            for server in servers.values():
                analyze(server)
        searches: dict[str, list[float]] = {name: [] for name in names}
        outcomes: dict[str, list[dict[str, Any]]] = {name: [] for name in names}
        questions = [(sample["sample_id"], *q) for sample in samples for q in searched_questions(sample)]
        cpu = {name: cpu_seconds(server) for name, server in servers.items()}
        with _py_spy(servers["current"].process.pid, profile / "search.txt" if profile else None):
            for _ in range(args.repeat):
                for user, qa, evidence, last in questions:
                    rng.shuffle(names)
                    for name in names:
                        _pause(args.pause_ms)
                        started = time.perf_counter()
                        found = clients[name].search(
                            qa["question"], filters={"user_id": user}, top_k=20, threshold=0, reference_date=last
                        )
                        searches[name].append((time.perf_counter() - started) * 1000)
                        ranked = [(r.get("metadata") or {}).get("dia_id") for r in found["results"]]
                        outcomes[name].append({"category": qa["category"], "evidence": evidence, "ranked": ranked})
        search_cpu = _cpu_per_request(servers, cpu, len(questions) * args.repeat)
    return host, {
        "turns": len(jobs),
        "questions": len(questions),
        "results": {
            name: {
                "verbatim_add_ms": percentiles(adds[name]),
                "verbatim_add_cpu_ms": add_cpu[name],
                "final_vectors": {"seconds_after_the_adds": settled[name], "cpu_ms_per_add": final_cpu[name]},
                "search_ms": percentiles(searches[name]),
                "search_cpu_ms": search_cpu[name],
                "locomo": score(outcomes[name][: len(questions)]),
            }
            for name in sorted(clients)
        },
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--limit-conversations", type=int, default=None)
    parser.add_argument("--baseline-src", type=Path, default=None)
    parser.add_argument("--profile", type=Path, default=None)
    parser.add_argument("--repeat", type=int, default=1, help="search every question this many times")
    parser.add_argument("--no-workers", action="store_true")
    parser.add_argument("--current-pythonpath", type=Path, default=None, help="e.g. a dir with a sitecustomize.py")
    parser.add_argument("--env", action="append", default=[], help="NAME=VALUE for the current server")
    parser.add_argument("--pause-ms", type=float, default=0.0, help="sleep this long before every call (not timed)")
    parser.add_argument(
        "--analyze",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="ANALYZE the databases between the adds and the searches (default: on; off: the first minute's plans)",
    )
    report("client-speed", *run(parser.parse_args()))


if __name__ == "__main__":
    main()
