"""The add pipeline: extract facts (infer=true) or take messages verbatim, embed, store."""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from mnemo.domain.entities import extract_entities, key_terms
from mnemo.domain.memories import MemoryRecord, Scope, embedding_text, index_text, text_hash
from mnemo.domain.relative_dates import find_dates
from mnemo.domain.selection import compile_selection
from mnemo.errors import MnemoError
from mnemo.pipeline import claims
from mnemo.pipeline.commands import AddCommand, AddLimits, parse_add, parse_categories
from mnemo.pipeline.extraction import (
    ExistingMemory,
    ExtractionRequest,
    ExtractionResult,
    ExtractionUnavailable,
    Extractor,
    Fact,
    Message,
)
from mnemo.pipeline.offline_extractor import OfflineExtractor
from mnemo.providers.embedding.base import Vectors
from mnemo.providers.embedding.batcher import EmbeddingBatcher
from mnemo.storage.project_store import Conn, NewMemory, ProjectStore, ReadOptions
from mnemo.storage.queue import Job, JobQueue

logger = logging.getLogger(__name__)

#: How many of the scope's most similar memories the extractor sees.
_CONTEXT_MEMORIES = 10
#: How many earlier adds, and at most how many of their messages, the extractor sees as recent context.
_CONTEXT_ADDS = 5
_CONTEXT_MESSAGES = 10
#: How many of the scope's current memories (newest first) that may state a claim's attribute are compared
#: with a new fact's claims (offline supersede).
_CLAIM_CANDIDATES = 200


class ExtractorChoice(Protocol):
    """Which extractor runs a project's adds, and which one it falls back to when it stays unreachable."""

    def for_project(self, project_settings: Mapping[str, Any]) -> tuple[Extractor, Extractor | None]:
        """Raises :class:`~mnemo.pipeline.extraction.ExtractionFailed` when the project's choice is unusable."""
        ...


@dataclass(frozen=True, slots=True)
class _ClaimLinks:
    """What a new memory's claims supersede (offline), decided before the write transaction."""

    #: current memories dated no later than the new one that it replaces
    older: list[uuid.UUID]
    #: the earliest current memory dated after the new one that replaces it (adds processed out of order)
    newer: uuid.UUID | None


@dataclass(frozen=True, slots=True)
class Outcome:
    """What one add wrote, and the numbers behind it."""

    written: list[MemoryRecord]
    metadata: dict[str, Any]


def add_result(record: MemoryRecord) -> dict[str, Any]:
    """One item of an add's ``results`` (spec §2.2, §6): both ``data.memory`` and ``memory``."""
    return {
        "id": str(record.id),
        "event": "ADD",
        "data": {"memory": record.memory},
        "memory": record.memory,
        **record.scope.as_dict(),
    }


class Ingestor:
    """Runs adds. Verbatim adds run in the request; inferred adds run in a worker job."""

    def __init__(
        self,
        batcher: EmbeddingBatcher,
        extractors: ExtractorChoice,
        *,
        same_meaning: float = 0.92,
        context_messages: int = 2,
    ) -> None:
        self.batcher = batcher
        self.extractors = extractors
        #: An extracted fact this similar (cosine) to a memory of its scope is already known: not stored.
        self.same_meaning = same_meaning
        #: How many messages that preceded a memory in its conversation it is embedded with.
        self.context_messages = context_messages

    async def prepare_verbatim(self, store: ProjectStore, command: AddCommand) -> list[NewMemory]:
        """infer=false: every user and assistant message becomes one memory (embedded here, outside any
        transaction); :meth:`write_verbatim` stores them.

        A message is embedded together with the messages that preceded it in its conversation (this
        add's earlier messages, then the scope's previous adds): a reply such as "Yes, last Tuesday!"
        is found by what it answers. The stored text is the message alone.
        """
        kept = [m for m in command.messages if m.role != "system" and m.content.strip()]
        if not kept:
            return []
        earlier = await self._recent_messages(store, command, before=None) if self.context_messages else []
        window = self._context_window([index_text(m.content, m.name) for m in earlier])
        inputs = []
        for message in kept:
            own = index_text(message.content, message.name)
            inputs.append(embedding_text(own, window))
            window = self._context_window([*window, own])
        vectors = await self.batcher.embed(inputs)
        drafts = [(m.content, m.role, m.name) for m in kept]
        return self._drafted(command, command.scope, drafts, vectors)

    async def write_verbatim(
        self,
        store: ProjectStore,
        conn: Conn,
        command: AddCommand,
        memories: list[NewMemory],
        payload: dict[str, Any],
    ) -> tuple[uuid.UUID, Outcome]:
        """Inside the caller's transaction: insert the memories and their SUCCEEDED event."""
        event_id = uuid.uuid4()
        written = await store.insert_memories(
            conn, memories, event_id=event_id, history_input=_history_input(command.messages)
        )
        results = [add_result(r) for r in written]
        await store.create_event(
            conn,
            event_type="ADD",
            status="SUCCEEDED",
            payload=payload,
            results=results,
            event_id=event_id,
            scope=command.scope,
        )
        return event_id, Outcome(written, {"duplicates_skipped": len(memories) - len(written)})

    async def run_job(self, store: ProjectStore, queue: JobQueue, job: Job, command: AddCommand) -> Outcome:
        """infer=true: extract facts, embed them, and finish the job in one transaction."""
        started = time.perf_counter()
        existing = await self._similar_memories(store, command)
        refs = {str(index): record.id for index, record in enumerate(existing)}
        project = await store.project_settings()
        extractor, fallback = self.extractors.for_project(project)
        request = ExtractionRequest(
            messages=command.messages,
            observed_at=command.observed_at,
            recent_messages=await self._recent_messages(store, command, before=job.event_id),
            existing_memories=[ExistingMemory(ref, record.memory) for ref, record in zip(refs, existing, strict=True)],
            custom_instructions=command.custom_instructions or project.get("custom_instructions") or None,
            agent_custom_instructions=(
                command.agent_custom_instructions or project.get("agent_custom_instructions") or None
            ),
            categories=command.custom_categories or parse_categories(project.get("custom_categories")),
            agent_perspective=bool(command.scope.agent_id and not command.scope.user_id),
        )
        last_attempt = job.attempts >= job.max_attempts
        extraction, used, extractor_name = await self._extract(request, extractor, fallback, last_attempt=last_attempt)
        extracted_ms = (time.perf_counter() - started) * 1000
        facts = _unique(extraction.facts)
        drafted: list[tuple[Fact, NewMemory]] = []
        speakers = _speaker_names(command.messages)
        # A fact in the conversation's own wording is embedded with the messages before the add's last one.
        before = [] if used.self_contained else [*request.recent_messages, *command.messages[:-1]]
        context = [index_text(m.content, m.name) for m in before if m.role != "system"]
        for fact in facts:
            scope = _scope_for(fact, command.scope)
            draft = (fact.text, fact.attributed_to, speakers.get(fact.attributed_to))
            (memory,) = await self._new_memories(command, scope, [draft], fact.categories, context=context)
            drafted.append((fact, memory))
        kept = [(fact, memory) for fact, memory in drafted if not await self._known(store, memory)]
        facts = [fact for fact, _ in kept]
        memories = [memory for _, memory in kept]
        # The LLM links the memories a fact replaces; the offline extractor's facts are linked by their claims.
        links = await self._claim_links(store, memories) if isinstance(used, OfflineExtractor) else {}
        async with store.transaction() as conn:
            await queue.hold(conn, job)
            written = await store.insert_memories(
                conn, memories, event_id=job.event_id, history_input=_history_input(command.messages)
            )
            superseded = await self._supersede(store, conn, facts, memories, written, refs)
            superseded += await self._supersede_by_claims(store, conn, written, links)
            metadata: dict[str, Any] = {
                "extractor": extractor_name,
                "facts_extracted": len(extraction.facts),
                "memories_written": len(written),
                "duplicates_skipped": len(memories) - len(written),
                "same_meaning_skipped": len(drafted) - len(kept),
                "superseded": superseded,
                "extraction_ms": round(extracted_ms, 2),
            }
            if extraction.usage is not None:
                metadata["llm"] = {
                    "calls": extraction.usage.calls,
                    "prompt_tokens": extraction.usage.prompt_tokens,
                    "completion_tokens": extraction.usage.completion_tokens,
                    "latency_ms": round(extraction.usage.latency_ms, 2),
                }
            await queue.succeed(conn, job, [add_result(r) for r in written], metadata)
        return Outcome(written, metadata)

    async def _extract(
        self, request: ExtractionRequest, extractor: Extractor, fallback: Extractor | None, *, last_attempt: bool
    ) -> tuple[ExtractionResult, Extractor, str]:
        """The extraction, the extractor that made it, and the name the event records."""
        try:
            return await extractor.extract(request), extractor, extractor.name
        except ExtractionUnavailable as exc:
            if not last_attempt or fallback is None:
                raise
            logger.warning("extractor %s unavailable on the last attempt (%s); falling back", extractor.name, exc)
            return await fallback.extract(request), fallback, f"{fallback.name} (fallback: {exc})"

    async def _known(self, store: ProjectStore, memory: NewMemory) -> bool:
        """True when the scope already holds a memory of the same meaning: cosine ≥ the dedup bound and
        the same numbers and names (embeddings barely tell "2 kids" from "3 kids")."""
        if self.same_meaning >= 1.0:
            return False
        scope = {key: value for key, value in memory.scope.as_dict().items() if value}
        where, params = compile_selection(scope)
        async with store.connection() as conn:
            hits = await store.nearest_candidates(conn, memory.embedding, where, params, ReadOptions(), limit=1)
        if not hits or hits[0].similarity < self.same_meaning:
            return False
        known = hits[0].record.memory
        return key_terms(known) == key_terms(memory.text) and not claims.contradicts(memory.text, known)

    async def _recent_messages(
        self, store: ProjectStore, command: AddCommand, *, before: uuid.UUID | None
    ) -> list[Message]:
        """The scope's last few messages before the add of event ``before`` (or before now), oldest first."""
        async with store.connection() as conn:
            payloads = await store.recent_add_payloads(conn, command.scope, before, limit=_CONTEXT_ADDS)
        messages: list[Message] = []
        for payload in reversed(payloads):
            try:
                messages.extend(parse_add(payload, AddLimits()).messages)
            except MnemoError:
                continue  # an old payload that no longer validates is not context worth failing for
        return [m for m in messages if m.role != "system"][-_CONTEXT_MESSAGES:]

    async def _similar_memories(self, store: ProjectStore, command: AddCommand) -> list[MemoryRecord]:
        """The memories of the add's scope closest to its messages: context for the extractor."""
        text = "\n".join(m.content for m in command.messages if m.role != "system")
        if not text.strip():
            return []
        scope = {key: value for key, value in command.scope.as_dict().items() if value}
        where, params = compile_selection(scope)
        vector = await self.batcher.embed_one(text)
        async with store.connection() as conn:
            hits = await store.nearest_candidates(conn, vector, where, params, ReadOptions(), limit=_CONTEXT_MEMORIES)
        return [hit.record for hit in hits]

    async def _supersede(
        self,
        store: ProjectStore,
        conn: Conn,
        facts: Sequence[Fact],
        memories: Sequence[NewMemory],
        written: Sequence[MemoryRecord],
        refs: dict[str, uuid.UUID],
    ) -> int:
        """Mark existing memories that a new fact replaces as superseded by it (nothing is deleted)."""
        by_hash = {record.hash: record for record in written}
        count = 0
        for fact, memory in zip(facts, memories, strict=True):
            new = by_hash.get(memory.hash)
            old_ids = [refs[ref] for ref in fact.linked_refs if ref in refs]
            if new is not None and old_ids:
                count += await store.supersede(conn, old_ids, new.id)
        return count

    async def _claim_links(self, store: ProjectStore, memories: Sequence[NewMemory]) -> dict[str, _ClaimLinks]:
        """For each new memory stating a claim (subject, attribute, value): the current memories of exactly its
        scope that state the same subject and attribute with another value. The later-dated one of each pair
        supersedes the earlier one, provided the earlier one's claim is all it says (see mnemo.pipeline.claims).
        Keyed by the new memory's hash."""
        links: dict[str, _ClaimLinks] = {}
        for memory in memories:
            found = claims.claims_in(memory.text)
            if not found:
                continue
            candidates = await self._claim_candidates(store, memory, found)
            older = [
                record.id
                for record in candidates
                if record.created_at <= memory.created_at and claims.supersedes(memory.text, record.memory)
            ]
            newer = [
                record
                for record in candidates
                if record.created_at > memory.created_at and claims.supersedes(record.memory, memory.text)
            ]
            if older or newer:
                first = min(newer, key=lambda record: record.created_at).id if newer else None
                links[memory.hash] = _ClaimLinks(older, first)
        return links

    async def _claim_candidates(
        self, store: ProjectStore, memory: NewMemory, found: Sequence[claims.Claim]
    ) -> list[MemoryRecord]:
        """Current memories of exactly the memory's scope that name the claims' subject and may state one of
        their attributes (their text contains one of the attributes' cue words), newest first."""
        parts: list[dict[str, Any]] = [
            {key: value} if value else {"NOT": {key: "*"}} for key, value in memory.scope.as_dict().items()
        ]
        parts.append({"OR": [{"text": {"icontains": subject}} for subject in {claim.subject for claim in found}]})
        parts.append({"OR": [{"text": {"icontains": cue}} for cue in claims.cues_for(found)]})
        where, params = compile_selection({"AND": parts})
        async with store.connection() as conn:
            _, records = await store.list_memories(
                conn, where, params, ReadOptions(latest_only=True), offset=0, limit=_CLAIM_CANDIDATES
            )
        return records

    async def _supersede_by_claims(
        self, store: ProjectStore, conn: Conn, written: Sequence[MemoryRecord], links: Mapping[str, _ClaimLinks]
    ) -> int:
        count = 0
        for record in written:
            link = links.get(record.hash)
            if link is None:
                continue
            if link.older:
                count += await store.supersede(conn, link.older, record.id)
            if link.newer is not None:
                count += await store.supersede(conn, [record.id], link.newer)
        return count

    async def _new_memories(
        self,
        command: AddCommand,
        scope: Scope,
        drafts: Sequence[tuple[str, str, str | None]],
        categories: Sequence[str] = (),
        *,
        context: Sequence[str] = (),
    ) -> list[NewMemory]:
        """Memories for ``drafts`` (text, role, speaker), each embedded with the last messages of ``context``."""
        if not drafts:
            return []
        window = self._context_window(context)
        vectors = await self.batcher.embed([embedding_text(index_text(text, name), window) for text, _, name in drafts])
        return self._drafted(command, scope, drafts, vectors, categories)

    def _context_window(self, messages: Sequence[str]) -> list[str]:
        """The last ``context_messages`` of ``messages`` (none when context is off: ``[-0:]`` is everything)."""
        return list(messages[-self.context_messages :]) if self.context_messages else []

    def _drafted(
        self,
        command: AddCommand,
        scope: Scope,
        drafts: Sequence[tuple[str, str, str | None]],
        vectors: Vectors,
        categories: Sequence[str] = (),
    ) -> list[NewMemory]:
        return [
            NewMemory(
                scope=scope,
                text=text,
                hash=text_hash(text),
                embedding=vector,
                metadata=command.metadata,
                created_at=command.observed_at,
                immutable=command.immutable,
                expiration_date=command.expiration_date,
                attributed_to=role,
                actor_name=name,
                categories=categories,
                entities=extract_entities(text, speaker=name),
                dates=[(span.start, span.end) for span in find_dates(text, command.observed_at)],
            )
            for (text, role, name), vector in zip(drafts, vectors, strict=True)
        ]


def _unique(facts: Sequence[Fact]) -> list[Fact]:
    seen: set[str] = set()
    unique = []
    for fact in facts:
        if fact.text not in seen:
            seen.add(fact.text)
            unique.append(fact)
    return unique


def _scope_for(fact: Fact, scope: Scope) -> Scope:
    """A fact is stored under its speaker: user facts under user_id, assistant facts under agent_id."""
    if scope.user_id and scope.agent_id:
        if fact.attributed_to == "assistant":
            return Scope(None, scope.agent_id, scope.app_id, scope.run_id)
        return Scope(scope.user_id, None, scope.app_id, scope.run_id)
    return scope


def _speaker_names(messages: Sequence[Message]) -> dict[str, str]:
    """The name each role speaks under in this add, when the messages give one (first one wins)."""
    names: dict[str, str] = {}
    for message in messages:
        if message.name and message.role != "system":
            names.setdefault(message.role, message.name)
    return names


def _history_input(messages: Sequence[Message]) -> list[dict[str, Any]]:
    return [{"role": m.role, "content": m.content} for m in messages]
