"""LoCoMo evidence-retrieval benchmark, through the HTTP API with the official mem0ai client.

Every turn of every conversation is stored verbatim (infer=false) as one memory, the conversations
concurrently and each one's turns in order (as they would arrive in a live service): user_id = the
conversation's sample_id, the speaker as the message's name, metadata {dia_id, session, date}, the
add's timestamp = the session date, and the image caption appended as " [shares <caption>]". Then
every question of categories 1-4 with evidence is searched raw (top_k=20, threshold=0,
reference_date = the last session's date) and scored: evidence recall@5/@10/@20, hit@10, MRR@20,
per category and overall, plus search latency.

    python -m bench.locomo [--data ../shared/data/locomo/locomo6.json] [--limit-conversations N]

LoCoMo is CC BY-NC 4.0 (Maharana et al., ACL 2024): evaluation only, never shipped with mnemo.
"""

from __future__ import annotations

import argparse
import json
import re
import statistics
import tempfile
import time
from collections import defaultdict
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bench.common import memory_client, server_env, settle
from testkit.server import MnemoServer, start_server

DEFAULT_DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "locomo" / "locomo6.json"
DATE_FORMAT = "%I:%M %p on %d %B, %Y"
KS = (5, 10, 20)


def session_turns(conversation: dict[str, Any]) -> list[tuple[int, datetime, list[dict[str, Any]]]]:
    sessions = []
    for key, turns in conversation.items():
        match = re.fullmatch(r"session_(\d+)", key)
        if match and isinstance(turns, list):
            number = int(match.group(1))
            when = datetime.strptime(conversation[f"session_{number}_date_time"], DATE_FORMAT).replace(tzinfo=UTC)
            sessions.append((number, when, turns))
    return sorted(sessions)


def evidence_ids(raw: list[str]) -> set[str]:
    ids = set()
    for item in raw:
        for part in re.split(r"[;,\s]+", item):
            part = part.strip().replace("D:", "D")
            if re.fullmatch(r"D\d+:\d+", part):
                ids.add(part)
    return ids


def turn_adds(sample: dict[str, Any], *, infer: bool = False) -> list[dict[str, Any]]:
    """One add (the mem0 client's ``add`` keyword arguments plus ``messages``) per turn, in conversation order."""
    user = sample["sample_id"]
    jobs = []
    for number, when, turns in session_turns(sample["conversation"]):
        for turn in turns:
            text = turn["text"]
            if turn.get("blip_caption"):
                text = f"{text} [shares {turn['blip_caption']}]"
            jobs.append(
                {
                    "messages": [{"role": "user", "content": text, "name": turn["speaker"]}],
                    "user_id": user,
                    "infer": infer,
                    "metadata": {"dia_id": turn["dia_id"], "session": number, "date": when.date().isoformat()},
                    "timestamp": int(when.timestamp()),
                }
            )
    return jobs


def load(client: Any, samples: list[dict[str, Any]]) -> int:
    """Every turn, as a live service would see it: the conversations at once (one client thread
    each), each conversation's turns one after the other in order."""

    def add_conversation(sample: dict[str, Any]) -> int:
        jobs = turn_adds(sample)
        for job in jobs:
            messages = job.pop("messages")
            client.add(messages, **job)
        return len(jobs)

    with ThreadPoolExecutor(len(samples) or 1) as pool:
        return sum(pool.map(add_conversation, samples))


def evaluate(client: Any, sample: dict[str, Any]) -> list[dict[str, Any]]:
    user = sample["sample_id"]
    last = session_turns(sample["conversation"])[-1][1]
    outcomes = []
    for qa in sample["qa"]:
        evidence = evidence_ids(qa.get("evidence", []))
        if qa["category"] not in (1, 2, 3, 4) or not evidence:
            continue
        started = time.perf_counter()
        found = client.search(
            qa["question"], filters={"user_id": user}, top_k=20, threshold=0, reference_date=last.date().isoformat()
        )
        latency = (time.perf_counter() - started) * 1000
        ranked = [(r.get("metadata") or {}).get("dia_id") for r in found["results"]]
        outcomes.append({"category": qa["category"], "evidence": evidence, "ranked": ranked, "latency_ms": latency})
    return outcomes


def score(outcomes: list[dict[str, Any]]) -> dict[str, float]:
    result: dict[str, float] = {"questions": len(outcomes)}
    for k in KS:
        result[f"recall@{k}"] = statistics.mean(
            len(o["evidence"] & set(o["ranked"][:k])) / len(o["evidence"]) for o in outcomes
        )
    result["hit@10"] = statistics.mean(1.0 if o["evidence"] & set(o["ranked"][:10]) else 0.0 for o in outcomes)
    result["mrr@20"] = statistics.mean(_reciprocal_rank(o) for o in outcomes)
    return {key: round(value, 4) for key, value in result.items()}


def _reciprocal_rank(outcome: dict[str, Any]) -> float:
    for rank, dia_id in enumerate(outcome["ranked"][:20], start=1):
        if dia_id in outcome["evidence"]:
            return 1.0 / rank
    return 0.0


def report(outcomes: list[dict[str, Any]], turns: int, load_seconds: float) -> dict[str, Any]:
    latencies = sorted(o["latency_ms"] for o in outcomes)
    by_category: dict[int, list[dict[str, Any]]] = defaultdict(list)
    for outcome in outcomes:
        by_category[outcome["category"]].append(outcome)
    return {
        "benchmark": "locomo-evidence-retrieval",
        "date": datetime.now(UTC).date().isoformat(),
        "turns_stored": turns,
        "adds_per_second": round(turns / load_seconds, 1),
        "overall": score(outcomes),
        "by_category": {str(c): score(items) for c, items in sorted(by_category.items())},
        "search_latency_ms": {
            "p50": round(statistics.median(latencies), 2),
            "p95": round(latencies[int(0.95 * (len(latencies) - 1))], 2),
        },
    }


def run(data: Path, limit: int | None, server: MnemoServer) -> dict[str, Any]:
    client = memory_client(server)
    samples = json.loads(data.read_text())[:limit]
    started = time.perf_counter()
    turns = load(client, samples)
    load_seconds = time.perf_counter() - started
    settle(server)  # MNEMO_EMBEDDING_CONTEXT=deferred: the final vectors, as after a pause
    outcomes = [outcome for sample in samples for outcome in evaluate(client, sample)]
    return report(outcomes, turns, load_seconds)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--limit-conversations", type=int, default=None)
    parser.add_argument("--model-dir", type=Path, default=Path(tempfile.gettempdir()) / "mnemo-bench-models")
    parser.add_argument("--env", action="append", default=[], help="NAME=VALUE for the server (MNEMO_EMBEDDER=e5-onnx)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="mnemo-locomo-") as tmp:
        server = start_server(Path(tmp) / "data", model_dir=args.model_dir, extra_env=server_env(args.env))
        try:
            print(json.dumps(run(args.data, args.limit_conversations, server), indent=2))
        finally:
            server.stop()


if __name__ == "__main__":
    main()
