"""Verbatim ingest throughput against the embedder's own ceiling.

32 clients (closed loop) post ``infer=false`` adds of two distinct personal facts each (``--messages``; every
add stores one memory per message) to ``POST /v3/memories/add/`` for ~30 s after a warm-up; the figure is memories
stored per second. In the same run, while the server is idle, this process builds the same local
embedder the server uses (all-MiniLM-L6-v2, ONNX, int8, all cores) and embeds the same kind of texts
at batch 64 for ~10 s: ``ratio`` = memories/s ÷ embedder sentences/s, i.e. how much of the model's
throughput survives HTTP, parsing, batching and PostgreSQL. Under ``deferred`` context (the default) the run also
counts the final vectors still queued every 5 s and at the end, and how long the workers take for them after.
Client and server share the machine's cores, so the client's own CPU time counts against the server.

    python -m bench.ingest [--quick] [--seconds 30] [--warmup 5] [--clients 32] [--embed-seconds 10]
                           [--context-messages N] [--messages N] [--env NAME=VALUE]
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import random
import time
from typing import Any

import httpx

from bench import texts
from bench.common import (
    MODEL_DIR,
    closed_loop,
    cpu_split,
    http_clients,
    machine,
    pending_final_vectors,
    percentiles,
    report,
    running_server,
    server_env,
    settle,
)
from testkit.server import MnemoServer

TARGET_RATIO = 0.8
USERS = 200
BATCH = 64
#: how often the queue of final vectors (``MNEMO_EMBEDDING_CONTEXT=deferred``) is counted during the load
QUEUE_SAMPLE_SECONDS = 5.0


def embedder_throughput(seconds: float, seed: int) -> dict[str, Any]:
    """Sentences/s of the server's default embedder run directly, batch 64, in this process."""
    from mnemo.providers.embedding.minilm_onnx import MiniLMOnnxEmbedder

    embedder = MiniLMOnnxEmbedder(MODEL_DIR, precision="int8", max_batch=BATCH)
    stream = texts.distinct_facts(random.Random(seed))
    batches = [list(itertools.islice(stream, BATCH)) for _ in range(64)]
    embedder.embed(batches[0])  # warm-up: first runs allocate
    sentences, started = 0, time.perf_counter()
    for batch in itertools.cycle(batches):
        embedder.embed(batch)
        sentences += len(batch)
        if time.perf_counter() - started >= seconds:
            break
    elapsed = time.perf_counter() - started
    return {
        "model": embedder.name,
        "batch": BATCH,
        "sentences": sentences,
        "seconds": round(elapsed, 2),
        "sentences_per_second": round(sentences / elapsed, 1),
    }


async def ingest(server: MnemoServer, args: argparse.Namespace) -> dict[str, Any]:
    rng = random.Random(args.seed)
    stream = texts.distinct_facts(rng)

    async def add(client: httpx.AsyncClient, n: int) -> httpx.Response:
        body = {
            "messages": [{"role": "user", "content": next(stream)} for _ in range(args.messages)],
            "user_id": f"user-{n % USERS}",
            "infer": False,
        }
        return await client.post("/v3/memories/add/", json=body)

    cpu: dict[str, float] = {}
    queued: list[int] = []

    async def sample_queue() -> None:
        while True:
            queued.append(await asyncio.to_thread(pending_final_vectors, server))
            await asyncio.sleep(QUEUE_SAMPLE_SECONDS)

    sampler = asyncio.create_task(sample_queue())
    async with http_clients(server, args.clients) as clients, cpu_split(server, cpu):
        result = await closed_loop(clients, add, seconds=args.seconds, warmup=args.warmup, keep_bodies=True)
    sampler.cancel()
    at_end = await asyncio.to_thread(pending_final_vectors, server)
    settled = await asyncio.to_thread(settle, server)
    stored = sum(len(body["results"]) for body in result.responses)
    return {
        "adds": len(result.latencies_ms),
        "errors": dict(result.errors),
        "memories_stored": stored,
        "adds_per_second": round(result.requests_per_second, 1),
        "memories_per_second": round(stored / result.seconds, 1),
        "add_latency_ms": percentiles(result.latencies_ms),
        "cpu_seconds_incl_warmup": cpu,
        f"final_vectors_queued_every_{QUEUE_SAMPLE_SECONDS:g}_s": queued,
        "final_vectors_queued_at_the_end": at_end,
        "seconds_to_compute_them_after": round(settled, 2),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--quick", action="store_true", help="a short smoke run")
    parser.add_argument("--seconds", type=float, default=30.0)
    parser.add_argument("--warmup", type=float, default=5.0)
    parser.add_argument("--clients", type=int, default=32)
    parser.add_argument("--embed-seconds", type=float, default=10.0)
    parser.add_argument("--seed", type=int, default=11)
    parser.add_argument(
        "--context-messages", type=int, help="MNEMO_EMBEDDING_CONTEXT_MESSAGES for the server (default: its own)"
    )
    parser.add_argument("--messages", type=int, default=2, help="messages per add (each one memory)")
    parser.add_argument("--env", action="append", default=[], help="NAME=VALUE for the server")
    args = parser.parse_args()
    if args.quick:
        args.seconds, args.warmup, args.embed_seconds = 3.0, 1.0, 2.0
    host = machine()
    env = {} if args.context_messages is None else {"MNEMO_EMBEDDING_CONTEXT_MESSAGES": str(args.context_messages)}
    env.update(server_env(args.env))
    with running_server(env=env) as server:
        embedder = embedder_throughput(args.embed_seconds, args.seed + 1)
        served = asyncio.run(ingest(server, args))
    ratio = served["memories_per_second"] / embedder["sentences_per_second"]
    report(
        "ingest",
        host,
        {
            "endpoint": f"POST /v3/memories/add/ (infer=false, {args.messages} messages per add)",
            "clients": args.clients,
            "embedding_context_messages": args.context_messages,
            "seconds": args.seconds,
            "warmup_seconds": args.warmup,
            "server": served,
            "embedder_alone": embedder,
            "ratio": round(ratio, 3),
            "target_ratio": TARGET_RATIO,
            "meets_target": ratio >= TARGET_RATIO,
            "note": "client, server and PostgreSQL share the same cores over loopback",
        },
    )


if __name__ == "__main__":
    main()
