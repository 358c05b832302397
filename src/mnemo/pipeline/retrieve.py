"""Search: gather candidates by meaning and by keywords, score every signal, fuse, rank."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

from mnemo.domain.entities import extract_entities, overlap
from mnemo.domain.memories import memory_to_wire
from mnemo.domain.relative_dates import find_dates
from mnemo.domain.requests import SearchBody
from mnemo.domain.scoring import QueryShape, RankingWeights, Signals, fuse, keyword_signal, time_signal
from mnemo.domain.selection import compile_selection, selection_filter
from mnemo.errors import BadRequest
from mnemo.providers.embedding.batcher import EmbeddingBatcher
from mnemo.storage.project_store import Candidate, ProjectStore, ReadOptions


@dataclass(frozen=True, slots=True)
class Scored:
    candidate: Candidate
    score: float
    signals: Signals


class Retriever:
    def __init__(self, batcher: EmbeddingBatcher, weights: RankingWeights, *, min_pool: int = 60) -> None:
        self.batcher = batcher
        self.weights = weights
        self.min_pool = min_pool

    async def search(self, store: ProjectStore, request: SearchBody, body: dict[str, Any]) -> list[dict[str, Any]]:
        raw = selection_filter(request.filters, body=body, categories=request.categories, metadata=request.metadata)
        where, params = compile_selection(raw)
        vector = await self.batcher.embed_one(request.query)
        options = ReadOptions(show_expired=request.show_expired, latest_only=request.latest_only)
        pool = max(self.min_pool, 3 * request.top_k)
        async with store.connection() as conn:
            candidates = await store.search_candidates(conn, request.query, vector, where, params, options, pool=pool)
        ranked = self.rank(request.query, candidates, reference=_reference_date(request.reference_date))
        kept = [item for item in ranked if item.score >= request.threshold][: request.top_k]
        return [_to_wire(item, request.fields) for item in kept]

    def rank(self, query: str, candidates: list[Candidate], *, reference: datetime) -> list[Scored]:
        query_entities = extract_entities(query)
        query_spans = [(span.start, span.end) for span in find_dates(query, reference)]
        shape = QueryShape(
            has_terms=any(c.bm25 > 0 for c in candidates),
            has_entities=bool(query_entities),
            has_time=bool(query_spans),
        )
        scored = []
        for candidate in candidates:
            observed = candidate.record.created_at.date()
            signals = Signals(
                semantic=candidate.similarity,
                keyword=keyword_signal(candidate.bm25, self.weights),
                entity=overlap(query_entities, candidate.entities),
                time=time_signal(query_spans, [(observed, observed), *candidate.dates]) if query_spans else 0.0,
            )
            scored.append(Scored(candidate, fuse(signals, shape, self.weights), signals))
        scored.sort(key=lambda item: (-item.score, -item.candidate.similarity, str(item.candidate.record.id)))
        return scored


def _reference_date(value: str | int | None) -> datetime:
    if value is None:
        return datetime.now(UTC)
    if isinstance(value, int):
        return datetime.fromtimestamp(value, UTC)
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        try:
            parsed = datetime.combine(date.fromisoformat(value), datetime.min.time())
        except ValueError:
            raise BadRequest(
                f"reference_date must be an ISO date or datetime, or unix seconds; got {value!r}."
            ) from None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def _to_wire(item: Scored, fields: list[str] | None) -> dict[str, Any]:
    signals = item.signals
    breakdown = {
        "semantic": round(max(0.0, signals.semantic), 6),
        "bm25": round(signals.keyword, 6),
        "entity": round(signals.entity, 6),
        "time": round(signals.time, 6),
    }
    return memory_to_wire(
        item.candidate.record,
        run_key="run_id",
        score=round(item.score, 6),
        extra={"score_breakdown": breakdown},
        fields=fields,
    )
