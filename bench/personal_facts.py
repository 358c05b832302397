"""Plain personal-fact questions (``bench/personal_facts_data.py``): is the answering line ranked first?

Each person's lines are added one by one through the HTTP API with the official mem0ai client, as user
messages (no speaker name), ``user_id`` = the person, ``metadata`` {"line": id}; then every question is
searched in that person's scope (``top_k`` 10, ``threshold`` 0) and scored: top-1 and top-3 accuracy (a
result counts when its ``metadata.line`` is the answering line's id), the share of answering memories that
rank first AND score at least 0.3 (what a client's default threshold shows), and the misses.

``--mode verbatim`` stores each line as it is (``infer: false``); ``--mode infer`` lets the offline
extractor (no LLM configured) turn each line into memories (``infer: true``; the extracted memories keep the
add's metadata, so they carry the line id). ``--mode both`` runs both on one server (different user ids).

    python -m bench.personal_facts [--mode verbatim|infer|both] [--misses]
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx

from bench.common import memory_client, server_env, settle
from bench.personal_facts_data import PEOPLE
from testkit.server import MnemoServer, start_server

THRESHOLD = 0.3
EVENTS_TIMEOUT_SECONDS = 300.0


def store(client: Any, *, infer: bool, prefix: str) -> list[str]:
    """Add every person's lines, one add each; the event ids of the adds still processed in the background.

    ``client`` is the official client, or anything with its ``add`` (Mem0 OSS's ``Memory``, ``mem0_oss.py``)."""
    events = []
    for person in PEOPLE:
        for line_id, text in person.lines:
            answer = client.add(
                [{"role": "user", "content": text}],
                user_id=prefix + person.user_id,
                infer=infer,
                metadata={"line": line_id},
            )
            if infer:
                events.append(str(answer["event_id"]))
    return events


def wait_for(server: MnemoServer, events: list[str]) -> None:
    """Until ``events`` have finished and the workers have computed the final vectors (``deferred`` context)."""
    deadline = time.monotonic() + EVENTS_TIMEOUT_SECONDS
    with httpx.Client(base_url=server.url, headers=server.headers(), timeout=30) as http:
        for event_id in events:
            while True:
                status = http.get(f"/v1/event/{event_id}/").json()["status"]
                if status in ("SUCCEEDED", "FAILED"):
                    break
                if time.monotonic() > deadline:
                    raise TimeoutError(f"event {event_id} still {status}")
                time.sleep(0.05)
    settle(server)


def evaluate(client: Any, *, prefix: str) -> dict[str, Any]:
    outcomes = []
    for person in PEOPLE:
        for question, answer in person.questions:
            found = client.search(question, filters={"user_id": prefix + person.user_id}, top_k=10, threshold=0)
            results = found["results"]
            lines = [(r.get("metadata") or {}).get("line") for r in results]
            rank = lines.index(answer) + 1 if answer in lines else None
            outcomes.append(
                {
                    "question": question,
                    "answer": answer,
                    "rank": rank,
                    "answer_score": results[rank - 1]["score"] if rank else None,
                    "top": results[0]["memory"] if results else None,
                    "top_score": results[0]["score"] if results else None,
                    "top_breakdown": results[0].get("score_breakdown") if results else None,
                }
            )
    return summarise(outcomes)


def summarise(outcomes: list[dict[str, Any]]) -> dict[str, Any]:
    def share(test: Any) -> float:
        return round(sum(1 for o in outcomes if test(o)) / len(outcomes), 4)

    answer_scores = [o["answer_score"] for o in outcomes if o["answer_score"] is not None]
    return {
        "questions": len(outcomes),
        "top1": share(lambda o: o["rank"] == 1),
        "top3": share(lambda o: o["rank"] is not None and o["rank"] <= 3),
        f"top1_and_score_at_or_above_{THRESHOLD}": share(lambda o: o["rank"] == 1 and o["answer_score"] >= THRESHOLD),
        "answer_score_p10_p50": [
            round(sorted(answer_scores)[len(answer_scores) // 10], 4),
            round(statistics.median(answer_scores), 4),
        ],
        "misses": [
            {k: o[k] for k in ("question", "answer", "rank", "answer_score", "top", "top_score", "top_breakdown")}
            for o in outcomes
            if o["rank"] != 1
        ],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mode", choices=("verbatim", "infer", "both"), default="both")
    parser.add_argument("--misses", action="store_true", help="print every question whose answer is not first")
    parser.add_argument("--model-dir", type=Path, default=Path(tempfile.gettempdir()) / "mnemo-bench-models")
    parser.add_argument("--env", action="append", default=[], help="NAME=VALUE for the server (MNEMO_EMBEDDER=e5-onnx)")
    args = parser.parse_args()
    modes = ("verbatim", "infer") if args.mode == "both" else (args.mode,)
    report: dict[str, Any] = {"benchmark": "personal-facts", "date": time.strftime("%Y-%m-%d")}
    with tempfile.TemporaryDirectory(prefix="mnemo-facts-") as tmp:
        env = server_env(args.env)
        server = start_server(Path(tmp) / "data", model_dir=args.model_dir, extra_env=env)
        try:
            client = memory_client(server)
            for mode in modes:
                wait_for(server, store(client, infer=mode == "infer", prefix=f"{mode}-"))
                result = evaluate(client, prefix=f"{mode}-")
                if not args.misses:
                    result["misses"] = len(result["misses"])
                report[mode] = result
        finally:
            server.stop()
    print(json.dumps(report, indent=2, ensure_ascii=False))


if __name__ == "__main__":
    main()
