"""Memory records and their wire shape (spec §2.1)."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any, Literal
from uuid import UUID

from mnemo.domain.entities import extract_entities
from mnemo.domain.relative_dates import find_dates
from mnemo.filters import ENTITY_FIELDS as ENTITY_FIELDS

#: The kinds of entity a memory belongs to; ``<kind>_id`` is the field (:data:`ENTITY_FIELDS`).
ENTITY_KINDS: tuple[str, ...] = tuple(field.removesuffix("_id") for field in ENTITY_FIELDS)


@dataclass(frozen=True, slots=True)
class Scope:
    """The entity ids a memory belongs to."""

    user_id: str | None = None
    agent_id: str | None = None
    app_id: str | None = None
    run_id: str | None = None

    def as_dict(self) -> dict[str, str | None]:
        return {
            "user_id": self.user_id,
            "agent_id": self.agent_id,
            "app_id": self.app_id,
            "run_id": self.run_id,
        }


@dataclass(frozen=True, slots=True)
class MemoryRecord:
    """One stored memory, as read from storage."""

    id: UUID
    scope: Scope
    memory: str
    hash: str
    metadata: dict[str, Any] | None
    categories: list[str]
    immutable: bool
    expiration_date: date | None
    attributed_to: str | None
    actor_name: str | None
    replaced_by: UUID | None
    state: str
    created_at: datetime
    updated_at: datetime


def text_hash(text: str) -> str:
    """The md5 of a memory's text, as Mem0 reports it in ``hash``."""
    return hashlib.md5(text.encode("utf-8"), usedforsecurity=False).hexdigest()


@dataclass(frozen=True, slots=True)
class IndexFields:
    """What is derived from a memory's text when it is written: its hash (exact dedup), the entities it
    names and the days it refers to (ranking signals)."""

    hash: str
    entities: tuple[str, ...]
    dates: tuple[tuple[date, date], ...]


def index_fields(text: str, *, speaker: str | None, observed_at: datetime) -> IndexFields:
    """The index fields of a memory with this text, said by ``speaker``, observed at ``observed_at`` (the
    moment relative dates such as "yesterday" count from). The one place these are computed."""
    return IndexFields(
        hash=text_hash(text),
        entities=tuple(extract_entities(text, speaker=speaker)),
        dates=tuple((span.start, span.end) for span in find_dates(text, observed_at)),
    )


def index_text(text: str, speaker: str | None) -> str:
    """What is embedded for a memory: its text, prefixed by the speaker's name when known."""
    return f"{speaker}: {text}" if speaker else text


#: How a memory's vector carries the messages that preceded it (``MNEMO_EMBEDDING_CONTEXT``, mnemo.pipeline.in_context):
#: read with them by the model (``joint``), its own vector mixed with theirs (``mixed``), or mixed at once and joint
#: once a worker has computed it (``deferred``).
ContextMode = Literal["joint", "mixed", "deferred"]


def embedding_text(own: str, context: Sequence[str]) -> str:
    """What is embedded for a message kept verbatim: its own index text first (so truncation to the
    model's window cuts context, never the message), then the messages that preceded it, oldest first."""
    return "\n".join([own, *context])


def add_result(record: MemoryRecord) -> dict[str, Any]:
    """One item of an add's ``results``, in the synchronous response and in the event alike (spec §2.2,
    §6): the memory under ``data.memory`` (what the clients read) and ``memory``, and its entity ids."""
    return add_result_of(record.id, record.memory, record.scope)


def add_result_of(memory_id: UUID, memory: str, scope: Scope) -> dict[str, Any]:
    """:func:`add_result` of a memory about to be inserted (its id, its text and its scope)."""
    return {"id": str(memory_id), "event": "ADD", "data": {"memory": memory}, "memory": memory, **scope.as_dict()}


def structured_attributes(moment: datetime) -> dict[str, Any]:
    """Calendar facts about a timestamp, in UTC (spec §2.1)."""
    utc = moment.astimezone(UTC)
    iso = utc.isocalendar()
    return {
        "year": utc.year,
        "month": utc.month,
        "day": utc.day,
        "hour": utc.hour,
        "minute": utc.minute,
        "day_of_week": utc.strftime("%A").lower(),
        "week_of_year": iso.week,
        "day_of_year": utc.timetuple().tm_yday,
        "quarter": (utc.month - 1) // 3 + 1,
        "is_weekend": utc.weekday() >= 5,
    }


def memory_to_wire(
    record: MemoryRecord,
    *,
    structured: bool = True,
    score: float | None = None,
    extra: dict[str, Any] | None = None,
    fields: list[str] | None = None,
) -> dict[str, Any]:
    """The JSON object clients receive for one memory; ``fields`` keeps only the named keys.

    The run id is sent under both names the hosted API uses (``session_id`` in get and get-all, ``run_id`` in
    search), so a client reading either finds it wherever it reads. ``structured`` adds
    ``structured_attributes`` (get and get-all have them, search results do not)."""
    body: dict[str, Any] = {
        "id": str(record.id),
        "memory": record.memory,
        "user_id": record.scope.user_id,
        "agent_id": record.scope.agent_id,
        "app_id": record.scope.app_id,
        "run_id": record.scope.run_id,
        "session_id": record.scope.run_id,
        "hash": record.hash,
        "metadata": record.metadata,
        "categories": record.categories,
        "immutable": record.immutable,
        "expiration_date": record.expiration_date.isoformat() if record.expiration_date else None,
        "created_at": record.created_at.isoformat(),
        "updated_at": record.updated_at.isoformat(),
        "attributed_to": record.attributed_to,
        "actor_name": record.actor_name,
        "replaced_by": str(record.replaced_by) if record.replaced_by else None,
        "lifecycle_state": record.state,
        "synthesized": False,
    }
    if structured:
        body["structured_attributes"] = structured_attributes(record.created_at)
    if score is not None:
        body["score"] = score
    if extra:
        body.update(extra)
    if fields:
        keep = set(fields) | {"id"}
        body = {key: value for key, value in body.items() if key in keep}
    return body
