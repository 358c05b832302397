"""Entities named in a text: people, places, titles and other proper nouns.

Computed at write time for every memory and at query time for every search; their overlap is one
of the ranking signals. Deterministic and cheap: capitalised word runs that are not sentence-initial
function words, quoted titles, and the speaker's name.

Linear in the length of the text (up to 32,000 characters, a search query included): no pattern can
retry a whitespace or punctuation run from each of its positions, and whether a run starts a sentence
is read backwards from the run over the few characters before it, not by searching the text before it.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

_QUOTED = re.compile(r"[\"“”«»]([^\"“”«»]{2,60})[\"“”«»]")
# Capitalised words joined by whitespace and at most one connector. The connector's own whitespace is
# written `(?:connector\s*)?` after `\s+`: the former `\s+(?:connector)?\s*` split every whitespace run
# between two quantifiers in all possible ways, so "A" + " " * 31998 + "a" took 5 s.
_WORD_RUN = re.compile(r"\b[A-Z][\w'’&.-]*(?:\s+(?:(?:of|the|de|van|von|da|del|la|le|and|&)\s*)?[A-Z][\w'’&.-]*)*")
# What may stand between a sentence end and its first word: opening quotes and brackets.
_OPENERS = "\"'“("
_SENTENCE_ENDS = ".!?…"

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
    return " ".join(_strip_trailing(name).lower().split())


def _strip_trailing(name: str) -> str:
    """``name`` without a final "'s" or run of ".", "'", "’", "-" (before a final newline, if any): what
    ``re.sub(r"['’]s$|[.'’-]+$", "", name)`` removes, without trying the run from each of its positions."""
    end = len(name) - 1 if name.endswith("\n") else len(name)
    if end >= 2 and name[end - 2 : end] in ("'s", "’s"):
        return name[: end - 2] + name[end:]
    return name[:end].rstrip(".'’-") + name[end:]


def _starts_sentence(text: str, start: int) -> bool:
    r"""Whether ``text[start:]`` begins a sentence: it follows the start of the text, a line break, or
    ".", "!", "?", "…" and whitespace, with only whitespace and opening quotes or brackets in between.

    The same as ``re.search(r"(?:^|[.!?…]\s+|\n)\s*[\"'“(]*$", text[:start])``, which copied and searched
    the whole text before every capitalised run; this reads back over the openers and whitespace only, so
    the stretches read for the runs of one text do not overlap.
    """
    position = start
    while position > 0 and text[position - 1] in _OPENERS:
        position -= 1
    openers_start = position
    while position > 0 and text[position - 1].isspace():
        position -= 1
    if position == 0 or "\n" in text[position:openers_start]:
        return True
    return position < openers_start and text[position - 1] in _SENTENCE_ENDS


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
    first = 0
    sentence_start = _starts_sentence(text, start)
    if sentence_start:
        while first < len(words) and normalise(words[first]) in _COMMON:
            first += 1
    if first == len(words):
        return []
    if len(words) - first == 1 and sentence_start and len(words[first]) <= 2:
        return []
    return [normalise(" ".join(words[first:]))]


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
