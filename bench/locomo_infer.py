"""LoCoMo evidence retrieval with extraction (infer=true), next to the verbatim baseline (infer=false).

The protocol of ``bench/locomo.py``, except that every turn is added with ``infer: true``: one add per
turn (user_id = the conversation's sample_id, the speaker as the message's name, the image caption
appended as " [shares <caption>]", metadata {dia_id, session, date}, timestamp = the session date), so
every memory extracted from a turn carries that turn's dia_id. The script waits until every add's event
is SUCCEEDED or FAILED, counts the memories stored, then runs the same searches (top_k=20, threshold=0,
reference_date = the last session's date) and scores them the same way: evidence recall@5/@10/@20,
hit@10, MRR@20 per category and overall. A memory counts for the turn whose dia_id it carries; several
memories of one turn each take a rank.

With ``--with-baseline`` (the default) the infer=false flow of ``bench/locomo.py`` runs first on its own
fresh server, so both sets of figures come from the same machine and code, in one JSON. Target: recall@10
within 5 points of infer=false while storing fewer memories than turns.

``diagnostics`` says where the evidence is lost: evidence turns with no memory at all (split by why: the
extractor kept no sentence of the turn, or what it kept was a duplicate of an earlier memory; and by
whether the turn shares an image, and whether the answer's words are only in the caption), and evidence
that the baseline ranked in its top 10 but extraction did not, split into "no memory for the turn" and
"memory ranked lower".

    python -m bench.locomo_infer [--data ../shared/data/locomo/locomo6.json] [--limit-conversations N]
                                 [--no-baseline] [--examples N] [--env NAME=VALUE]

``--examples N`` prints N lost evidence turns (turn, caption, question) to stderr for a human to read.
LoCoMo is CC BY-NC 4.0 (Maharana et al., ACL 2024): evaluation only, never shipped with mnemo.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import re
import statistics
import sys
import tempfile
import time
from collections import Counter, defaultdict
from collections.abc import Iterable, Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bench import locomo
from bench.common import memory_client, server_env
from testkit.server import MnemoServer, start_server

#: How long all events of one run may take to finish.
EVENTS_TIMEOUT_SECONDS = 3600.0
_POLL_SECONDS = 0.5
_PAGE_SIZE = 1000
_ANSWER_WORD = re.compile(r"[a-z0-9]+")
# Words of an answer that say nothing about where it was found.
_ANSWER_STOP_WORDS = frozenset(
    """
    a an the and or of in on at to for with from by as is was were be been it its this that they their
    he she his her him them i my me we our you your not no yes likely unlikely probably maybe because so
    some any one two three also both than then there here about into over after before since during
    """.split()
)


@dataclass(frozen=True, slots=True)
class Turn:
    dia_id: str
    speaker: str
    text: str
    caption: str | None


@dataclass(slots=True)
class InferLoad:
    """What the infer=true adds of one run produced."""

    turns: int = 0
    submit_seconds: float = 0.0
    finish_seconds: float = 0.0
    statuses: Counter[str] = field(default_factory=Counter)
    #: event metadata counters summed over events (facts_extracted, memories_written, ...)
    counters: Counter[str] = field(default_factory=Counter)
    #: (sample_id, dia_id) → facts the extractor produced for that turn
    facts_by_turn: dict[tuple[str, str], int] = field(default_factory=dict)
    failures: list[str] = field(default_factory=list)


def turns_of(sample: dict[str, Any]) -> dict[str, Turn]:
    """The conversation's turns by dia_id."""
    turns: dict[str, Turn] = {}
    for _, _, session in locomo.session_turns(sample["conversation"]):
        for turn in session:
            turns[turn["dia_id"]] = Turn(turn["dia_id"], turn["speaker"], turn["text"], turn.get("blip_caption"))
    return turns


@contextmanager
def running_server(model_dir: Path, env: Mapping[str, str]) -> Iterator[MnemoServer]:
    with tempfile.TemporaryDirectory(prefix="mnemo-locomo-") as tmp:
        server = start_server(Path(tmp) / "data", model_dir=model_dir, extra_env=dict(env))
        try:
            yield server
        finally:
            server.stop()


# ---------------------------------------------------------------- loading with infer=true


def submit(client: Any, samples: list[dict[str, Any]]) -> list[tuple[str, str, str]]:
    """Every turn as one infer=true add, the conversations at once and each one's turns in order (as a
    live service would receive them); (sample_id, dia_id, event_id) per add."""

    def add_conversation(sample: dict[str, Any]) -> list[tuple[str, str, str]]:
        submitted = []
        for job in locomo.turn_adds(sample, infer=True):
            messages = job.pop("messages")
            answer = client.add(messages, **job)
            if not answer.get("event_id"):
                raise RuntimeError(f"an infer=true add answered without an event_id: {answer}")
            submitted.append((job["user_id"], job["metadata"]["dia_id"], str(answer["event_id"])))
        return submitted

    with ThreadPoolExecutor(len(samples) or 1) as pool:
        return [event for events in pool.map(add_conversation, samples) for event in events]


def wait_for_events(client: Any, events: list[tuple[str, str, str]], load: InferLoad) -> None:
    """Poll ``GET /v1/event/{id}/`` in submission order until every event is SUCCEEDED or FAILED."""
    http = client.client
    deadline = time.monotonic() + EVENTS_TIMEOUT_SECONDS
    last_report = time.monotonic()
    for done, (user, dia_id, event_id) in enumerate(events):
        while True:
            response = http.get(f"/v1/event/{event_id}/")
            response.raise_for_status()
            event = response.json()
            if event["status"] in ("SUCCEEDED", "FAILED"):
                break
            if time.monotonic() > deadline:
                raise TimeoutError(f"event {event_id} still {event['status']} after {EVENTS_TIMEOUT_SECONDS}s")
            if time.monotonic() - last_report > 30:
                print(f"  events: {done}/{len(events)} finished", file=sys.stderr, flush=True)
                last_report = time.monotonic()
            time.sleep(_POLL_SECONDS)
        load.statuses[event["status"]] += 1
        metadata = event.get("metadata") or {}
        for key in ("facts_extracted", "memories_written", "duplicates_skipped", "same_meaning_skipped"):
            load.counters[key] += int(metadata.get(key) or 0)
        load.facts_by_turn[(user, dia_id)] = int(metadata.get("facts_extracted") or 0)
        if event["status"] == "FAILED":
            load.failures.append(f"{user} {dia_id}: {event.get('error')}")


def stored_memories(client: Any, user: str) -> list[dict[str, Any]]:
    """Every memory of ``user`` (get-all, page by page)."""
    memories: list[dict[str, Any]] = []
    page = 1
    while True:
        response = client.client.post(
            "/v3/memories/", json={"filters": {"user_id": user}}, params={"page": page, "page_size": _PAGE_SIZE}
        )
        response.raise_for_status()
        body = response.json()
        memories.extend(body["results"])
        if not body.get("next") or not body["results"]:
            return memories
        page += 1


# ---------------------------------------------------------------- diagnostics


def answer_words(answer: object) -> set[str]:
    return {w for w in _ANSWER_WORD.findall(str(answer).lower()) if w not in _ANSWER_STOP_WORDS and len(w) > 2}


def caption_only(answer: object, turn: Turn) -> bool:
    """Whether some word of the answer is in the turn's image caption but none is in its text."""
    words = answer_words(answer)
    if not turn.caption or not words:
        return False
    text = set(_ANSWER_WORD.findall(turn.text.lower()))
    caption = set(_ANSWER_WORD.findall(turn.caption.lower()))
    return bool(words & caption) and not (words & text)


@dataclass(frozen=True, slots=True)
class Lost:
    """An evidence turn of a question that extraction stored no memory for."""

    sample_id: str
    turn: Turn
    question: str
    answer: str
    category: int
    reason: str


def diagnose(
    samples: list[dict[str, Any]],
    load: InferLoad,
    remembered: dict[str, set[str]],
    outcomes: list[dict[str, Any]],
    baseline_outcomes: list[dict[str, Any]] | None,
) -> tuple[dict[str, Any], list[Lost]]:
    """Where extraction loses evidence (see the module docstring). ``outcomes`` are in question order."""
    evidence_turns: dict[tuple[str, str], Turn] = {}
    lost: list[Lost] = []
    questions = list(_questions(samples))
    for (sample_id, turns, qa), _ in zip(questions, outcomes, strict=True):
        for dia_id in sorted(locomo.evidence_ids(qa.get("evidence", []))):
            turn = turns.get(dia_id)
            if turn is None:
                continue
            evidence_turns[(sample_id, dia_id)] = turn
            if dia_id not in remembered[sample_id]:
                answer = str(qa.get("answer", ""))
                reason = _reason(load.facts_by_turn.get((sample_id, dia_id), 0), turn, answer)
                lost.append(Lost(sample_id, turn, qa["question"], answer, qa["category"], reason))
    without = [key for key in evidence_turns if key[1] not in remembered[key[0]]]
    no_fact = [key for key in without if load.facts_by_turn.get(key, 0) == 0]
    result: dict[str, Any] = {
        "evidence_turns": len(evidence_turns),
        "evidence_turns_with_memory": len(evidence_turns) - len(without),
        "evidence_turns_without_memory": {
            "total": len(without),
            "no_fact_extracted": len(no_fact),
            "facts_all_duplicates": len(without) - len(no_fact),
            "image_turns": sum(1 for key in without if evidence_turns[key].caption),
        },
        "lost_question_evidence_by_reason": dict(Counter(item.reason for item in lost).most_common()),
        "turns_with_memory": sum(len(ids) for ids in remembered.values()),
        "turns_without_any_fact": sum(1 for facts in load.facts_by_turn.values() if facts == 0),
        "recall@10_by_evidence_coverage": _recall_by_coverage(questions, outcomes, remembered),
        # Several memories of one turn each take a rank; counting each turn once shows what that costs.
        "recall@10_first_memory_of_each_turn_only": _recall(
            ({**o, "ranked": list(dict.fromkeys(o["ranked"]))} for o in outcomes), 10
        ),
    }
    if baseline_outcomes is not None:
        result["baseline_top10_evidence_missed_by_infer"] = _versus_baseline(
            questions, outcomes, baseline_outcomes, remembered
        )
    return result, lost


def _questions(samples: list[dict[str, Any]]) -> Iterator[tuple[str, dict[str, Turn], dict[str, Any]]]:
    """The evaluated questions, in the order ``locomo.evaluate`` asks them."""
    for sample in samples:
        turns = turns_of(sample)
        for qa in sample["qa"]:
            if qa["category"] in (1, 2, 3, 4) and locomo.evidence_ids(qa.get("evidence", [])):
                yield sample["sample_id"], turns, qa


def _reason(facts: int, turn: Turn, answer: str) -> str:
    if facts:
        return "facts were duplicates of earlier memories"
    if caption_only(answer, turn):
        return "no fact; the answer is only in the image caption"
    return "no fact extracted from the turn"


def _recall_by_coverage(
    questions: list[tuple[str, dict[str, Turn], dict[str, Any]]],
    outcomes: list[dict[str, Any]],
    remembered: dict[str, set[str]],
) -> dict[str, Any]:
    groups: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for (sample_id, _, _), outcome in zip(questions, outcomes, strict=True):
        covered = outcome["evidence"] & remembered[sample_id]
        group = "all" if covered == outcome["evidence"] else "some" if covered else "none"
        groups[group].append(outcome)
    return {
        f"{group}_evidence_turns_have_a_memory": {"questions": len(items), "recall@10": _recall(items, 10)}
        for group, items in sorted(groups.items())
    }


def _versus_baseline(
    questions: list[tuple[str, dict[str, Turn], dict[str, Any]]],
    outcomes: list[dict[str, Any]],
    baseline_outcomes: list[dict[str, Any]],
    remembered: dict[str, set[str]],
) -> dict[str, int]:
    counts: Counter[str] = Counter()
    for (sample_id, _, _), outcome, base in zip(questions, outcomes, baseline_outcomes, strict=True):
        for dia_id in outcome["evidence"] & set(base["ranked"][:10]):
            if dia_id in outcome["ranked"][:10]:
                counts["also_in_infer_top10"] += 1
            elif dia_id not in remembered[sample_id]:
                counts["no_memory_for_the_turn"] += 1
            elif dia_id in outcome["ranked"]:
                counts["memory_ranked_11_to_20"] += 1
            else:
                counts["memory_not_in_top20"] += 1
        for dia_id in outcome["evidence"] & set(outcome["ranked"][:10]):
            if dia_id not in base["ranked"][:10]:
                counts["infer_top10_but_not_baseline_top10"] += 1
    return dict(sorted(counts.items()))


def _recall(outcomes: Iterable[dict[str, Any]], k: int) -> float | None:
    values = [len(o["evidence"] & set(o["ranked"][:k])) / len(o["evidence"]) for o in outcomes]
    return round(statistics.mean(values), 4) if values else None


# ---------------------------------------------------------------- the runs


def run_baseline(
    samples: list[dict[str, Any]], model_dir: Path, env: Mapping[str, str]
) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """bench/locomo.py's flow (infer=false) on a fresh server: its report, and the per-question outcomes."""
    with running_server(model_dir, env) as server:
        client = memory_client(server)
        started = time.perf_counter()
        turns = locomo.load(client, samples)
        load_seconds = time.perf_counter() - started
        outcomes = [outcome for sample in samples for outcome in locomo.evaluate(client, sample)]
        return locomo.report(outcomes, turns, load_seconds), outcomes


def run_infer(
    samples: list[dict[str, Any]], model_dir: Path, env: Mapping[str, str]
) -> tuple[InferLoad, dict[str, int], dict[str, set[str]], list[dict[str, Any]]]:
    """The infer=true flow on a fresh server: the load, memories per user, dia_ids with a memory, outcomes."""
    with running_server(model_dir, env) as server:
        client = memory_client(server)
        load = InferLoad(turns=sum(len(turns_of(sample)) for sample in samples))
        started = time.perf_counter()
        events = submit(client, samples)
        load.submit_seconds = time.perf_counter() - started
        wait_for_events(client, events, load)
        load.finish_seconds = time.perf_counter() - started
        stored: dict[str, int] = {}
        remembered: dict[str, set[str]] = {}
        for sample in samples:
            memories = stored_memories(client, sample["sample_id"])
            stored[sample["sample_id"]] = len(memories)
            remembered[sample["sample_id"]] = {str(m["metadata"]["dia_id"]) for m in memories if m.get("metadata")}
        outcomes = [outcome for sample in samples for outcome in locomo.evaluate(client, sample)]
        return load, stored, remembered, outcomes


def load_average() -> float | None:
    try:
        return round(os.getloadavg()[0], 2)
    except OSError:
        return None


def run(
    data: Path,
    limit: int | None,
    model_dir: Path,
    *,
    with_baseline: bool,
    examples: int,
    env: Mapping[str, str] | None = None,
) -> dict[str, Any]:
    """``env``: settings for both servers (e.g. ``MNEMO_EMBEDDER``)."""
    env = dict(env or {})
    samples = json.loads(data.read_text())[:limit]
    started_load = load_average()
    baseline: dict[str, Any] | None = None
    baseline_outcomes: list[dict[str, Any]] | None = None
    if with_baseline:
        print("baseline (infer=false) ...", file=sys.stderr, flush=True)
        baseline, baseline_outcomes = run_baseline(samples, model_dir, env)
    print("infer=true ...", file=sys.stderr, flush=True)
    load, stored, remembered, outcomes = run_infer(samples, model_dir, env)
    summary = locomo.report(outcomes, load.turns, load.finish_seconds)
    diagnostics, lost = diagnose(samples, load, remembered, outcomes, baseline_outcomes)
    memories = sum(stored.values())
    result: dict[str, Any] = {
        "benchmark": "locomo-evidence-retrieval-infer",
        "date": datetime.now(UTC).date().isoformat(),
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version()},
        "load_average_1m": {"start": started_load, "end": load_average()},
        "conversations": len(samples),
        "server_env": env,
        "turns": load.turns,
        "memories_stored": memories,
        "memories_per_turn": round(memories / load.turns, 3),
        "memories_by_conversation": stored,
        "events": {status: load.statuses.get(status, 0) for status in ("SUCCEEDED", "FAILED")},
        "event_metadata_totals": dict(sorted(load.counters.items())),
        "submit_seconds": round(load.submit_seconds, 1),
        "all_events_finished_seconds": round(load.finish_seconds, 1),
        "overall": summary["overall"],
        "by_category": summary["by_category"],
        "search_latency_ms": summary["search_latency_ms"],
        "diagnostics": diagnostics,
    }
    if load.failures:
        result["failures"] = load.failures[:20]
    if baseline is not None:
        gap = round(baseline["overall"]["recall@10"] - summary["overall"]["recall@10"], 4)
        result["baseline_infer_false"] = baseline
        result["target"] = {
            "recall@10_gap_points": round(100 * gap, 2),
            "recall@10_within_5_points": gap <= 0.05,
            "fewer_memories_than_turns": memories < load.turns,
        }
        result["target"]["met"] = result["target"]["recall@10_within_5_points"] and memories < load.turns
    print_examples(lost, examples)
    return result


def print_examples(lost: list[Lost], count: int) -> None:
    if count <= 0 or not lost:
        return
    print(f"\n{count} of {len(lost)} lost question evidence turns (seed 7):", file=sys.stderr)
    for item in random.Random(7).sample(lost, min(count, len(lost))):
        print(f"\n[{item.sample_id} {item.turn.dia_id}, cat {item.category}] {item.reason}", file=sys.stderr)
        print(f"  Q: {item.question}  A: {item.answer}", file=sys.stderr)
        print(f"  {item.turn.speaker}: {item.turn.text}", file=sys.stderr)
        if item.turn.caption:
            print(f"  [shares {item.turn.caption}]", file=sys.stderr)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=locomo.DEFAULT_DATA)
    parser.add_argument("--limit-conversations", type=int, default=None)
    parser.add_argument("--model-dir", type=Path, default=Path(tempfile.gettempdir()) / "mnemo-bench-models")
    parser.add_argument(
        "--with-baseline",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="also run bench/locomo.py's infer=false flow (default: on)",
    )
    parser.add_argument("--no-baseline", dest="with_baseline", action="store_false", help="same as --no-with-baseline")
    parser.add_argument("--examples", type=int, default=0, help="print this many lost evidence turns to stderr")
    parser.add_argument("--env", action="append", default=[], help="NAME=VALUE for both servers")
    args = parser.parse_args()
    result = run(
        args.data,
        args.limit_conversations,
        args.model_dir,
        with_baseline=args.with_baseline,
        examples=args.examples,
        env=server_env(args.env),
    )
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
