"""Moving in from Mem0 (``mnemo import``): memories written verbatim, as their source holds them.

A memory keeps its id, text, metadata, categories, creation and update times, expiry, immutability and
entity ids (and, from another mnemo, its speaker and supersede link). Only what mnemo derives is computed
here: its vector, with the configured embedder, and its index fields (:func:`~mnemo.domain.memories.index_fields`).

An import is resumable because it is idempotent: each page of the source is written in its own transaction,
and a memory whose id the project already holds is skipped before it is embedded. Running an interrupted
import again reads the source from the start and writes only what is missing; running a finished one again
writes nothing. A memory whose exact text its scope and speaker already hold under another id is not stored
again (mnemo's exact-duplicate rule); the report counts it.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any

from mnemo.domain.memories import Scope, index_fields, index_text
from mnemo.pipeline.import_sources import Source
from mnemo.providers.embedding.base import Vectors
from mnemo.providers.embedding.batcher import EmbeddingBatcher
from mnemo.storage import Database, KeptMemory, NewMemory, ProjectData

#: Lifecycle states a memory may bring along (mnemo's ``lifecycle_state``); anything else reads as active.
_STATES = ("active", "superseded")
#: How many reasons for refused items the report keeps.
_PROBLEMS_KEPT = 5


class InvalidMemory(ValueError):
    """An item of the source that is not a memory mnemo can store as it is."""


@dataclass(slots=True)
class ImportReport:
    """What an import read and did, so far."""

    read: int = 0
    written: int = 0
    #: already in the project under the same id (an earlier run, or listed under two entities)
    existing: int = 0
    #: same text, scope and speaker as a memory the project holds under another id
    duplicates: int = 0
    invalid: int = 0
    problems: list[str] = field(default_factory=list)

    def refuse(self, reason: str) -> None:
        self.invalid += 1
        if len(self.problems) < _PROBLEMS_KEPT:
            self.problems.append(reason)


@dataclass(frozen=True, slots=True)
class SourceMemory:
    """One memory as its source holds it."""

    id: uuid.UUID
    text: str
    scope: Scope
    metadata: dict[str, Any] | None
    categories: list[str]
    created_at: datetime
    updated_at: datetime
    expiration_date: date | None
    immutable: bool
    attributed_to: str | None
    actor_name: str | None
    replaced_by: uuid.UUID | None
    state: str

    def kept(self, vector: Vectors) -> KeptMemory:
        index = index_fields(self.text, speaker=self.actor_name, observed_at=self.created_at)
        memory = NewMemory(
            scope=self.scope,
            text=self.text,
            index=index,
            embedding=vector,
            metadata=self.metadata,
            created_at=self.created_at,
            categories=self.categories,
            immutable=self.immutable,
            expiration_date=self.expiration_date,
            attributed_to=self.attributed_to,
            actor_name=self.actor_name,
        )
        return KeptMemory(self.id, memory, self.updated_at, self.replaced_by, self.state)


def parse_memory(item: Any) -> SourceMemory:
    """Read one item of a get-all page or export; :class:`InvalidMemory` says what is wrong with it."""
    if not isinstance(item, dict):
        raise InvalidMemory(f"an item is a {type(item).__name__}, not a memory object")
    memory_id = _uuid(item.get("id"), "id")
    if memory_id is None:
        raise InvalidMemory("a memory has no id")
    try:
        text = next(v for k in ("memory", "text", "content") if isinstance(v := item.get(k), str) and v.strip())
    except StopIteration:
        raise InvalidMemory(f"memory {memory_id} has no text (memory)") from None
    metadata = item.get("metadata")
    categories = item.get("categories") or []
    if metadata is not None and not isinstance(metadata, dict):
        raise InvalidMemory(f"memory {memory_id}: metadata is not an object")
    if not isinstance(categories, list):
        raise InvalidMemory(f"memory {memory_id}: categories is not a list")
    scope = Scope(*(_entity(item, name) for name in ("user_id", "agent_id", "app_id", "run_id")))
    created_at = _moment(item.get("created_at"), memory_id, "created_at") or datetime.now(UTC)
    replaced_by = _uuid(item.get("replaced_by"), "replaced_by", memory_id)
    state = item.get("lifecycle_state")
    parsed = SourceMemory(
        id=memory_id,
        text=text,
        scope=scope,
        metadata=metadata,
        categories=[str(category) for category in categories],
        created_at=created_at,
        updated_at=_moment(item.get("updated_at"), memory_id, "updated_at") or created_at,
        expiration_date=_day(item.get("expiration_date"), memory_id),
        immutable=item.get("immutable") is True,
        attributed_to=_text_or_none(item.get("attributed_to")),
        actor_name=_text_or_none(item.get("actor_name")),
        replaced_by=replaced_by,
        state=state if state in _STATES else ("superseded" if replaced_by else "active"),
    )
    _check_storable([parsed.text, parsed.metadata, parsed.categories, scope.as_dict(), parsed.actor_name], memory_id)
    return parsed


def _uuid(value: Any, name: str, of: uuid.UUID | None = None) -> uuid.UUID | None:
    if value is None or value == "":
        return None
    try:
        return uuid.UUID(str(value))
    except ValueError:
        where = f"memory {of}: " if of else ""
        raise InvalidMemory(f"{where}{name} {str(value)[:60]!r} is not a UUID") from None


def _entity(item: dict[str, Any], name: str) -> str | None:
    value = item.get(name)
    if value is None and name == "run_id":
        value = item.get("session_id")  # how v3 get-all names the run
    return _text_or_none(value)


def _text_or_none(value: Any) -> str | None:
    if value is None or isinstance(value, bool) or not isinstance(value, str | int):
        return None
    return str(value) or None


def _moment(value: Any, memory_id: uuid.UUID, name: str) -> datetime | None:
    if value is None or value == "":
        return None
    try:
        if isinstance(value, int | float) and not isinstance(value, bool):
            return datetime.fromtimestamp(value, UTC)
        moment = datetime.fromisoformat(str(value))
    except (ValueError, OverflowError, OSError):
        raise InvalidMemory(f"memory {memory_id}: {name} {str(value)[:40]!r} is not an ISO 8601 time") from None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _day(value: Any, memory_id: uuid.UUID) -> date | None:
    if value is None or value == "":
        return None
    try:
        return date.fromisoformat(str(value)[:10])
    except ValueError:
        raise InvalidMemory(f"memory {memory_id}: expiration_date {str(value)[:40]!r} is not a date") from None


def _check_storable(value: Any, memory_id: uuid.UUID) -> None:
    """PostgreSQL stores neither NUL characters nor unpaired surrogates."""
    if isinstance(value, str):
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            raise InvalidMemory(f"memory {memory_id} holds an unpaired UTF-16 surrogate") from None
        if "\x00" in value:
            raise InvalidMemory(f"memory {memory_id} holds a NUL character")
    elif isinstance(value, dict):
        for key, item in value.items():
            _check_storable(key, memory_id)
            _check_storable(item, memory_id)
    elif isinstance(value, list):
        for item in value:
            _check_storable(item, memory_id)


class Importer:
    """Writes a source's memories into one project."""

    def __init__(self, db: Database, project_id: str, batcher: EmbeddingBatcher) -> None:
        self.data = ProjectData(db, project_id)
        self.batcher = batcher

    async def run(self, source: Source, progress: Callable[[ImportReport, int | None], None]) -> ImportReport:
        """Import every memory of ``source``; ``progress`` is called after each page with the report so far
        and the number of memories the source announced (``None`` if it did not say)."""
        report = ImportReport()
        total = await source.total()
        progress(report, total)
        async for page in source.pages():
            fresh: dict[uuid.UUID, SourceMemory] = {}
            for item in page:
                report.read += 1
                try:
                    memory = parse_memory(item)
                except InvalidMemory as exc:
                    report.refuse(str(exc))
                    continue
                if memory.id in fresh:
                    report.existing += 1
                else:
                    fresh[memory.id] = memory
            await self._write(list(fresh.values()), report)
            progress(report, total)
        return report

    async def _write(self, memories: list[SourceMemory], report: ImportReport) -> None:
        if not memories:
            return
        async with self.data.reading() as tables:
            held = await tables.memories.existing_ids([memory.id for memory in memories])
        report.existing += len(held)
        todo = [memory for memory in memories if memory.id not in held]
        if not todo:
            return
        vectors = await self.batcher.embed([index_text(memory.text, memory.actor_name) for memory in todo])
        kept = [memory.kept(vector) for memory, vector in zip(todo, vectors, strict=True)]
        async with self.data.transaction() as tables:
            written = await tables.memories.insert_kept(kept)
        report.written += len(written)
        report.duplicates += len(todo) - len(written)
