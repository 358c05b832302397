"""How the offline extractor behaves on real conversation text (LoCoMo), for a human to judge.

Every turn of every conversation goes through ``extract_facts`` on its own: one user message, the
speaker as its name, the session's date as the observation time (image captions are not included).
Prints the number of turns, the facts produced, the share of turns giving at least one fact, the
throughput, and a seeded random sample of turns with their facts.

    python -m bench.offline_extractor_stats [DATA] [--examples 15] [--seed 7]

DATA defaults to ../shared/data/locomo/locomo6.json relative to the repository root. LoCoMo is
CC BY-NC 4.0 (Maharana et al., ACL 2024): evaluation only, never shipped with mnemo.
"""

from __future__ import annotations

import argparse
import json
import random
import re
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from mnemo.pipeline.extraction import Fact, Message
from mnemo.pipeline.offline_extractor import extract_facts

REPO_ROOT = Path(__file__).resolve().parents[1]
DEFAULT_DATA = REPO_ROOT.parent / "shared" / "data" / "locomo" / "locomo6.json"
DATE_FORMAT = "%I:%M %p on %d %B, %Y"
SESSION_KEY = re.compile(r"session_(\d+)")


@dataclass(frozen=True, slots=True)
class Turn:
    sample_id: str
    dia_id: str
    speaker: str
    text: str
    observed_at: datetime


def turns_of(sample: dict[str, Any]) -> list[Turn]:
    conversation = sample["conversation"]
    turns: list[Turn] = []
    sessions = sorted(
        (int(match.group(1)), value)
        for key, value in conversation.items()
        if (match := SESSION_KEY.fullmatch(key)) and isinstance(value, list)
    )
    for number, session in sessions:
        when = datetime.strptime(conversation[f"session_{number}_date_time"], DATE_FORMAT).replace(tzinfo=UTC)
        for turn in session:
            turns.append(Turn(sample["sample_id"], turn["dia_id"], turn["speaker"], turn["text"], when))
    return turns


def extract(turn: Turn) -> list[Fact]:
    return extract_facts([Message(role="user", content=turn.text, name=turn.speaker)], turn.observed_at)


def report(turns: list[Turn], examples: int, seed: int) -> None:
    started = time.perf_counter()
    results = [extract(turn) for turn in turns]
    elapsed = time.perf_counter() - started
    facts = sum(len(result) for result in results)
    productive = sum(1 for result in results if result)
    print(f"turns: {len(turns)}")
    print(f"facts produced: {facts} ({facts / len(turns):.2f} per turn)")
    print(f"turns with >= 1 fact: {productive} ({100 * productive / len(turns):.1f}%)")
    print(f"throughput: {len(turns) / elapsed:,.0f} messages/s ({1000 * elapsed / len(turns):.3f} ms each)")
    print(f"\n{examples} random turns (seed {seed}):")
    for index in sorted(random.Random(seed).sample(range(len(turns)), examples)):
        turn = turns[index]
        print(f"\n[{turn.sample_id} {turn.dia_id}, {turn.observed_at.date()}] {turn.speaker}: {turn.text}")
        for fact in results[index] or []:
            print(f"  -> {fact.text}")
        if not results[index]:
            print("  -> (no facts)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("data", nargs="?", type=Path, default=DEFAULT_DATA, help="the LoCoMo JSON file")
    parser.add_argument("--examples", type=int, default=15, help="how many random turns to show")
    parser.add_argument("--seed", type=int, default=7, help="seed of the random sample")
    args = parser.parse_args()
    samples = json.loads(args.data.read_text(encoding="utf-8"))
    turns = [turn for sample in samples for turn in turns_of(sample)]
    report(turns, args.examples, args.seed)


if __name__ == "__main__":
    main()
