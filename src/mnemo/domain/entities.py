"""Entities named in a text: people, places, titles and other proper nouns.

Computed at write time for every memory and at query time for every search; their overlap is one
of the ranking signals. Deterministic and cheap: capitalised word runs that are not sentence-initial
function words, quoted titles, and the speaker's name.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

_QUOTED = re.compile(r"[\"“”«»]([^\"“”«»]{2,60})[\"“”«»]")
_WORD_RUN = re.compile(r"\b[A-Z][\w'’&.-]*(?:\s+(?:of|the|de|van|von|da|del|la|le|and|&)?\s*[A-Z][\w'’&.-]*)*")
_SENTENCE_START = re.compile(r"(?:^|[.!?…]\s+|\n)\s*[\"'“(]*$")
_TRAILING = re.compile(r"['’]s$|[.'’-]+$")

#: Capitalised words that are not names: sentence openers, pronouns, days and months stay out.
_COMMON = frozenset(
    """
    a an the i i'm i've i'd i'll im ive id me my mine we us our you your he she it they them their his her
    this that these those there here what when where which who whom whose why how is are was were be been
    do does did done have has had will would can could should shall may might must not no yes ok okay oh
    hi hey hello thanks thank wow yeah yep nope sure well so and but or if then also just really very
    monday tuesday wednesday thursday friday saturday sunday today tomorrow yesterday
    january february march april may june july august september october november december
    mr mrs ms dr st
    """.split()
)


def normalise(name: str) -> str:
    return " ".join(_TRAILING.sub("", name).lower().split())


def extract_entities(text: str, *, speaker: str | None = None) -> list[str]:
    """Normalised (lower-case, single-spaced) entity names in ``text``, first occurrence order."""
    found: list[str] = []
    if speaker:
        found.append(normalise(speaker))
    for match in _QUOTED.finditer(text):
        found.append(normalise(match.group(1)))
    for match in _WORD_RUN.finditer(text):
        found.extend(_names_in_run(text, match.start(), match.group(0)))
    return _unique(name for name in found if name and name not in _COMMON)


def _names_in_run(text: str, start: int, run: str) -> list[str]:
    words = run.split()
    if _SENTENCE_START.search(text[:start]) and normalise(words[0]) in _COMMON:
        words = words[1:]
        while words and normalise(words[0]) in _COMMON:
            words = words[1:]
    if not words:
        return []
    if len(words) == 1 and _SENTENCE_START.search(text[:start]) and len(words[0]) <= 2:
        return []
    return [normalise(" ".join(words))]


def _unique(names: Iterable[str]) -> list[str]:
    seen: dict[str, None] = {}
    for name in names:
        seen.setdefault(name, None)
    return list(seen)


def overlap(query_entities: list[str], memory_entities: list[str]) -> float:
    """Share of the query's entities the memory names (a partial word match counts half)."""
    if not query_entities:
        return 0.0
    memory = set(memory_entities)
    memory_words = {word for name in memory_entities for word in name.split()}
    score = 0.0
    for name in query_entities:
        if name in memory:
            score += 1.0
        elif any(word in memory_words for word in name.split()):
            score += 0.5
    return score / len(query_entities)


_NUMBER = re.compile(r"\d+(?:[.,:/-]\d+)*")


def key_terms(text: str) -> frozenset[str]:
    """Numbers and names in a text: what sentence embeddings blur ("2 kids" vs "3 kids") but a fact
    hinges on. Two texts with different key terms never count as the same fact."""
    return frozenset(_NUMBER.findall(text)) | frozenset(extract_entities(text))
