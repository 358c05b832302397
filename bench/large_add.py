"""Does the server keep answering while it reads the largest verbatim add? Health checks during a ~1.9 MB add.

One ``mnemo serve`` on its embedded PostgreSQL. Each round posts one ``infer: false`` add of 60 messages of 31,000
characters (generated chat sentences, seeded; just under the 2 MB body limit) from one thread, while another
client asks ``GET /healthz`` every 10 ms until the add is answered. Reported per round: the add's status and
seconds, and the health checks' count, p50 and max latency. A health check waits only when the event loop is
busy: judging, indexing and embedding a large add must happen off it.

    python -m bench.large_add [--rounds 3] [--src DIR]
"""

from __future__ import annotations

import argparse
import random
import threading
import time
from pathlib import Path
from typing import Any

from bench.common import machine, percentiles, report, running_server
from testkit.server import MnemoServer

MESSAGES = 60
MESSAGE_CHARS = 31_000
PING_EVERY_SECONDS = 0.01
_WORDS = (
    "I my we went saw the a cat sat on mat how are you thanks great fun wow really nice to see you again what did "
    "you do yesterday Paris Melanie"
).split()


def _message(rng: random.Random, chars: int) -> str:
    sentences: list[str] = []
    size = 0
    while size < chars:
        sentence = " ".join(rng.choice(_WORDS) for _ in range(rng.randint(3, 15))) + rng.choice("?!.")
        sentences.append(sentence)
        size += len(sentence) + 1
    return " ".join(sentences)[:chars]


def _round(server: MnemoServer, user: str, messages: list[dict[str, str]]) -> dict[str, Any]:
    answered: dict[str, Any] = {}

    def add() -> None:
        with server.client() as client:
            started = time.perf_counter()
            response = client.post("/v3/memories/add/", json={"messages": messages, "user_id": user, "infer": False})
            answered.update(status=response.status_code, seconds=round(time.perf_counter() - started, 2))

    adding = threading.Thread(target=add)
    adding.start()
    pings: list[float] = []
    with server.client() as client:
        while adding.is_alive():
            started = time.perf_counter()
            client.get("/healthz")
            pings.append((time.perf_counter() - started) * 1000)
            time.sleep(PING_EVERY_SECONDS)
    adding.join()
    figures = percentiles(pings)
    return {"add": answered, "health_checks": len(pings), "p50_ms": figures.get("p50"), "max_ms": figures.get("max")}


def run(args: argparse.Namespace) -> tuple[dict[str, Any], dict[str, Any]]:
    host = machine()
    rng = random.Random(1)
    messages = [{"role": "user", "content": _message(rng, MESSAGE_CHARS)} for _ in range(MESSAGES)]
    env = {"PYTHONPATH": str(args.src)} if args.src else None
    with running_server(workers=False, env=env) as server:
        with server.client() as client:
            client.post("/v3/memories/add/", json={"messages": "Warming up.", "user_id": "warm-up", "infer": False})
        rounds = [_round(server, f"large-{index}", messages) for index in range(args.rounds)]
    return host, {"messages": MESSAGES, "message_chars": MESSAGE_CHARS, "rounds": rounds}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--src", type=Path, default=None, help="run the code of this src dir (e.g. a git worktree's)")
    report("large-add", *run(parser.parse_args()))


if __name__ == "__main__":
    main()
