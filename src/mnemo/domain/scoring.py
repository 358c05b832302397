"""Fusing the ranking signals of a search into one score in [0, 1].

Each signal is first mapped to [0, 1]:
- semantic: cosine similarity of query and memory embeddings, read through the embedder's calibration
  (:class:`mnemo.providers.embedding.base.Calibration`: MiniLM's cosine itself, negative values clipped to 0);
- keyword: BM25 over stemmed lexemes within the search's scope (see :class:`BM25`), saturated
  as ``s / (s + k)``;
- entity: share of the query's entities (names, places, titles) the memory names;
- time: 1 when a date the query refers to overlaps the memory's observation date or a date it
  mentions, else 0.
The fused score is the weighted mean of the signals that apply to the query: keyword needs a query with
content words, entity a query naming an entity, time a query with a time expression.

BM25's IDF counts a scope as at least :data:`IDF_FLOOR_DOCUMENTS` memories and discounts words most of
the scope shares (see :class:`BM25`). Before the keyword leg, a question is given the words of the
statements that answer its form (see :func:`keyword_query`: "where ... live" also looks for "moved", "do
for a living" for "work", not "living"), and for such a question a memory whose subject is someone else
("My mother lives in ...") gives way to one about the person unless the question names a relative
(:func:`about_someone_else`). A question naming one of the candidates' speakers gives what the others said
less weight (:func:`speaker_named`), unless the memory names its own speaker (:func:`names`).

The score a search returns is the fused score *calibrated* (:func:`calibrate`): a monotone
piecewise-linear map fitted on LoCoMo so that 0.3, the threshold Mem0's clients send by default,
separates memories that answer a question from memories of another person's scope (see README, "How
search scores"). It keeps the order of the fused score.
"""

from __future__ import annotations

import functools
import itertools
import math
import re
from collections.abc import Hashable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from typing import TypeVar

Key = TypeVar("Key", bound=Hashable)

#: BM25's term-frequency saturation and length normalisation.
BM25_K1 = 1.2
BM25_B = 0.75
#: The typical number of distinct lexemes in a memory, BM25's average document length. A constant:
#: memories are short facts, and measuring it would read every row of the scope on every search.
AVERAGE_LEXEMES = 12.0
#: IDF is computed as if the scope held at least this many memories: in a scope of three memories every
#: word is "common", and a real match would weigh next to nothing against meaning.
IDF_FLOOR_DOCUMENTS = 200
#: From this many memories up, a word every memory of the scope has (the speaker's name, "user") adds
#: nothing; below it the discount shrinks in proportion (one memory alone keeps 90% of its words' weight).
SHARED_TERM_SCOPE = 10
#: A lexeme held by at least this share of a scope of at least :data:`COMMON_TERM_FROM` memories is common
#: (:func:`common_terms`). On LoCoMo a question's words matched 413 of a conversation's ~550 turns on average (the
#: speakers' names), and 60 once the words at this share are left out.
COMMON_TERM_SHARE = 0.5
COMMON_TERM_FROM = 50


@dataclass(frozen=True, slots=True)
class RankingWeights:
    semantic: float = 0.5
    keyword: float = 0.5
    entity: float = 0.15
    time: float = 0.15
    #: BM25 score at which the keyword signal reaches 0.5.
    keyword_half: float = 10.0
    #: The fused score of a memory about someone else when the question is not (see about_someone_else).
    someone_else: float = 0.8
    #: The fused score of a memory said by another speaker than the one the question names (see speaker_named).
    other_speaker: float = 0.8
    #: The share of the gap to its best neighbour's fused score a memory is lifted by (mnemo.domain.neighbours).
    neighbour_share: float = 0.5
    #: The fused score of a memory whose add has a better-scoring one among the candidates (mnemo.domain.neighbours).
    same_add: float = 0.8
    #: The fused score of a message stored verbatim that says nothing to keep: a greeting, thanks, a question, a
    #: reaction (``small_talk``, judged when it is written). LoCoMo recall@10 0.788 → 0.801 (bench/README.md).
    small_talk: float = 0.8


@dataclass(frozen=True, slots=True)
class Signals:
    semantic: float
    keyword: float
    entity: float
    time: float


@dataclass(frozen=True, slots=True)
class QueryShape:
    """Which signals a query can carry."""

    has_terms: bool
    has_entities: bool
    has_time: bool


@dataclass(frozen=True, slots=True)
class BM25:
    """The BM25 of a query's terms in one scope: each term's IDF, and the score of a memory from its length and
    the terms it holds.

    Term frequency counts as 1: memories are a sentence or a turn, where a word rarely repeats, and
    presence can be tested with the full-text index instead of unpacking every matching document.
    IDF is per scope, with two corrections: the scope counts as at least :data:`IDF_FLOOR_DOCUMENTS`
    memories, and a word shared by a large part of the scope is discounted by that share (so a word every
    memory has, such as the speaker's name, ranks nothing).
    """

    idf: tuple[float, ...]

    @classmethod
    def of(
        cls,
        documents: int,
        terms: int,
        matches: Sequence[tuple[Key, int, Sequence[int]]],
        counted: Mapping[int, int] | None = None,
    ) -> BM25:
        """Document frequencies are counted within ``matches`` (key, distinct lexemes, indexes of the query terms
        it holds); ``counted`` overrides those of the terms the matches were not gathered by (a scope's common
        words, :class:`mnemo.storage.KeywordMatches`)."""
        frequency = _frequencies(terms, matches)
        for term, count in (counted or {}).items():
            frequency[term] = count
        floor = max(documents, IDF_FLOOR_DOCUMENTS)
        shared = min(1.0, max(documents, 1) / SHARED_TERM_SCOPE)
        return cls(
            tuple(
                math.log(1 + (floor - n + 0.5) / (n + 0.5)) * (1 - shared * min(1.0, n / max(documents, 1)))
                for n in frequency
            )
        )

    def score(self, length: int, hits: Iterable[int]) -> float:
        """The BM25 of a memory of ``length`` distinct lexemes holding the terms ``hits`` (their indexes)."""
        idf = self.idf
        norm = BM25_K1 * (1 - BM25_B + BM25_B * length / AVERAGE_LEXEMES)
        return sum(idf[term] for term in hits) * (BM25_K1 + 1) / (1 + norm)


def common_terms(
    documents: int, lexemes: Sequence[str], matches: Sequence[tuple[Key, int, Sequence[int]]]
) -> dict[str, int]:
    """The ``lexemes`` that at least :data:`COMMON_TERM_SHARE` of a scope's ``documents`` memories hold (in a scope
    of at least :data:`COMMON_TERM_FROM`), with their document frequencies counted in ``matches`` (key, length,
    indexes of the lexemes it holds)."""
    if documents < COMMON_TERM_FROM:
        return {}
    least = COMMON_TERM_SHARE * documents
    frequency = _frequencies(len(lexemes), matches)
    return {lexeme: n for lexeme, n in zip(lexemes, frequency, strict=True) if n >= least}


def _frequencies(terms: int, matches: Sequence[tuple[Key, int, Sequence[int]]]) -> list[int]:
    """How many of ``matches`` hold each of the query's ``terms``."""
    frequency = [0] * terms
    for _, _, hits in matches:
        for term in hits:
            frequency[term] += 1
    return frequency


def keyword_signal(bm25: float, weights: RankingWeights) -> float:
    return bm25 / (bm25 + weights.keyword_half) if bm25 > 0 else 0.0


#: Question forms and the words of the statements that answer them (keyword leg only): a pattern of the
#: question (lower case), the words it drops, the words it adds.
_EXPANSIONS: tuple[tuple[re.Pattern[str], re.Pattern[str] | None, str], ...] = (
    (re.compile(r"\bfor a living\b"), re.compile(r"\bfor a living\b"), "work"),
    (re.compile(r"\b(job|occupation|profession|career|work for|do for work)\b"), None, "work"),
    (
        re.compile(r"\b(where|which city|what city|which town|which country)\b.*\b(live|living|based|stay)\b"),
        None,
        "live moved relocated based rent flat apartment house home",
    ),
    (
        re.compile(r"\bpets?\b"),
        None,
        "pet dog puppy cat kitten rabbit parrot bird hamster tortoise turtle fish lizard dragon snake horse",
    ),
    (re.compile(r"\b(birthday|born)\b"), None, "birthday born"),
    (re.compile(r"\b(wedding|marry|married|marrying)\b"), None, "wedding married"),
    (re.compile(r"\b(children|kids|child)\b"), None, "children kids son daughter sons daughters twins"),
    (
        re.compile(r"\b(holiday|holidays|vacation|trip|travel|travelling|traveling)\b"),
        None,
        "holiday vacation trip travel flying visit",
    ),
)
_RELATIVES = (
    r"mother|mom|mum|father|dad|parents?|brother|sister|siblings?|son|daughter|sons|daughters|kids?|children|"
    r"child|husband|wife|ex-wife|ex-husband|ex|partner|boyfriend|girlfriend|fianc[eé]e?|grandmother|grandma|"
    r"grandfather|grandpa|grandparents|grandchildren|aunt|uncle|cousin|niece|nephew|friend|friends|"
    r"roommates?|colleague|boss|neighbou?r|family|in-laws"
)
#: A relative as the subject: the memory's or a sentence's first words ("My mother lives in ...", the
#: offline extractor's "User's mom is ...", not "I live in Leeds with my partner").
_ABOUT_RELATIVE = re.compile(
    rf"(?:^|[.!?;]\s+)(?:\w+[,!]\s+)?(my|our|his|her|their|user['’]s)\s+(?:\w+\s+)?({_RELATIVES})\b", re.IGNORECASE
)
_NAMES_RELATIVE = re.compile(rf"\b({_RELATIVES})\b", re.IGNORECASE)


def keyword_query(query: str) -> str:
    """The text the keyword leg searches for ``query``: the question, less the phrases that would match
    the wrong statements ("for a living" stems like "lives"), plus the words of the statements that
    answer its form ("where does she live" ↔ "I moved to ...")."""
    lowered = query.lower()
    text, added = lowered, []
    for pattern, drop, words in _EXPANSIONS:
        if not pattern.search(lowered):
            continue
        if drop is not None:
            text = drop.sub(" ", text)
        if "live" in words and _NAMES_RELATIVE.search(lowered):
            continue  # "where does her mother live": the relative's home, not a move
        added.append(words)
    return " ".join([text, *added]) if added else query


def asks_about_the_person(query: str) -> bool:
    """True when ``query`` is one of the personal question forms of :func:`keyword_query` ("Which city does
    Nadia live in?") and names no relative or friend: then memories about someone else answer it less."""
    lowered = query.lower()
    return not _NAMES_RELATIVE.search(query) and any(pattern.search(lowered) for pattern, _, _ in _EXPANSIONS)


def about_a_relative(memory: str) -> bool:
    """True when ``memory`` is about a relative or friend ("My mother lives in ...")."""
    return bool(_ABOUT_RELATIVE.search(memory))


def about_someone_else(query: str, memory: str) -> bool:
    """True when ``memory`` is about a relative or friend and ``query`` asks about the person
    (:func:`asks_about_the_person`). A search decides the query's half once, then each memory's."""
    return asks_about_the_person(query) and about_a_relative(memory)


def speaker_named(query: str, speakers: Iterable[str]) -> str | None:
    """The one of ``speakers`` (who said the candidates) that ``query`` names, casefolded; None when it names
    none of them or several ("What did Caroline tell Melanie?"). A capitalised word of three letters or more
    that begins a speaker's name names them too ("Deb" for Deborah)."""
    words = {word.casefold() for word in _CAPITALISED.findall(query)}
    named = set()
    for speaker in speakers:
        name = speaker.strip()
        if not name:
            continue
        folded = name.casefold()
        if names(query, name) or any(len(word) >= 3 and folded.startswith(word) for word in words):
            named.add(speaker.casefold())
    return named.pop() if len(named) == 1 else None


def names(memory: str, speaker: str) -> bool:
    """True when ``memory`` names ``speaker`` as a word: an extracted fact names whom it is about ("Tim loves
    watching LeBron."), where a message kept verbatim has its speaker only in its ``name``."""
    return _name_pattern(speaker).search(memory) is not None


@functools.lru_cache(maxsize=256)
def _name_pattern(speaker: str) -> re.Pattern[str]:
    """A speaker's name as a word (compiled once: a search asks it of every candidate)."""
    return re.compile(rf"\b{re.escape(speaker)}\b", re.IGNORECASE)


_CAPITALISED = re.compile(r"\b[A-Z][a-z]+\b")


def time_signal(query_spans: Sequence[tuple[date, date]], memory_days: Sequence[tuple[date, date]]) -> float:
    for q_start, q_end in query_spans:
        for m_start, m_end in memory_days:
            if m_start <= q_end and q_start <= m_end:
                return 1.0
    return 0.0


def fuse(signals: Signals, shape: QueryShape, weights: RankingWeights) -> float:
    total = weights.semantic * max(0.0, signals.semantic)
    weight = weights.semantic
    if shape.has_terms:
        total += weights.keyword * signals.keyword
        weight += weights.keyword
    if shape.has_entities:
        total += weights.entity * signals.entity
        weight += weights.entity
    if shape.has_time:
        total += weights.time * signals.time
        weight += weights.time
    return max(0.0, min(1.0, total / weight))


#: Knots (fused score, calibrated score) of :func:`calibrate`, fitted on LoCoMo (``bench/calibration.py``):
#: the fused score above which at most 10% of another scope's top-10 results fall maps to 0.3.
CALIBRATION: tuple[tuple[float, float], ...] = ((0.0, 0.0), (0.33, 0.3), (0.6, 0.7), (1.0, 1.0))


def calibrate(fused: float, knots: Sequence[tuple[float, float]] = CALIBRATION) -> float:
    """The returned score: ``fused`` through the piecewise-linear, increasing map ``knots``."""
    for (x0, y0), (x1, y1) in itertools.pairwise(knots):
        if fused <= x1:
            return y0 + (y1 - y0) * (max(fused, x0) - x0) / (x1 - x0)
    return knots[-1][1]
