"""Worst-case time of each text heuristic on the largest message allowed (issue 11, item 2).

Every heuristic that reads user text (entities, key terms, date expressions found and resolved, the offline
extractor, claims, categories, the stemmer) runs on every input below: each is exactly the largest message
(``max_message_chars``, 32,000 characters) and built to be as slow as possible for one of them: the inputs
of the issue, long runs of one character, and fragments repeated end to end that make a heuristic do its
most expensive step as often as the text allows (a name, a date expression whose sentence's tense is read,
a sentence end, a stage direction, a claim's time words). Times are CPU seconds of this process
(``time.process_time``), the median of ``--repeat`` runs; the table gives each heuristic's slowest input.
Target: under 50 ms each. In-process, no server or database; about 15 seconds.

    python -m bench.heuristics [--repeat 5] [--json] [--all]
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime

from mnemo.domain.entities import extract_entities, key_terms
from mnemo.domain.relative_dates import find_dates, resolve_relative_dates
from mnemo.domain.stemming import stem
from mnemo.pipeline.categories import DEFAULT_CATEGORIES, categorize
from mnemo.pipeline.claims import claims_in
from mnemo.pipeline.extraction import Message
from mnemo.pipeline.offline_extractor import extract_facts
from mnemo.settings import Settings

MAX_CHARS: int = Settings.model_fields["max_message_chars"].default
TARGET_SECONDS = 0.050
OBSERVED = datetime(2024, 5, 8, 14, 0, tzinfo=UTC)


def _repeat(unit: str, head: str = "", tail: str = "") -> str:
    """``head``, then ``unit`` over and over, then ``tail``: exactly MAX_CHARS characters."""
    body = MAX_CHARS - len(head) - len(tail)
    return head + (unit * (body // len(unit) + 1))[:body] + tail


def _numbered(template: str, head: str = "") -> str:
    """``template`` with 0, 1, 2... in place of ``{}``, end to end: distinct sentences, so none is skipped
    as said already."""
    parts, length, index = [head], len(head), 0
    while length < MAX_CHARS:
        parts.append(template.format(index))
        length += len(parts[-1])
        index += 1
    return "".join(parts)[:MAX_CHARS]


def _run(char: str) -> Callable[[], str]:
    """A run of ``char`` and one "x" after it."""
    return lambda: char * (MAX_CHARS - 1) + "x"


def _small_talk(index: int, words: int) -> str:
    """A distinct first-person sentence of stop words only: judged in full, then dropped (nothing in it is
    content), so judging never stops at the cap on kept sentences. The index is spelled in "so" and "it"."""
    spelled = [("so", "it")[(index >> bit) & 1] for bit in range(16)]
    return "I " + " ".join(spelled + ["really"] * (words - len(spelled)))


_CLAIM = "Alice lives in Paris"

INPUTS: dict[str, Callable[[], str]] = {
    # The issue: a search query and an inferred add that froze the process.
    "issue: 'A' + ' ' * 31998 + 'a'": lambda: "A" + " " * (MAX_CHARS - 2) + "a",
    "issue: '!' * 16000 + 'x'": lambda: "!" * 16000 + "x",
    # Runs of one character before one that ends nothing.
    **{f"run of {char!r}": _run(char) for char in "!.…?, -'\"(1A🙂\t"},
    "'A' + '.' * 31998 + 'b'": lambda: "A" + "." * (MAX_CHARS - 2) + "b",
    # Entities: a capitalised word at every other character, after commas, after sentence ends.
    "'A ' repeated": lambda: _repeat("A "),
    "'A, ' repeated": lambda: _repeat("A, "),
    "'I am ' repeated": lambda: _repeat("I am "),
    "'Bank of ' repeated": lambda: _repeat("Bank of "),
    "'\"Ab\" ' repeated": lambda: _repeat('"Ab" '),
    # Dates: an expression every few characters, each needing its sentence's tense.
    "'on mon ' repeated": lambda: _repeat("on mon "),
    "'on mon willow ' repeated": lambda: _repeat("on mon willow "),
    "'in a day ' repeated": lambda: _repeat("in a day "),
    "'in 3 days ' repeated": lambda: _repeat("in 3 days "),
    "'May 5 ' repeated": lambda: _repeat("May 5 "),
    "'2 days ago ' repeated": lambda: _repeat("2 days ago "),
    "'today ' repeated": lambda: _repeat("today "),
    "'week of 2023-05-01 ' repeated": lambda: _repeat("week of 2023-05-01 "),
    "'a ' repeated": lambda: _repeat("a "),
    # Sentence splitting: a dot after every letter, tabs instead of spaces, abbreviations.
    "'a.\\t' repeated": lambda: _repeat("a.\t"),
    "'Mr. ' repeated": lambda: _repeat("Mr. "),
    # The offline extractor: many distinct sentences, each judged (and rewritten) in full.
    "distinct first-person facts": lambda: _numbered("I adopted a parrot named Kiwi{} in Lisbon last week. "),
    "distinct 400-character small talk": lambda: "".join(_small_talk(i, 60) + ". " for i in range(90))[:MAX_CHARS],
    "one sentence of distinct small-talk pieces": lambda: "".join(_small_talk(i, 18) + ", " for i in range(500))[
        :MAX_CHARS
    ],
    "distinct stage directions": lambda: _numbered("[shares a photo of a cat {}]. ", head="I love cats. "),
    "distinct short stage directions": lambda: _numbered("[sees ab c{}]. ", head="I love cats. "),
    "long sentence of commas": lambda: _repeat("I like tea, "),
    "'lol!' repeated": lambda: _repeat("lol!"),
    "'oh, ' repeated": lambda: _repeat("oh, ", tail=" I like tea."),
    "'[shares ' + spaces": lambda: "[shares " + " " * (MAX_CHARS - 10) + "x]",
    # Claims: a claim and a tail of time words that can be cut in many ways, then one that is none.
    "claim + ' for 2 years now' + '#'": lambda: _repeat(" for 2 years now", head=_CLAIM, tail=" #"),
    "claim + ' since since' + '#'": lambda: _repeat(" since since", head=_CLAIM, tail=" #"),
    "claim + ' since xnownownow' + '#'": lambda: _repeat(" since xnownownow", head=_CLAIM, tail=" #"),
    "claim + ' in May 12th, 2023' + '#'": lambda: _repeat(" in May 12th, 2023", head=_CLAIM, tail=" #"),
    "claim + digits + ' days ago #'": lambda: _repeat("1", head=_CLAIM + " since ", tail=" days ago #"),
    "claim of a favourite + 'a '": lambda: _repeat("a ", head="Alice's favourite color is ", tail="#"),
    "claim + ' now'": lambda: _repeat(" now", head=_CLAIM),
    # Categories: multi-word entries everywhere.
    "'ice cream ' repeated": lambda: _repeat("ice cream "),
}

HEURISTICS: dict[str, Callable[[str], object]] = {
    "entities": lambda text: extract_entities(text, speaker="Alice"),
    "key terms": key_terms,
    "dates found (find_dates)": lambda text: find_dates(text, OBSERVED),
    "dates resolved (resolve_relative_dates)": lambda text: resolve_relative_dates(text, OBSERVED),
    "offline extraction (extract_facts)": lambda text: extract_facts(
        [Message(role="user", content=text, name="Alice")], OBSERVED
    ),
    "claims (claims_in)": claims_in,
    "categorisation (categorize)": lambda text: categorize(text, DEFAULT_CATEGORIES),
    "stemming (one word)": stem,
}


def cpu_seconds(run: Callable[[str], object], text: str, repeat: int) -> float:
    """Median CPU seconds of ``repeat`` runs (one if the first takes more than a second)."""
    times: list[float] = []
    for _ in range(repeat):
        started = time.process_time()
        run(text)
        times.append(time.process_time() - started)
        if times[-1] > 1.0:
            break
    return statistics.median(times)


def measure(repeat: int) -> dict[str, dict[str, float]]:
    """Seconds per heuristic, per input."""
    texts = {name: make() for name, make in INPUTS.items()}
    for name, text in texts.items():
        assert len(text) == MAX_CHARS or name.startswith("issue: '!'"), (name, len(text))
    results: dict[str, dict[str, float]] = {}
    for heuristic, run in HEURISTICS.items():
        print(f"{heuristic}...", file=sys.stderr, flush=True)
        results[heuristic] = {name: cpu_seconds(run, text, repeat) for name, text in texts.items()}
    return results


def table(results: dict[str, dict[str, float]]) -> str:
    lines = [
        f"| heuristic ({MAX_CHARS:,} characters) | worst input | worst | median over inputs | target | met |",
        "|---|---|---|---|---|---|",
    ]
    for heuristic, by_input in results.items():
        worst = max(by_input, key=lambda name: by_input[name])
        seconds = by_input[worst]
        met = "yes" if seconds < TARGET_SECONDS else "no"
        lines.append(
            f"| {heuristic} | {worst} | {seconds * 1000:.1f} ms | {statistics.median(by_input.values()) * 1000:.1f} ms"
            f" | < {TARGET_SECONDS * 1000:.0f} ms | {met} |"
        )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5, help="runs per heuristic and input (median)")
    parser.add_argument("--json", action="store_true", help="also print every time as one JSON object")
    parser.add_argument("--all", action="store_true", help="also print every input's time per heuristic")
    args = parser.parse_args()
    started = datetime.now(UTC)
    results = measure(args.repeat)
    print(table(results))
    if args.all:
        for heuristic, by_input in results.items():
            print(f"\n{heuristic}:")
            for name, seconds in sorted(by_input.items(), key=lambda item: -item[1]):
                print(f"  {seconds * 1000:8.2f} ms  {name}")
    if args.json:
        machine = {"python": platform.python_version(), "machine": platform.machine(), "started": started.isoformat()}
        print(json.dumps({"max_chars": MAX_CHARS, "repeat": args.repeat, **machine, "seconds": results}))


if __name__ == "__main__":
    main()
