"""The values that cross the storage boundary, and how rows become them.

Repositories take and return these frozen dataclasses (and :class:`~mnemo.domain.memories.MemoryRecord`);
no caller sees a row, a cursor or a column list.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any, LiteralString

import numpy as np
from psycopg.types.multirange import Multirange
from psycopg.types.range import Range

from mnemo.domain.events import EventStatus, EventType
from mnemo.domain.memories import IndexFields, MemoryRecord, Scope
from mnemo.domain.projects import ProjectSettings

Vector = np.ndarray[Any, np.dtype[np.float32]]

MEMORY_COLUMNS: LiteralString = (
    "id, user_id, agent_id, app_id, run_id, memory, hash, metadata, categories, immutable,"
    " expiration_date, attributed_to, actor_name, replaced_by, state, created_at, updated_at"
)
#: :data:`MEMORY_COLUMNS` qualified by the alias ``m``.
MEMORY_COLUMNS_M: LiteralString = (
    "m.id, m.user_id, m.agent_id, m.app_id, m.run_id, m.memory, m.hash, m.metadata, m.categories, m.immutable,"
    " m.expiration_date, m.attributed_to, m.actor_name, m.replaced_by, m.state, m.created_at, m.updated_at"
)


def redacted_results(column: LiteralString) -> LiteralString:
    """SQL for the JSON array ``column`` of add results with the items of deleted memories (ids in the statement's
    next ``%s::text[]`` parameter) stripped of their text. Braces are doubled for the tenant guard's format."""
    return (
        "(SELECT coalesce(jsonb_agg(CASE WHEN r ->> 'id' = ANY(%s::text[])"
        ' THEN r || \'{{"memory": null, "data": {{"memory": null}}, "deleted": true}}\'::jsonb ELSE r END'
        " ORDER BY n), '[]'::jsonb) FROM jsonb_array_elements(" + column + ") WITH ORDINALITY AS item(r, n))"
    )


@dataclass(frozen=True, slots=True)
class NewMemory:
    """A memory about to be inserted."""

    scope: Scope
    text: str
    index: IndexFields
    embedding: Vector
    metadata: dict[str, Any] | None
    created_at: datetime
    categories: Sequence[str] = ()
    immutable: bool = False
    expiration_date: date | None = None
    attributed_to: str | None = None
    actor_name: str | None = None
    #: The adds whose messages came just before this memory's in its conversation (see migration 0014).
    context_events: Sequence[uuid.UUID] = ()
    #: A message stored verbatim that says nothing to keep: a greeting, thanks, a question (see migration 0015).
    small_talk: bool = False
    #: What the model reads for the memory's final vector, when ``embedding`` is a quick one that a worker replaces
    #: later (see migration 0016); None: ``embedding`` is final.
    joint_input: str | None = None

    @property
    def hash(self) -> str:
        return self.index.hash


@dataclass(frozen=True, slots=True)
class MemoryPatch:
    """What an update changes; ``None`` leaves a field as it is, except where a ``set_*`` flag says the
    field was given (so ``None`` clears it)."""

    text: str | None = None
    index: IndexFields | None = None
    embedding: Vector | None = None
    metadata: dict[str, Any] | None = None
    set_metadata: bool = False
    expiration_date: date | None = None
    set_expiration: bool = False
    created_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class ReadOptions:
    """Visibility switches shared by list-shaped reads (search and get-all)."""

    show_expired: bool = False
    latest_only: bool = False


@dataclass(frozen=True, slots=True)
class Candidate:
    """A memory that may answer a search: what ranking reads of it. The rows that make the answer are read once
    ranking has picked them (:meth:`mnemo.storage.memories.MemoryStore.get_many`): decoding every candidate's
    whole row (its metadata JSON, its scope, …) cost more than the statement that found it."""

    id: uuid.UUID
    memory: str
    created_at: datetime
    similarity: float
    entities: list[str]
    dates: list[tuple[date, date]]
    #: the latest feedback given on the memory (``memory_feedback``), read with it in the same statement
    feedback: str | None = None
    #: the add that wrote it, and the adds whose messages came just before (:class:`NewMemory`), as text: ranking
    #: only compares them, and a ``UUID`` for each id of a search's ~100 candidates cost more than reading them
    event_id: str | None = None
    context_events: Sequence[str] = ()
    #: the name of who said it (the message's ``name``), when known
    speaker: str | None = None
    #: a message stored verbatim that says nothing to keep (:attr:`NewMemory.small_talk`)
    small_talk: bool = False
    #: its number of distinct lexemes, and which of the lexemes a search asked about it holds (their indexes);
    #: read only when a search asks (:meth:`mnemo.storage.search.SearchStore.nearest`'s ``holding``)
    lexemes: int = 0
    holds: Sequence[int] = ()


def _candidate_columns(dates: LiteralString) -> LiteralString:
    """The columns of a :class:`Candidate` with ``dates`` as its ``dates`` column, in the order
    :func:`candidate_from_row` reads them (then its similarity and its feedback)."""
    return (
        "m.id, m.memory, m.created_at, m.entities, "
        + dates
        + " AS dates, m.event_id::text, m.context_events::text[], m.actor_name, m.small_talk"
    )


#: The columns of a :class:`Candidate` beside its similarity, qualified by the alias ``m``.
CANDIDATE_COLUMNS_M: LiteralString = _candidate_columns("m.dates")
#: The same without the dates a memory mentions (empty ``dates``): decoding a date multirange in Python cost
#: more than any other column of a search's candidates, and only a query naming a time reads them.
CANDIDATE_COLUMNS_M_UNDATED: LiteralString = _candidate_columns("NULL")


@dataclass(frozen=True, slots=True)
class KeywordBounds:
    """How much of a scope the keyword leg reads.

    ``count_up_to``: the scope is counted up to at least this many memories (the caller may need to know
    that it reaches a size, e.g. the HNSW threshold). A scope of ``large_scope`` memories or more is matched
    on its rarer lexemes only: the rarest first, while the statistics expect them in at most
    ``match_budget`` memories together (a common word's matches would rank below those of rarer words
    anyway, and each costs a row read); at most twice that are read (the statistics are estimates).

    ``common``: lexemes known to be held by a large part of the scope (the caller counted them in an earlier
    match), with their document frequencies. They match nothing by themselves: a speaker's name matched most of
    a conversation, each match a row read, sent and decoded.
    """

    count_up_to: int = 0
    large_scope: int = 20_000
    match_budget: int = 1_000
    #: The scope's size as counted recently (``documents`` of an earlier match): when at least ``large_scope``,
    #: it is taken as it is instead of counting again (counting a large scope reads one index entry a memory).
    known_size: int | None = None
    common: Mapping[str, int] = field(default_factory=dict)

    def knows_large(self) -> bool:
        return self.known_size is not None and self.known_size >= self.large_scope


@dataclass(frozen=True, slots=True)
class KeywordMatches:
    """The memories of a scope that share lexemes with a query (input of BM25).

    ``matches`` holds, per memory, its id (as text: a broad query matches hundreds of memories, and a ``UUID``
    for each cost more than the rest of the row), its number of distinct lexemes, and the indexes (into the
    query's ``terms`` distinct lexemes) of the lexemes it contains.

    ``documents`` is the scope's size, counted up to the bound the search asked for. In a large scope
    (``bounded``) only the memories holding one of the query's rarer lexemes are matched; ``estimated``
    then gives, for each lexeme left out of the matching (by its index), its document frequency as the
    table's statistics estimate it, out of ``corpus`` memories. In a smaller scope ``estimated`` gives the
    document frequencies that the bounds gave for their ``common`` lexemes, whose matches alone were left out.
    """

    #: the query's distinct stemmed lexemes, sorted: the terms whose indexes the matches give
    lexemes: list[str]
    documents: int
    matches: list[tuple[str, int, list[int]]]
    estimated: dict[int, int] = field(default_factory=dict)
    corpus_estimate: int = 0

    @property
    def terms(self) -> int:
        return len(self.lexemes)

    @property
    def unmatched(self) -> dict[int, str]:
        """The lexemes (by index) whose memories were not all matched: those of ``estimated``."""
        return {i: self.lexemes[i] for i in self.estimated}

    @property
    def bounded(self) -> bool:
        """Whether the scope was large: only the memories holding its rarer lexemes were matched."""
        return self.corpus_estimate > 0

    @property
    def corpus(self) -> int:
        """The memories the IDF counts: the scope's, or in a bounded match the statistics' estimate."""
        return self.corpus_estimate or self.documents


@dataclass(frozen=True, slots=True)
class HistoryEntry:
    id: uuid.UUID
    memory_id: uuid.UUID
    event: str
    old_memory: str | None
    new_memory: str | None
    input: list[Any]
    scope: Scope
    categories: list[str]
    metadata: dict[str, Any] | None
    created_at: datetime


@dataclass(frozen=True, slots=True)
class EventRecord:
    id: uuid.UUID
    event_type: EventType
    status: EventStatus
    payload: dict[str, Any]
    metadata: dict[str, Any] | None
    results: list[Any]
    error: str | None
    attempts: int
    created_at: datetime
    updated_at: datetime
    started_at: datetime | None
    completed_at: datetime | None


@dataclass(frozen=True, slots=True)
class ProjectRecord:
    id: str
    org_id: str
    name: str
    description: str | None
    settings: ProjectSettings
    is_default: bool
    created_at: datetime
    updated_at: datetime


def settings_from_column(value: dict[str, Any] | None) -> ProjectSettings:
    """A project's ``settings`` column as the model (an unset column: every setting at its default)."""
    return ProjectSettings.model_validate(value or {})


def record_from_row(row: dict[str, Any]) -> MemoryRecord:
    return MemoryRecord(
        id=row["id"],
        scope=Scope(row["user_id"], row["agent_id"], row["app_id"], row["run_id"]),
        memory=row["memory"],
        hash=row["hash"],
        metadata=row["metadata"],
        categories=list(row["categories"] or []),
        immutable=row["immutable"],
        expiration_date=row["expiration_date"],
        attributed_to=row["attributed_to"],
        actor_name=row["actor_name"],
        replaced_by=row["replaced_by"],
        state=row["state"],
        created_at=row["created_at"],
        updated_at=row["updated_at"],
    )


def candidate_from_row(row: Sequence[Any], at: int = 0) -> Candidate:
    """The :class:`Candidate` of a row of :data:`CANDIDATE_COLUMNS_M`, its similarity and its feedback, read from
    position ``at`` on (rows as tuples: a search reads ~100 of them, and dicts cost more), then its lexemes and
    those it holds when the row has them."""
    (id_, memory, created_at, entities, dates, event_id, context_events, speaker, small_talk, similarity, feedback) = (
        row[at : at + 11]
    )
    lexemes, holds = row[at + 11 : at + 13] if len(row) >= at + 13 else (0, None)
    return Candidate(
        id=id_,
        memory=memory,
        created_at=created_at,
        similarity=float(similarity),
        entities=list(entities or []),
        dates=[_closed(span) for span in (dates or []) if span.lower and span.upper],
        feedback=feedback,
        event_id=event_id,
        context_events=context_events or (),
        speaker=speaker,
        small_talk=small_talk,
        lexemes=lexemes,
        holds=holds or (),
    )


def multirange(spans: Sequence[tuple[date, date]]) -> Multirange[date] | None:
    if not spans:
        return None
    return Multirange([Range(start, end, "[]") for start, end in spans])


def _closed(span: Range[date]) -> tuple[date, date]:
    """PostgreSQL stores date ranges half-open; callers think in inclusive days."""
    assert span.lower is not None and span.upper is not None
    return span.lower, span.upper if span.upper_inc else span.upper - timedelta(days=1)
