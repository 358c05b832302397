"""Fusing the ranking signals of a search into one score in [0, 1].

Each signal is first mapped to [0, 1]:
- semantic: cosine similarity of query and memory embeddings, negative values clipped to 0;
- keyword: BM25 over stemmed lexemes within the search's scope (see :func:`bm25_scores`), saturated
  as ``s / (s + k)``;
- entity: share of the query's entities (names, places, titles) the memory names;
- time: 1 when a date the query refers to overlaps the memory's observation date or a date it
  mentions, else 0.
The score is the weighted mean of the signals that apply to the query: keyword needs a query with
content words, entity a query naming an entity, time a query with a time expression.
"""

from __future__ import annotations

import math
from collections.abc import Hashable, Sequence
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


@dataclass(frozen=True, slots=True)
class RankingWeights:
    semantic: float = 0.5
    keyword: float = 0.5
    entity: float = 0.15
    time: float = 0.15
    #: BM25 score at which the keyword signal reaches 0.5.
    keyword_half: float = 10.0


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


def bm25_scores(documents: int, terms: int, matches: Sequence[tuple[Key, int, Sequence[int]]]) -> dict[Key, float]:
    """BM25 of every matching memory: ``matches`` are (key, distinct lexemes, indexes of query terms it has).

    Term frequency counts as 1: memories are a sentence or a turn, where a word rarely repeats, and
    presence can be tested with the full-text index instead of unpacking every matching document.
    Document frequencies are counted within ``matches``, so IDF is per scope.
    """
    frequency = [0] * terms
    for _, _, hits in matches:
        for term in hits:
            frequency[term] += 1
    idf = [math.log(1 + (documents - n + 0.5) / (n + 0.5)) for n in frequency]
    scores: dict[Key, float] = {}
    for key, length, hits in matches:
        norm = BM25_K1 * (1 - BM25_B + BM25_B * length / AVERAGE_LEXEMES)
        scores[key] = sum(idf[term] for term in hits) * (BM25_K1 + 1) / (1 + norm)
    return scores


def keyword_signal(bm25: float, weights: RankingWeights) -> float:
    return bm25 / (bm25 + weights.keyword_half) if bm25 > 0 else 0.0


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
