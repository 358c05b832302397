"""Whether PostgreSQL runs a statement while the event loop runs the model, after a pause (issue 14).

A search sends its keyword statement, then embeds its question on the event loop's thread, expecting PostgreSQL to
run the statement on the other CPU meanwhile (``mnemo.pipeline.retrieve``). This measures, in one process on the
embedded PostgreSQL and the default model (int8 MiniLM, one thread), after a sleep of ``--pause-ms`` before each
call (default 100; 0: back to back):

- ``statement``: a full-text match of the question's words among 600 rows (GIN index; ~30 match), alone;
- ``model``: a question's embedding, alone;
- ``loop``: the statement sent, then the model run on this thread (the search's way), until both are done;
- ``loop_sending``: of ``loop``, sending the statement (until this thread runs again: if PostgreSQL's backend is
  woken on this CPU and runs first, its whole statement);
- ``loop_after_model``: of ``loop``, what is left after the model's run (0 if PostgreSQL ran meanwhile);
- ``thread``: the statement sent, then the model run on a worker thread (the batcher's way).

``--pin`` puts this process on CPU 0 and its PostgreSQL backend on CPU 1 (a diagnosis, not a setting)::

    python -m bench.wakeups [--pause-ms 100] [--rounds 100] [--pin]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import tempfile
import time
from collections.abc import Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import psycopg

from bench.common import MODEL_DIR, machine, percentiles, report, stop_leftover_postgres
from mnemo.embedded_db import EmbeddedPostgres
from mnemo.providers.embedding.minilm_onnx import MiniLMOnnxEmbedder

QUESTION = "What did Caroline research after the LGBTQ support group meeting last week?"
STATEMENT = (
    "SELECT id, length(tsv) FROM docs WHERE tsv @@ replace(plainto_tsquery('english', %s)::text, ' & ', ' | ')::tsquery"
)


async def measure(url: str, args: argparse.Namespace) -> dict[str, Any]:
    model = MiniLMOnnxEmbedder(MODEL_DIR, threads=1, max_batch=1)
    thread = ThreadPoolExecutor(max_workers=1)
    loop = asyncio.get_running_loop()
    conn = await psycopg.AsyncConnection.connect(url, autocommit=True)
    # 600 rows, as a LoCoMo conversation; a question's words match ~5% of them (a search's keyword leg: ~30 rows)
    await conn.execute(
        "CREATE TABLE docs AS SELECT g AS id, to_tsvector('english', md5(g::text) || CASE WHEN g % 20 = 0"
        " THEN ' Caroline went to a support group' ELSE ' something else entirely' END) AS tsv"
        " FROM generate_series(1, 600) g"
    )
    await conn.execute("CREATE INDEX ON docs USING gin (tsv)")
    await conn.execute("ANALYZE docs")
    if args.pin:
        backend = (await (await conn.execute("SELECT pg_backend_pid()")).fetchone() or (0,))[0]
        os.sched_setaffinity(0, {0})
        os.sched_setaffinity(backend, {1})

    async def statement() -> None:
        await (await conn.execute(STATEMENT, (QUESTION,))).fetchall()

    async def alone() -> None:
        model.embed([QUESTION])

    sending: list[float] = []
    after_model: list[float] = []

    async def on_the_loop() -> None:
        sent = asyncio.ensure_future(statement())
        started = time.perf_counter()
        await asyncio.sleep(0)  # the statement is on its way before the model runs
        sending.append((time.perf_counter() - started) * 1000)
        model.embed([QUESTION])
        ran = time.perf_counter()
        await sent
        after_model.append((time.perf_counter() - ran) * 1000)

    async def on_a_thread() -> None:
        sent = asyncio.ensure_future(statement())
        await asyncio.sleep(0)
        await asyncio.gather(sent, loop.run_in_executor(thread, model.embed, [QUESTION]))

    ways: dict[str, Callable[[], Awaitable[None]]] = {
        "statement": statement,
        "model": alone,
        "loop": on_the_loop,
        "thread": on_a_thread,
    }
    timings: dict[str, list[float]] = {name: [] for name in ways}
    for _ in range(5):  # warm: the model's first runs and the statement's plan
        for way in ways.values():
            await way()
    sending.clear()
    after_model.clear()
    for _ in range(args.rounds):
        for name, way in ways.items():
            time.sleep(args.pause_ms / 1000)  # the whole process sleeps, as a server between two calls
            started = time.perf_counter()
            await way()
            timings[name].append((time.perf_counter() - started) * 1000)
    await conn.close()
    thread.shutdown()
    results = {name: percentiles(values) for name, values in timings.items()}
    results["loop_sending"] = percentiles(sending)
    results["loop_after_model"] = percentiles(after_model)
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--pause-ms", type=float, default=100.0)
    parser.add_argument("--rounds", type=int, default=100)
    parser.add_argument("--pin", action="store_true", help="this process on CPU 0, its PostgreSQL backend on CPU 1")
    args = parser.parse_args()
    host = machine()
    with tempfile.TemporaryDirectory(prefix="mnemo-wakeups-") as tmp:
        pgdata = Path(tmp) / "pgdata"
        try:
            url = EmbeddedPostgres(Path(tmp)).start()
            results = asyncio.run(measure(url, args))
        finally:
            stop_leftover_postgres(pgdata)
    report("wakeups", host, {"pause_ms": args.pause_ms, "pinned": args.pin, "ms": results})


if __name__ == "__main__":
    main()
