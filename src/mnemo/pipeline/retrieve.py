"""Search: gather candidates by meaning and by keywords, score every signal, fuse, rank.

The keyword leg (BM25 inputs from the full-text index) runs while the query is being embedded; then
one statement scans for the nearest neighbours and fetches them together with the best keyword
matches (each row once, with its similarity and its feedback), so every candidate carries both its
similarity and its BM25 score: two statements per search, one of them while the model runs.
"""

from __future__ import annotations

import asyncio
import heapq
import uuid
from collections.abc import Hashable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

from mnemo.domain.dates import parse_moment
from mnemo.domain.entities import extract_entities, overlap
from mnemo.domain.memories import MemoryRecord, memory_to_wire
from mnemo.domain.neighbours import after_the_best_of_its_add, lifted, neighbours
from mnemo.domain.question_forms import question_form
from mnemo.domain.recent import Recent
from mnemo.domain.relative_dates import find_dates
from mnemo.domain.requests import SearchBody
from mnemo.domain.scoring import (
    BM25,
    QueryShape,
    RankingWeights,
    Signals,
    about_a_relative,
    asks_about_the_person,
    calibrate,
    common_terms,
    fuse,
    keyword_query,
    keyword_signal,
    names,
    speaker_named,
    time_signal,
)
from mnemo.domain.selection import parse_selection, selection_filter
from mnemo.filters import Node
from mnemo.pipeline.feedback import feedback_weights
from mnemo.providers.embedding.base import Vectors
from mnemo.providers.embedding.batcher import EmbeddingBatcher
from mnemo.storage import HNSW_EF_SEARCH, Candidate, KeywordBounds, ProjectData, ReadOptions


@dataclass(frozen=True, slots=True)
class Scored:
    candidate: Candidate
    #: The calibrated score (what the API returns); ``fused`` is the weighted mean of the signals.
    score: float
    signals: Signals
    fused: float


@dataclass(frozen=True, slots=True)
class _Leg:
    """What a search reads from storage: where to look and how much."""

    data: ProjectData
    selection: Node
    options: ReadOptions
    pool: int


class Retriever:
    def __init__(
        self,
        batcher: EmbeddingBatcher,
        weights: RankingWeights,
        *,
        min_pool: int = 60,
        approximate_from: int = 0,
        ef_search: int = HNSW_EF_SEARCH,
    ) -> None:
        self.batcher = batcher
        self.weights = weights
        self.min_pool = min_pool
        #: A scope of at least this many memories is searched through the HNSW index (0: always exactly).
        self.approximate_from = approximate_from
        #: Candidates a walk of that index keeps.
        self.ef_search = ef_search
        #: Scopes found large, with their counted size: a large scope is not counted again for a minute. A statistic
        #: for choosing how to search (the HNSW index, the keyword leg's bounds), not a result: a scope that
        #: shrinks is still searched as a large one for up to that minute, correctly but approximately.
        self.large_scopes: Recent[Hashable, int] = Recent(ttl=60.0, capacity=1_000)
        #: The lexemes found in a large part of each scope lately (:func:`common_terms`), with their document
        #: frequencies: the scope's next searches do not read the memories that match only those (a speaker's name
        #: matched most of a conversation). A statistic too: a search weighs them by the frequency counted then,
        #: for up to a minute after the last word was added.
        self.common_words: Recent[Hashable, dict[str, int]] = Recent(ttl=60.0, capacity=1_000)
        #: Searches in flight in this process (see :meth:`_embed_and_match`).
        self._searching = 0

    async def search(self, data: ProjectData, request: SearchBody) -> list[dict[str, Any]]:
        raw = selection_filter(
            request.filters,
            scope=request.top_level_scope(),
            categories=request.categories,
            metadata=request.metadata,
        )
        options = ReadOptions(show_expired=request.show_expired, latest_only=request.latest_only)
        leg = _Leg(data, parse_selection(raw), options, pool=max(self.min_pool, 3 * request.top_k))
        self._searching += 1
        try:
            query_vector, keywords = await self._embed_and_match(leg, request.query)
        finally:
            self._searching -= 1
        reference = (
            datetime.now(UTC)
            if request.reference_date is None
            else parse_moment(request.reference_date, "reference_date")
        )
        spans = [(span.start, span.end) for span in find_dates(request.query, reference)]
        async with data.reading() as tables:
            candidates = await tables.search.nearest(
                query_vector,
                leg.selection,
                leg.options,
                limit=leg.pool,
                also=keywords.best,
                approximate=0 < self.approximate_from <= keywords.documents,
                ef_search=self.ef_search,
                dates=bool(spans),  # only a query naming a time reads the dates a memory mentions
                holding=keywords.unmatched,
            )
            feedback = feedback_weights(candidates)
            bm25 = keywords.of(candidates)
            ranked = self.rank(
                request.query,
                candidates,
                bm25,
                query_spans=spans,
                feedback=feedback,
                matched=keywords.matched or bool(bm25),
            )
            kept = [item for item in ranked if item.score >= request.threshold][: request.top_k]
            # The answer's rows, whole: only those ranking kept (a memory deleted meanwhile drops out).
            records = await tables.memories.get_many([item.candidate.id for item in kept])
        scored = {item.candidate.id: item for item in kept}
        return [_to_wire(record, scored[record.id], request.fields) for record in records]

    async def _embed_and_match(self, leg: _Leg, query: str) -> tuple[Vectors, _Keywords]:
        """The query's vector and its keyword matches (:meth:`_keyword_matches`), the two at once.

        A search alone on the server embeds its question on the event loop's thread once the keyword statement
        is on its way (:meth:`EmbeddingBatcher.embed_here`): PostgreSQL runs the statement while the model runs,
        and neither waits for a hand-off to the embedder's thread. With other searches in flight, or the
        embedder busy (adds, workers), the question joins the embedder's next batch instead, so that the event
        loop keeps serving the others meanwhile.
        """
        keyword_leg = asyncio.ensure_future(self._keyword_matches(leg, query))
        vector: asyncio.Future[Vectors] | None = None
        try:
            if self._searching == 1:
                await asyncio.sleep(0)  # let the keyword leg send its statement
                here = self.batcher.embed_here(query)
                if here is not None:
                    return here, await keyword_leg
            vector = asyncio.ensure_future(self.batcher.embed_query(query))
            return await asyncio.gather(vector, keyword_leg)
        finally:  # on failure, stop whatever is still running (and release its connection)
            for task in (vector, keyword_leg):
                if task is not None:
                    task.cancel()

    async def _keyword_matches(self, leg: _Leg, query: str) -> _Keywords:
        """The keyword matches in scope and their BM25 (memories by id as text, as the keyword leg reads them).

        Memories holding only lexemes known to be common in the scope (:attr:`common_words`) are not read here:
        the candidates carry the common lexemes they hold, and score by them as the others do (:meth:`_Keywords.of`).
        """
        key = (leg.data.project_id, leg.selection)
        scope = (*key, leg.options)
        known = self.common_words.get(scope) or {}
        bounds = KeywordBounds(count_up_to=self.approximate_from, known_size=self.large_scopes.get(key), common=known)
        async with leg.data.reading() as tables:
            matches = await tables.search.keyword_matches(
                keyword_query(query), leg.selection, leg.options, bounds=bounds
            )
        if matches.bounded and not bounds.knows_large():
            self.large_scopes.put(key, matches.documents)
        if not matches.bounded:  # every memory holding one of the other lexemes was read: their counts are exact
            found = common_terms(matches.documents, matches.lexemes, matches.matches).items()
            new = {lexeme: n for lexeme, n in found if lexeme not in known}  # the known ones were not all read
            if new:
                self.common_words.put(scope, {**known, **new})
        scorer = BM25.of(matches.corpus, matches.terms, matches.matches, matches.estimated)
        bm25 = {memory: scorer.score(length, hits) for memory, length, hits in matches.matches}
        return _Keywords(
            bm25=bm25,
            best=[key for key, _ in heapq.nlargest(leg.pool, bm25.items(), key=_by_score)],
            documents=matches.documents,
            scorer=scorer,
            unmatched=matches.unmatched,
            # A small scope's common lexemes were counted in it; a large scope's are the whole table's estimates.
            matched=bool(bm25) or (bool(matches.estimated) and not matches.bounded),
        )

    def rank(
        self,
        query: str,
        candidates: list[Candidate],
        bm25: Mapping[str, float],
        *,
        query_spans: Sequence[tuple[date, date]],
        feedback: Mapping[uuid.UUID, float] | None = None,
        matched: bool,
    ) -> list[Scored]:
        """``bm25``: the keyword score of each memory that matched (by id as text); ``query_spans``: the days the
        query names (:func:`find_dates`); ``feedback``: the weight of each memory whose feedback changes its score
        (0: left out); ``matched``: whether the query's words matched any memory of the scope (``bm25`` holds only
        the candidates' scores)."""
        query_entities = extract_entities(query)
        form = question_form(query)
        shape = QueryShape(
            has_terms=matched or form.applies,
            has_entities=bool(query_entities),
            has_time=bool(query_spans),
        )
        personal = asks_about_the_person(query)
        named = speaker_named(query, {candidate.speaker for candidate in candidates if candidate.speaker})
        semantic = self.batcher.embedder.calibration.semantic
        kept, signals_of, fused_of = [], [], []
        for candidate in candidates:
            weight = feedback.get(candidate.id, 1.0) if feedback else 1.0
            if weight == 0.0:
                continue
            observed = candidate.created_at.date()
            signals = Signals(
                semantic=semantic(candidate.similarity),
                keyword=form.keyword(candidate.memory, keyword_signal(bm25.get(str(candidate.id), 0.0), self.weights)),
                entity=overlap(query_entities, candidate.entities),
                time=time_signal(query_spans, [(observed, observed), *candidate.dates]) if query_spans else 0.0,
            )
            fused = fuse(signals, shape, self.weights)
            if personal and about_a_relative(candidate.memory):
                fused *= self.weights.someone_else
            speaker = candidate.speaker
            if named is not None and speaker and speaker.casefold() != named and not names(candidate.memory, speaker):
                fused *= self.weights.other_speaker
            if candidate.small_talk:
                fused *= self.weights.small_talk
            fused *= weight * form.factor(candidate.memory)
            kept.append(candidate)
            signals_of.append(signals)
            fused_of.append(fused)
        if self.weights.neighbour_share:
            near = neighbours([(candidate.event_id, candidate.context_events) for candidate in kept])
            fused_of = lifted(fused_of, near, self.weights.neighbour_share)
        fused_of = after_the_best_of_its_add(
            fused_of, [candidate.event_id for candidate in kept], self.weights.same_add
        )
        scored = [
            Scored(candidate, calibrate(fused), signals, fused)
            for candidate, signals, fused in zip(kept, signals_of, fused_of, strict=True)
        ]
        scored.sort(key=lambda item: (-item.fused, -item.candidate.similarity, item.candidate.id.int))
        return scored


@dataclass(frozen=True, slots=True)
class _Keywords:
    """What a search's keyword leg found: the BM25 of the memories it read, by id as text, and the ids of the best
    of them; the scope's size; the lexemes whose memories it did not all read (by index), and how to score
    those; whether the query's words matched anything at all."""

    bm25: dict[str, float]
    best: list[str]
    documents: int
    scorer: BM25
    unmatched: dict[int, str]
    matched: bool

    def of(self, candidates: Sequence[Candidate]) -> dict[str, float]:
        """The BM25 of every candidate: as read, or from the unmatched lexemes it holds (the statement that found
        it reads them, :meth:`mnemo.storage.search.SearchStore.nearest`'s ``holding``)."""
        if not self.unmatched:
            return self.bm25
        scores = dict(self.bm25)
        for candidate in candidates:
            key = str(candidate.id)
            if candidate.holds and key not in scores:
                scores[key] = self.scorer.score(candidate.lexemes, candidate.holds)
        return scores


def _by_score(item: tuple[str, float]) -> tuple[float, str]:
    """A keyword match's order: its score, then its id (canonical UUID text sorts as the number does)."""
    return item[1], item[0]


def _to_wire(record: MemoryRecord, item: Scored, fields: list[str] | None) -> dict[str, Any]:
    signals = item.signals
    breakdown = {
        "semantic": round(max(0.0, signals.semantic), 6),
        "bm25": round(signals.keyword, 6),
        "entity": round(signals.entity, 6),
        "time": round(signals.time, 6),
    }
    return memory_to_wire(
        record,
        structured=False,
        score=round(item.score, 6),
        extra={"score_breakdown": breakdown},
        fields=fields,
    )
