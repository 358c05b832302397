"""Are search scores on the Platform's scale? LoCoMo through the HTTP API with the official mem0ai client.

Loads the LoCoMo conversations exactly as ``bench.locomo`` does (every turn verbatim, one user per
conversation), then asks every question of categories 1-4 with evidence:

- of its own conversation's scope (top_k 20, ``threshold`` 0, and again with ``threshold`` 0.3): evidence
  recall@5/@10/@20 and MRR@20 at threshold 0 (``bench.locomo``'s figures), recall@10 at 0.3, and the gap;
- of ANOTHER conversation's scope (the next one in the file, a different user's memories; top_k 10,
  ``threshold`` 0): the share of those top-10 results that score 0.3 or more, which a client's default
  threshold would show although none can answer the question.

Targets (issue 10): recall@10 at 0.3 within 2 points of recall@10 at 0; at most 10% of the other scope's
top-10 at 0.3 or above. ``--dump FILE`` writes every result's text, turn, score and ``score_breakdown`` (JSON lines)
for fitting the calibration; ``--data-dir DIR`` keeps the server's data there and ``--reuse`` searches an
already loaded one (so a ranking change is measured on the same stored memories); ``--env NAME=VALUE`` sets
the server's settings (a ranking weight, to compare weights on one store).

    python -m bench.calibration [--data ../shared/data/locomo/locomo6.json] [--limit-conversations N]

LoCoMo is CC BY-NC 4.0 (Maharana et al., ACL 2024): evaluation only, never shipped with mnemo.
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

from bench.common import memory_client, server_env
from bench.locomo import DEFAULT_DATA, evidence_ids, load, score, session_turns
from testkit.server import start_server

THRESHOLD = 0.3


def questions(sample: dict[str, Any]) -> list[dict[str, Any]]:
    return [qa for qa in sample["qa"] if qa["category"] in (1, 2, 3, 4) and evidence_ids(qa.get("evidence", []))]


def evaluate(client: Any, samples: list[dict[str, Any]], dump: Any = None) -> dict[str, Any]:
    own: list[dict[str, Any]] = []
    cut: list[dict[str, Any]] = []
    foreign_scores: list[list[float]] = []
    started = time.perf_counter()
    searches = 0
    for index, sample in enumerate(samples):
        user = sample["sample_id"]
        other = samples[(index + 1) % len(samples)]["sample_id"]
        reference = session_turns(sample["conversation"])[-1][1].date().isoformat()
        for qa in questions(sample):
            evidence = evidence_ids(qa["evidence"])
            found = client.search(
                qa["question"], filters={"user_id": user}, top_k=20, threshold=0, reference_date=reference
            )
            kept = client.search(
                qa["question"], filters={"user_id": user}, top_k=20, threshold=THRESHOLD, reference_date=reference
            )
            searches += 2
            ranked = [(r.get("metadata") or {}).get("dia_id") for r in found["results"]]
            own.append({"category": qa["category"], "evidence": evidence, "ranked": ranked})
            cut.append(
                {
                    "category": qa["category"],
                    "evidence": evidence,
                    "ranked": [(r.get("metadata") or {}).get("dia_id") for r in kept["results"]],
                }
            )
            if other != user:
                foreign = client.search(
                    qa["question"], filters={"user_id": other}, top_k=10, threshold=0, reference_date=reference
                )
                searches += 1
                foreign_scores.append([r["score"] for r in foreign["results"]])
            else:
                foreign = {"results": []}
            if dump is not None:
                for scope, results in (("own", found["results"]), ("other", foreign["results"])):
                    for rank, r in enumerate(results):
                        dia_id = (r.get("metadata") or {}).get("dia_id")
                        row = {
                            "question": qa["question"],
                            "category": qa["category"],
                            "scope": scope,
                            "rank": rank,
                            "evidence": scope == "own" and dia_id in evidence,
                            "dia_id": dia_id,
                            "memory": r["memory"],
                            "score": r["score"],
                            "breakdown": r.get("score_breakdown"),
                        }
                        dump.write(json.dumps(row) + "\n")
    at_zero = score(own)
    at_cut = score(cut)
    flat = [s for scores in foreign_scores for s in scores]
    return {
        "questions": len(own),
        "own_scope_threshold_0": at_zero,
        f"own_scope_recall@10_threshold_{THRESHOLD}": at_cut["recall@10"],
        "recall@10_gap_points": round(100 * (at_zero["recall@10"] - at_cut["recall@10"]), 2),
        f"own_scope_mean_results_threshold_{THRESHOLD}": round(statistics.mean(len(c["ranked"]) for c in cut), 2),
        "other_scope_top10_results": len(flat),
        f"other_scope_share_at_or_above_{THRESHOLD}": round(sum(s >= THRESHOLD for s in flat) / max(1, len(flat)), 4),
        "other_scope_questions_with_any_at_or_above": round(
            sum(any(s >= THRESHOLD for s in scores) for scores in foreign_scores) / max(1, len(foreign_scores)), 4
        ),
        "other_scope_top1_score_p50_p90": [
            round(statistics.median(s[0] for s in foreign_scores if s), 4),
            round(sorted(s[0] for s in foreign_scores if s)[int(0.9 * (len(foreign_scores) - 1))], 4),
        ],
        "search_seconds": round(time.perf_counter() - started, 1),
        "searches": searches,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--limit-conversations", type=int, default=None)
    parser.add_argument("--model-dir", type=Path, default=Path(tempfile.gettempdir()) / "mnemo-bench-models")
    parser.add_argument("--data-dir", type=Path, default=None, help="keep the server's data here")
    parser.add_argument("--reuse", action="store_true", help="the data dir is already loaded: only search")
    parser.add_argument("--dump", type=Path, default=None, help="write every result's signals (JSON lines)")
    parser.add_argument("--env", action="append", default=[], help="NAME=VALUE for the server")
    args = parser.parse_args()
    samples = json.loads(args.data.read_text())[: args.limit_conversations]
    with tempfile.TemporaryDirectory(prefix="mnemo-calibration-") as tmp:
        data_dir = args.data_dir or Path(tmp) / "data"
        server = start_server(
            data_dir, model_dir=args.model_dir, api_key="m0-calibration-bench", extra_env=server_env(args.env)
        )
        try:
            client = memory_client(server)
            turns = 0
            if not args.reuse:
                turns = load(client, samples)
            if args.dump is not None:
                with args.dump.open("w") as dump:
                    result = evaluate(client, samples, dump)
            else:
                result = evaluate(client, samples)
            print(json.dumps({"benchmark": "score-calibration", "turns_stored": turns, **result}, indent=2))
        finally:
            server.stop()


if __name__ == "__main__":
    main()
