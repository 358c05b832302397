"""Every text heuristic works in time linear in its input, whatever the input (issue 11, item 2).

Python's ``re`` counts no steps, so the work measured here is what can be counted exactly while a heuristic
runs on 32,000 characters (the largest message):

* the characters handed to regular expressions: a scan (``search``, ``finditer``, ``findall``, ``sub``,
  ``split``) counts everything it may read, an anchored ``match``/``fullmatch`` what it matched plus one;
* the characters of the input read by its own string methods (slices, ``find``, ``rfind``, ``lower``...).

Both stay under a small multiple of the input's length. The quadratic loops fixed for the issue read
hundreds to thousands of times the input: a regex run on all the text before each capitalised word, a
search back to the start of the segment at each dot, every date's sentence searched anew.

What that does not see is backtracking inside one regex call, so every call must also finish within a
generous CPU bound: 2 s, where the patterns fixed took 5 s ("A" + spaces + "a"; "!" * 16000 + "x") or more
than a minute (a claim followed by " for 2 years now" ten times). The structures that keep the rest linear
are tested directly: the offline extractor judges sentences of at most 400 characters, a claim's tail is
read once, the restatement check has a budget, and a phrase is looked up in a set.
"""

from __future__ import annotations

import dataclasses
import re
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from datetime import UTC, datetime
from types import ModuleType
from typing import Any, SupportsIndex

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mnemo.domain import entities, relative_dates, stemming, tense
from mnemo.pipeline import (
    categories,
    claim_tail,
    claims,
    offline_extractor,
    offline_rewrite,
    offline_rules,
    offline_sentences,
)
from mnemo.pipeline.extraction import Message

MAX_MESSAGE_CHARS = 32_000
CPU_SECONDS = 2.0
OBSERVED = datetime(2024, 5, 8, 14, 0, tzinfo=UTC)

# The exact inputs of the issue: a search query (entities, dates) and an inferred add (offline extractor).
ISSUE_QUERY = "A" + " " * 31998 + "a"
ISSUE_ADD = "!" * 16000 + "x"


class _Work:
    """Characters read, as defined in the module docstring."""

    def __init__(self) -> None:
        self.chars = 0


class _CountedPattern:
    """A compiled pattern that adds what each call may read to a :class:`_Work`."""

    def __init__(self, pattern: re.Pattern[str], work: _Work) -> None:
        self._pattern = pattern
        self._work = work

    def __getattr__(self, name: str) -> Any:
        return getattr(self._pattern, name)

    def _scan(self, string: str, pos: int = 0, endpos: int = sys.maxsize) -> None:
        self._work.chars += max(0, min(endpos, len(string)) - pos)

    def _anchored(self, match: re.Match[str] | None, pos: int) -> re.Match[str] | None:
        self._work.chars += (match.end() - pos if match else 0) + 1
        return match

    def search(self, string: str, pos: int = 0, endpos: int = sys.maxsize) -> re.Match[str] | None:
        self._scan(string, pos, endpos)
        return self._pattern.search(string, pos, endpos)

    def finditer(self, string: str, pos: int = 0, endpos: int = sys.maxsize) -> Iterator[re.Match[str]]:
        self._scan(string, pos, endpos)
        return self._pattern.finditer(string, pos, endpos)

    def findall(self, string: str, pos: int = 0, endpos: int = sys.maxsize) -> list[Any]:
        self._scan(string, pos, endpos)
        return self._pattern.findall(string, pos, endpos)

    def sub(self, repl: Any, string: str, count: int = 0) -> str:
        self._scan(string)
        return self._pattern.sub(repl, string, count)

    def subn(self, repl: Any, string: str, count: int = 0) -> tuple[str, int]:
        self._scan(string)
        return self._pattern.subn(repl, string, count)

    def split(self, string: str, maxsplit: int = 0) -> list[str | Any]:
        self._scan(string)
        return self._pattern.split(string, maxsplit)

    def match(self, string: str, pos: int = 0, endpos: int = sys.maxsize) -> re.Match[str] | None:
        return self._anchored(self._pattern.match(string, pos, endpos), pos)

    def fullmatch(self, string: str, pos: int = 0, endpos: int = sys.maxsize) -> re.Match[str] | None:
        return self._anchored(self._pattern.fullmatch(string, pos, endpos), pos)


class _CountedText(str):
    """The input text, adding what its own string methods read to a :class:`_Work`."""

    work: _Work

    def _read(self, start: int | None = None, end: int | None = None) -> None:
        first, last, _ = slice(start, end).indices(len(self))
        self.work.chars += max(0, last - first)

    def __getitem__(self, key: Any) -> str:
        if isinstance(key, slice):
            self._read(key.start, key.stop)
        else:
            self.work.chars += 1
        return str.__getitem__(self, key)

    def find(self, sub: str, start: Any = None, end: Any = None) -> int:
        self._read(start, end)
        return str.find(self, sub, start, end)

    def rfind(self, sub: str, start: Any = None, end: Any = None) -> int:
        self._read(start, end)
        return str.rfind(self, sub, start, end)

    def lower(self) -> str:
        self._read()
        return str.lower(self)

    def split(self, sep: Any = None, maxsplit: SupportsIndex = -1) -> list[str]:
        self._read()
        return str.split(self, sep, maxsplit)

    def strip(self, chars: Any = None) -> str:
        self._read()
        return str.strip(self, chars)

    def translate(self, table: Any) -> str:
        self._read()
        return str.translate(self, table)


def _counted(value: Any, work: _Work) -> Any:
    """``value`` with its compiled patterns counted: a pattern, a tuple of them, or a dataclass holding one."""
    if isinstance(value, re.Pattern):
        return _CountedPattern(value, work)
    if isinstance(value, tuple):
        counted = tuple(_counted(item, work) for item in value)
        return counted if any(new is not old for new, old in zip(counted, value, strict=True)) else value
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        patterns = {f.name: getattr(value, f.name) for f in dataclasses.fields(value)}
        patterns = {name: item for name, item in patterns.items() if isinstance(item, re.Pattern)}
        if patterns:
            return dataclasses.replace(value, **{name: _CountedPattern(p, work) for name, p in patterns.items()})
    return value


@dataclasses.dataclass(frozen=True)
class Heuristic:
    name: str
    run: Callable[[str], object]
    #: Every module whose patterns the heuristic uses.
    modules: Sequence[ModuleType]
    #: Work allowed, in multiples of the input's length.
    work_per_char: int

    def measure(self, text: str, monkeypatch: pytest.MonkeyPatch) -> tuple[int, float]:
        """(characters read, CPU seconds) of one run on ``text``; the patterns are restored afterwards."""
        work = _Work()
        with monkeypatch.context() as patched:
            for module in self.modules:
                for name, value in list(vars(module).items()):
                    counted = _counted(value, work)
                    if counted is not value:
                        patched.setattr(module, name, counted)
            counted_text = _CountedText(text)
            counted_text.work = work
            started = time.process_time()
            self.run(counted_text)
            return work.chars, time.process_time() - started

    def check(self, text: str, monkeypatch: pytest.MonkeyPatch) -> None:
        chars, seconds = self.measure(text, monkeypatch)
        assert chars <= self.work_per_char * max(len(text), 1), (self.name, chars / max(len(text), 1), text[:80])
        assert seconds < CPU_SECONDS, (self.name, seconds, text[:80])


def _offline(text: str) -> object:
    return offline_extractor.extract_facts([Message(role="user", content=text, name="Alice")], OBSERVED)


_DATE_MODULES = (relative_dates, tense)
_OFFLINE_MODULES = (offline_extractor, offline_sentences, offline_rules, offline_rewrite, relative_dates, tense)
HEURISTICS = (
    Heuristic("entities", lambda text: entities.extract_entities(text, speaker="Alice"), [entities], 8),
    Heuristic("key terms", entities.key_terms, [entities], 8),
    Heuristic("find dates", lambda text: relative_dates.find_dates(text, OBSERVED), _DATE_MODULES, 48),
    Heuristic("relative dates", lambda text: relative_dates.resolve_relative_dates(text, OBSERVED), _DATE_MODULES, 48),
    Heuristic("offline extraction", _offline, _OFFLINE_MODULES, 32),
    Heuristic("claims", claims.claims_in, [claims, claim_tail], 24),
    Heuristic("categories", lambda text: categories.categorize(text, categories.DEFAULT_CATEGORIES), [categories], 8),
    Heuristic("stemming", stemming.stem, [stemming], 8),
)
BY_NAME = {heuristic.name: heuristic for heuristic in HEURISTICS}


# ---------------------------------------------------------------- adversarial text

# Runs and repeated fragments: the shapes that made patterns backtrack (runs of one character class before
# something that does not match, alternatives sharing a prefix, anchored tails) and that repeat a
# heuristic's expensive step (names, dates, sentence ends, stage directions, claims).
_FRAGMENTS = (
    "A ", "A, ", "A. ", "I am ", "I ", "my ", "we ", "you, ", "a.\t", "Mr. ", "e.g. ", "the ", "of ", "Bank of ",
    "on mon ", "on Monday ", "in a day ", "in 3 days ", "2 days ago ", "May 5 ", "5 May ", "2023-05-01 ",
    "week of 2023-05-01 ", "last week ", "yesterday ", "this coming winter ", "will ", "willow ", "walked ",
    "since ", "since now ", "for 2 years now ", "(2024-05-01) ", "nowadays ", "in May 12th, 2023 ",
    "lol ", "haha!", ":D", ":-)", "^_^", "[shares a photo of a cat] ", "*waves* ", "[shares ", "oh, ",
    ", how about you?", "ice cream ", "I'm ", "'s ", "'ll ", "Just finished ", "Alice's favourite color is ",
)  # fmt: skip
_UNITS = st.one_of(
    st.sampled_from(list("!.?…;,:-–'\"“”()[]*^_=<3 \t\nAaIi1🙂\u00a0")),
    st.sampled_from(_FRAGMENTS),
    st.text(alphabet=st.sampled_from(list("Aa1 .!?,;:'\"-()[]*…\t")), min_size=1, max_size=12),
)
_HEADS = st.sampled_from(["", "Alice lives in Paris", "Alice works at Acme", "Alice's favourite color is", "I went"])


@st.composite
def adversarial_text(draw: st.DrawFn) -> str:
    """32,000 characters: a few runs of repeated units, the whole repeated up to the length."""
    blocks = draw(st.lists(st.tuples(_UNITS, st.integers(1, MAX_MESSAGE_CHARS)), min_size=1, max_size=4))
    body = "".join(unit * min(count, MAX_MESSAGE_CHARS // len(unit) + 1) for unit, count in blocks)
    text = draw(_HEADS) + body * (MAX_MESSAGE_CHARS // len(body) + 1)
    return text[:MAX_MESSAGE_CHARS]


# ---------------------------------------------------------------- tests


@pytest.mark.parametrize("heuristic", HEURISTICS, ids=lambda heuristic: heuristic.name)
@pytest.mark.parametrize("text", [ISSUE_QUERY, ISSUE_ADD, "!" * 31999 + "x"], ids=["query", "add", "add-32000"])
def test_the_inputs_of_the_issue(heuristic: Heuristic, text: str, monkeypatch: pytest.MonkeyPatch) -> None:
    heuristic.check(text, monkeypatch)


@pytest.mark.parametrize("heuristic", HEURISTICS, ids=lambda heuristic: heuristic.name)
def test_adversarial_text(heuristic: Heuristic, monkeypatch: pytest.MonkeyPatch) -> None:
    @settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
    @given(text=adversarial_text())
    def check(text: str) -> None:
        heuristic.check(text, monkeypatch)

    check()


@pytest.mark.parametrize(
    "text",
    [
        "A, " * 10_666,  # a name after every comma: each once searched all the text before it
        "a.\t" * 10_666,  # a dot after every letter: each once searched back to the start of the text
        "on mon " * 4_571,  # a weekday every 7 characters: each sentence once searched anew
    ],
    ids=["names", "dots", "weekdays"],
)
def test_the_loops_that_were_quadratic_read_the_text_a_few_times(text: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """The measure itself: before, the first two read thousands of times their length (more the longer the
    text), the third ~250 times."""
    for heuristic in (BY_NAME["entities"], BY_NAME["offline extraction"], BY_NAME["find dates"]):
        chars, _ = heuristic.measure(text, monkeypatch)
        assert chars <= heuristic.work_per_char * len(text), (heuristic.name, chars / len(text))


def test_the_offline_extractor_judges_sentences_of_at_most_400_characters(monkeypatch: pytest.MonkeyPatch) -> None:
    """Whatever the message, the per-sentence rules (whose patterns are linear but many) see short texts."""
    seen: list[int] = []

    def recording(function: Callable[..., Any]) -> Callable[..., Any]:
        def record(text: str, **options: Any) -> Any:
            seen.append(len(text))
            return function(text, **options)

        return record

    monkeypatch.setattr(offline_extractor, "clean", recording(offline_sentences.clean))
    monkeypatch.setattr(offline_extractor, "judge", recording(offline_rules.judge))
    long_sentence = "I like tea and " * 3000  # no sentence end, no comma: one 45,000-character sentence
    pieces = "I like tea, coffee; and cake - " * 1000  # a long sentence broken at separators
    for text in (long_sentence, pieces, ISSUE_QUERY, "I went there. " * 2300):
        _offline(text[:MAX_MESSAGE_CHARS])
    assert seen
    assert max(seen) <= offline_sentences.LONG_SENTENCE


def test_a_sentence_takes_at_most_three_stage_directions() -> None:
    """Each direction was joined to the one kept sentence before it, rebuilding an ever longer text."""
    directions = "".join(f"[shares a photo of a cat {i}]. " for i in range(1200))
    message = Message(role="user", content="I love cats. " + directions, name="Alice")
    facts = offline_extractor.extract_facts([message], OBSERVED)
    assert facts
    assert max(fact.text.count("; Alice shares") for fact in facts) == 3


def test_restatement_checks_stop_at_their_budget(monkeypatch: pytest.MonkeyPatch) -> None:
    """Assistant sentences are compared with every user sentence of the add: bounded per add."""
    compared = 0
    restates = offline_extractor._restates

    def counting(sentence: offline_rules.Sentence, user_content: Sequence[frozenset[str]]) -> bool:
        nonlocal compared
        compared += len(user_content)
        return restates(sentence, user_content)

    monkeypatch.setattr(offline_extractor, "_restates", counting)
    messages = []
    for m in range(60):
        messages.append(
            Message(role="user", content=" ".join(f"I adopted a parrot named K{m}x{i}." for i in range(36)))
        )
        messages.append(
            Message(role="assistant", content=" ".join(f"I adopted parrot K{m}x{i} too." for i in range(36)))
        )
    offline_extractor.extract_facts(messages, OBSERVED)
    assert 0 < compared <= offline_extractor._RESTATEMENT_COMPARISONS


def test_a_claims_tail_is_read_once(monkeypatch: pytest.MonkeyPatch) -> None:
    """Each position where a time word may start is looked at once, however many ways the tail can be cut."""
    visited: list[int] = []
    ends = claim_tail._time_word_ends

    def recording(text: str, position: int, starts: Sequence[int]) -> list[int]:
        visited.append(position)
        return ends(text, position, starts)

    monkeypatch.setattr(claim_tail, "_time_word_ends", recording)
    for unit in (" for 2 years now", " since since", " since now", " in May 12th, 2023"):
        visited.clear()
        text = "Alice lives in Paris" + unit * 2000 + " #"
        assert [claim.whole for claim in claims.claims_in(text)] == [False]  # "#" ends no time word
        assert len(visited) == len(set(visited))
        assert len(visited) <= len(text)


def test_a_phrase_is_found_with_one_lookup(monkeypatch: pytest.MonkeyPatch) -> None:
    """Multi-word entries ("ice cream") were slid over every position of the text; now the text's runs of
    each length are built once per call and looked up in the catalogue's entries."""
    built: list[int] = []
    original = categories._TextStems.runs

    def counting(self: categories._TextStems, length: int) -> frozenset[tuple[str, ...]]:
        if length not in self._runs:
            built.append(length)
        return original(self, length)

    monkeypatch.setattr(categories._TextStems, "runs", counting)
    found = categories.categorize("I love ice cream and board games " * 900, categories.DEFAULT_CATEGORIES)
    assert "food" in found
    assert built and sorted(built) == sorted(set(built))


def test_the_whole_message_patterns_do_not_start_again_inside_a_run() -> None:
    """The guards that keep the patterns run on a whole message linear: a match attempt from inside a run
    of the characters a match starts with fails at once (one from the run's first character was tried
    first). Without them each position of a run was the start of a new attempt reading the rest of it."""
    boundary = offline_sentences._BOUNDARY
    for text, run in (("Wow!!!! Yes", range(4, 7)), ("Hm... ok", range(3, 5)), ("Fine 🙂🙂🙂 sure", range(6, 8))):
        assert boundary.match(text, run.start - 1) is not None
        assert all(boundary.match(text, position) is None for position in run), text
    breaks = offline_sentences._LONG_SENTENCE_BREAK
    text = "tea    , cake  - pie"
    assert [(m.start(), m.end()) for m in breaks.finditer(text)] == [(3, 9), (13, 17)]
    assert all(breaks.match(text, position) is None for position in (4, 5, 6))
    match = breaks.match(text, 14)  # the last space of a run may start " - " on its own, and only that
    assert match is not None and match.span() == (14, 17)
    question_tag = offline_sentences._TRAILING_QUESTION_TAG
    text = "I like it ,,,, you?"
    assert question_tag.search(text) is not None and question_tag.search(text).start() == 9  # type: ignore[union-attr]
    assert all(question_tag.match(text, position) is None for position in (11, 12, 13))


# ---------------------------------------------------------------- the rewrites say what they replaced

# The patterns as they were: exact on these short texts (their cost was in long runs), so every rewrite must
# give the same answer on them.
_BEFORE = {
    "sentence end": re.compile(f"(?:[.!?…]+[\"'”’)\\]]*|[{offline_sentences._EMOJI_CHARS}]+)(?=\\s|$)"),
    "long sentence break": re.compile(r"\s*(?:[;,]|\s[-–—]\s)\s*"),
    "question tag": re.compile(
        r"\s*[,;:–—-]+\s*(?:(?:how|what)\s+about\s+you|and\s+you|you|right|isn't\s+it)\s*\?+$", re.IGNORECASE
    ),
    "laughter": re.compile(r"[\s,]*(?:\b(?:lol|haha+|hehe+|xd)\b[\s!.]*)+$", re.IGNORECASE),
    "terminal": re.compile(r"[\s.!,;:…-]+$"),
    "stage direction": re.compile(
        r"\[\s*(?P<square>(?!\w*(?:ss|is|us)\b)[a-z]{3,}s\b[^\[\]]*?)\s*\]"
        r"|\*(?P<star>(?!\w*(?:ss|is|us)\b)[a-z]{3,}s\b[^*]*?)\*"
    ),
    "name run": re.compile(r"\b[A-Z][\w'’&.-]*(?:\s+(?:of|the|de|van|von|da|del|la|le|and|&)?\s*[A-Z][\w'’&.-]*)*"),
    "sentence start": re.compile(r"(?:^|[.!?…]\s+|\n)\s*[\"'“(]*$"),
    "name ending": re.compile(r"['’]s$|[.'’-]+$"),
}


def _pieces_of(*pieces: str, size: int = 10) -> st.SearchStrategy[str]:
    return st.lists(st.sampled_from(pieces), max_size=size).map("".join)


_PUNCTUATED = _pieces_of(" ", "  ", "\t", "\n", ".", "!", "?", "…", "'", '"', "”", ")", "]", "🙂", "a", "A", "x.")
_SEPARATED = _pieces_of(" ", "  ", "\t", ";", ",", "-", "–", " - ", "a", "b c")
_LAUGHING = _pieces_of("lol", "LOL", "haha", "hahaa", "hehe", "xd", "ſ", "a", " ", ",", "!", ".", "?")
_TAGGED = _pieces_of("I like it", " ", ",", ";", "-", "—", "you", "YOU", "how about you", "and you", "right", "?", "??")
_DIRECTED = _pieces_of("[", "]", "*", "shares", "sends", "kiss", "is", "a", "photo", " ", "  ", "\t", "x")
_NAMED = _pieces_of("A", "Bob", "of", "the", "&", "The", "Mr", ".", "!", "…", "\n", '"', "'", "(", "’s", "-", "a", " ")
_DATED = _pieces_of(
    "will",
    "willow",
    "xwill",
    "won't",
    "going to",
    "going  to",
    "plans on",
    "can't wait",
    "I'll",
    "’ll",
    "next",
    "was",
    "went",
    "walked",
    "feed",
    "ED",
    "ago",
    "last",
    "on monday",
    "in 3 days",
    " ",
    ", ",
    ".",
    "!",
    "?",
    "'",
    "x",
    size=30,
)
_TAILS = _pieces_of(
    " ",
    ", ",
    ",",
    ".",
    "!",
    "#",
    "now",
    "nowadays",
    "nowx",
    "these days",
    "last week",
    "last weekend",
    "this Sep",
    "next Sept",
    "since",
    "since now",
    "since x",
    "since xnow",
    "since a b c d",
    "for 2 days",
    "for 2 day",
    "for the last 3 years now",
    "for a few weeks",
    "2 days ago",
    "12 days ago",
    "since 12",
    "a few years ago",
    "in May",
    "in May 5",
    "in May 12th, 2023",
    "as of 2021",
    "in 2021-05-03",
    "on Friday",
    "years old",
    "(2024-05-01)",
    "1",
    "x",
    "a",
    "ago",
    "ſince",
    size=7,
)
_SHORT = settings(max_examples=150, deadline=None)


@_SHORT
@given(text=_PUNCTUATED)
def test_sentence_ends_are_found_as_before(text: str) -> None:
    found = [m.span() for m in offline_sentences._BOUNDARY.finditer(text)]
    assert found == [m.span() for m in _BEFORE["sentence end"].finditer(text)]


@_SHORT
@given(text=_SEPARATED)
def test_long_sentences_break_as_before(text: str) -> None:
    assert offline_sentences._LONG_SENTENCE_BREAK.split(text) == _BEFORE["long sentence break"].split(text)


@_SHORT
@given(text=_LAUGHING)
def test_trailing_laughter_goes_as_before(text: str) -> None:
    assert offline_sentences._strip_trailing_noise(text) == _BEFORE["laughter"].sub("", text)


@_SHORT
@given(text=_TAGGED)
def test_question_tags_go_as_before(text: str) -> None:
    assert offline_sentences._TRAILING_QUESTION_TAG.sub("", text) == _BEFORE["question tag"].sub("", text)


@_SHORT
@given(text=st.one_of(_PUNCTUATED, _SEPARATED))
def test_trailing_punctuation_goes_as_before(text: str) -> None:
    assert offline_rewrite.TERMINAL.sub("", text) == _BEFORE["terminal"].sub("", text)


@_SHORT
@given(text=_DIRECTED)
def test_stage_directions_are_found_as_before(text: str) -> None:
    found = [(m.span(), m.groupdict()) for m in offline_extractor._ACTION.finditer(text)]
    assert found == [(m.span(), m.groupdict()) for m in _BEFORE["stage direction"].finditer(text)]


@_SHORT
@given(text=_NAMED)
def test_names_are_found_as_before(text: str) -> None:
    assert [m.span() for m in entities._WORD_RUN.finditer(text)] == [
        m.span() for m in _BEFORE["name run"].finditer(text)
    ]
    for start in range(len(text) + 1):
        before = _BEFORE["sentence start"].search(text[:start]) is not None
        assert entities._starts_sentence(text, start) == before, (text, start)
    assert entities._strip_trailing(text) == _BEFORE["name ending"].sub("", text)


@_SHORT
@given(text=_DATED, data=st.data())
def test_tense_windows_read_as_before(text: str, data: st.DataObject) -> None:
    """A window's markers from the text's index are those a search of the window's own text finds."""
    index = tense.Tense(text)
    for _ in range(10):
        lo = data.draw(st.integers(0, len(text)))
        hi = data.draw(st.integers(lo, len(text)))
        for markers, pattern in ((index._future, tense._FUTURE_MARKERS), (index._past, tense._PAST_MARKERS)):
            assert markers.found_in(text, lo, hi) == (pattern.search(text[lo:hi]) is not None), (text, lo, hi)


@_SHORT
@given(tail=_TAILS)
def test_a_claims_tail_is_what_the_regex_said(tail: str) -> None:
    definition = re.compile(claim_tail.WHOLE_TAIL_DEFINITION, re.IGNORECASE)
    assert claim_tail.is_whole_tail(tail, 0) == (definition.fullmatch(tail) is not None)
    text = "Alice lives in Paris" + tail
    assert claim_tail.is_whole_tail(text, 20) == (definition.fullmatch(text, 20) is not None)
