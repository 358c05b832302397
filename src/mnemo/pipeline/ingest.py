"""The add pipeline: extract facts (infer=true) or take messages verbatim, embed, and say what to store.

The ingestor decides what an add writes; its callers own the connection: the add route for a
verbatim add (:meth:`Ingestor.prepare_verbatim`, then :meth:`Ingestor.write_verbatim`, one statement, on
an autocommit connection or inside the transaction that records an idempotency key), the worker for an
inferred one (:meth:`Ingestor.plan_job` outside any transaction, then :meth:`Ingestor.write_job` inside the
one that finishes the job).
"""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any, Literal, Protocol, TypeVar

from mnemo.domain.entities import key_terms
from mnemo.domain.memories import ContextMode, MemoryRecord, Scope, add_result, index_fields, index_text
from mnemo.domain.projects import ProjectSettings
from mnemo.domain.selection import within_scope
from mnemo.errors import MnemoError
from mnemo.observability import metrics
from mnemo.pipeline import claims
from mnemo.pipeline.commands import AddCommand, AddLimits, add_messages, parse_categories
from mnemo.pipeline.extraction import (
    ExistingMemory,
    ExtractionRequest,
    ExtractionResult,
    ExtractionUnavailable,
    Extractor,
    Fact,
    Message,
    Speaker,
)
from mnemo.pipeline.in_context import Backlog, ContextEmbedder, Target, told_texts
from mnemo.pipeline.media import MediaReader, ReadMedia
from mnemo.pipeline.offline_extractor import OfflineExtractor, off_the_loop
from mnemo.pipeline.supersede import ClaimLinks, claim_links, supersede_by_claims
from mnemo.providers.embedding.base import Vectors
from mnemo.providers.embedding.batcher import EmbeddingBatcher
from mnemo.storage import NewMemory, ProjectData, ProjectTables, ReadOptions

logger = logging.getLogger(__name__)

_T = TypeVar("_T")

#: How many of the scope's most similar memories the extractor sees.
_CONTEXT_MEMORIES = 10
#: How many earlier adds, and at most how many of their messages, the extractor sees as recent context.
_CONTEXT_ADDS = 5
_CONTEXT_MESSAGES = 10
#: How many messages back a memory records the adds of, as its neighbours in the conversation (mnemo.domain.neighbours).
_NEIGHBOUR_MESSAGES = 4


class ExtractorChoice(Protocol):
    """Which extractor runs a project's adds, and which one it falls back to when it stays unreachable."""

    def for_project(self, project_settings: ProjectSettings) -> tuple[Extractor, Extractor | None]:
        """Raises :class:`~mnemo.pipeline.extraction.ExtractionFailed` when the project's choice is unusable."""
        ...


@dataclass(frozen=True, slots=True)
class _Said:
    """A message said before a memory's in its conversation, and the add it came with (None: the memory's own add)."""

    message: Message
    event: uuid.UUID | None


def _events(earlier: Sequence[_Said]) -> tuple[uuid.UUID, ...]:
    """A memory's ``context_events``: the earlier adds that the last :data:`_NEIGHBOUR_MESSAGES` messages before
    it came with."""
    return tuple(dict.fromkeys(said.event for said in earlier[-_NEIGHBOUR_MESSAGES:] if said.event is not None))


@dataclass(frozen=True, slots=True)
class Outcome:
    """What one add wrote: the memories, the event's ``results`` and its metadata."""

    written: list[MemoryRecord]
    results: list[dict[str, Any]]
    metadata: dict[str, Any]


@dataclass(frozen=True, slots=True)
class JobPlan:
    """What an inferred add will write, decided before its transaction."""

    event_id: uuid.UUID
    input_messages: list[dict[str, Any]]
    facts: list[Fact]
    memories: list[NewMemory]
    #: the temporary refs the extractor saw → the ids of those existing memories
    refs: dict[str, uuid.UUID]
    #: offline supersede links of the new memories, by hash
    links: dict[str, ClaimLinks]
    #: the event's metadata, without the counts known only after the write
    metadata: dict[str, Any]


class Ingestor:
    """Runs adds. Verbatim adds run in the request; inferred adds run in a worker job."""

    def __init__(
        self,
        batcher: EmbeddingBatcher,
        extractors: ExtractorChoice,
        *,
        limits: AddLimits,
        media: MediaReader | None = None,
        same_meaning: float = 0.92,
        context_messages: int = 2,
        context_mode: ContextMode = "joint",
        backlog: Backlog | None = None,
    ) -> None:
        self.batcher = batcher
        #: Embeds a memory with the messages said before it (mnemo.pipeline.in_context).
        self.in_context = ContextEmbedder(batcher, context_mode, backlog=backlog)
        self.extractors = extractors
        #: Reads the parts of messages beyond text (documents, images) in the worker.
        self.media = media or MediaReader()
        #: What a stored add payload is re-read with: the limits it was accepted under.
        self.limits = limits
        #: An extracted fact this similar (cosine) to a memory of its scope is already known: not stored.
        self.same_meaning = same_meaning
        #: How many messages that preceded a memory in its conversation it is embedded with.
        self.context_messages = context_messages

    # --- verbatim (infer=false) --------------------------------------------------------------

    async def prepare_verbatim(self, data: ProjectData, command: AddCommand) -> list[NewMemory]:
        """infer=false: every user and assistant message becomes one memory (embedded here, outside any
        transaction); :meth:`write_verbatim` stores them.

        A message is embedded together with the messages that preceded it in its conversation (this
        add's earlier messages, then the scope's previous adds): a reply such as "Yes, last Tuesday!"
        is found by what it answers. The stored text is the message alone. Of the message itself, only the sentences
        that tell something are embedded (:func:`told`: "Thanks, Mel! How are you? I adopted a puppy." is embedded as
        "I adopted a puppy."), and a message that tells nothing is marked as small talk: a search ranks it below
        what was told.
        """
        kept = [m for m in command.messages if m.role != "system" and m.content.strip()]
        if not kept:
            return []
        # Read even with context embeddings off: the adds before a memory are its neighbours (mnemo.domain.neighbours).
        earlier = await self._recent(data, command, before=None)
        said = [_Said(m, event) for event, m in earlier]
        judged = await off_the_loop(kept, told_texts, kept)
        targets, contexts = [], []
        for message, (own, _) in zip(kept, judged, strict=True):
            targets.append(Target(own, [s.message for s in self._context_window(said)], said=message))
            contexts.append(_events(said))
            said.append(_Said(message, None))
        vectors, later = await self.in_context.quick(data.project_id, targets)
        drafts = [(m.content, m.role, m.name) for m in kept]
        memories = await off_the_loop(kept, self._drafted, command, command.scope, drafts, vectors, contexts=contexts)
        return [
            replace(memory, small_talk=chatter, joint_input=joint)
            for memory, (_, chatter), joint in zip(memories, judged, later, strict=True)
        ]

    async def write_verbatim(
        self, tables: ProjectTables, command: AddCommand, memories: list[NewMemory], payload: dict[str, Any]
    ) -> tuple[uuid.UUID, Outcome]:
        """Insert the memories and their SUCCEEDED event, in one statement (:meth:`MemoryStore.insert_add`): on an
        autocommit connection or inside the caller's transaction."""
        event_id = uuid.uuid4()
        written = await tables.memories.insert_add(
            memories,
            event_id=event_id,
            input_messages=_input_messages(command.messages),
            payload=payload,
            scope=command.scope,
        )
        results = [add_result(r) for r in written]
        return event_id, Outcome(written, results, {"duplicates_skipped": len(memories) - len(written)})

    # --- inferred (infer=true) ---------------------------------------------------------------

    async def plan_job(
        self,
        data: ProjectData,
        command: AddCommand,
        *,
        event_id: uuid.UUID,
        last_attempt: bool,
        project: ProjectSettings | None = None,
    ) -> JobPlan:
        """infer=true, outside any transaction: extract facts, embed them, drop those already known, and
        link the ones that replace existing memories. On the ``last_attempt``, an unreachable extractor
        gives way to the project's fallback.

        A verbatim add (infer=false) comes here only when its messages carry documents or images: they are read
        here, and the messages and document chunks are stored verbatim (:meth:`_verbatim_plan`).

        ``project``: the project's settings when the caller has them (a claimed job carries them), else read here."""
        if project is None:
            project = await data.settings()
        media = await self.media.read(command.messages, project) if command.has_media else None
        if media is not None:
            command = replace(command, messages=media.messages)
        if not command.infer:
            return await self._verbatim_plan(data, command, event_id, media)
        started = time.perf_counter()
        extractor, fallback = self.extractors.for_project(project)
        # The offline rules read no existing memories (and link none by ref): no embedding and no scan for them.
        existing = [] if isinstance(extractor, OfflineExtractor) else await self._similar_memories(data, command)
        refs = {str(index): record.id for index, record in enumerate(existing)}
        recent = await self._recent(data, command, before=event_id)
        request = ExtractionRequest(
            messages=command.messages,
            observed_at=command.observed_at,
            recent_messages=[message for _, message in recent],
            existing_memories=[ExistingMemory(ref, record.memory) for ref, record in zip(refs, existing, strict=True)],
            custom_instructions=command.custom_instructions or project.custom_instructions or None,
            agent_custom_instructions=command.agent_custom_instructions or project.agent_custom_instructions or None,
            categories=command.custom_categories or parse_categories(project.custom_categories),
            agent_perspective=bool(command.scope.agent_id and not command.scope.user_id),
            includes=command.includes,
            excludes=command.excludes,
        )
        extraction, used, extractor_name = await self._extract(request, extractor, fallback, last_attempt=last_attempt)
        extracted_ms = (time.perf_counter() - started) * 1000
        facts = _unique(extraction.facts)
        speakers = _speaker_names(command.messages)
        # A fact in the conversation's own wording is embedded with the messages before the add's last one.
        said = [_Said(m, event) for event, m in recent]
        said += [_Said(m, None) for m in command.messages[:-1] if m.role != "system"]
        window = self._context_window(said)
        context = [] if used.self_contained else [s.message for s in window]
        drafts = [(fact.text, fact.attributed_to, speakers.get(fact.attributed_to)) for fact in facts]
        vectors = await self._embedded(data, drafts, context)  # the add's facts in one batch
        drafted: list[tuple[Fact, NewMemory]] = []
        for i, (fact, draft) in enumerate(zip(facts, drafts, strict=True)):
            scope = _scope_for(fact, command.scope)
            (memory,) = self._drafted(
                command, scope, [draft], vectors[i : i + 1], fact.categories, contexts=[_events(said)]
            )
            drafted.append((fact, memory))
        known = await self._known_all(data, [memory for _, memory in drafted])
        kept = [pair for pair, seen in zip(drafted, known, strict=True) if not seen]
        kept += await self._chunk_memories(data, command, media)
        memories = [memory for _, memory in kept]
        # The LLM links the memories a fact replaces; the offline extractor's facts are linked by their claims.
        links = await claim_links(data, memories) if isinstance(used, OfflineExtractor) else {}
        metadata: dict[str, Any] = {
            "extractor": extractor_name,
            "facts_extracted": len(extraction.facts),
            "same_meaning_skipped": len(drafted) - len(kept),
            "extraction_ms": round(extracted_ms, 2),
        }
        if extraction.usage is not None:
            metadata["llm"] = {
                "calls": extraction.usage.calls,
                "prompt_tokens": extraction.usage.prompt_tokens,
                "completion_tokens": extraction.usage.completion_tokens,
                "latency_ms": round(extraction.usage.latency_ms, 2),
            }
        if media is not None:
            metadata["media"] = media.report
        return JobPlan(
            event_id=event_id,
            input_messages=_input_messages(command.messages),
            facts=[fact for fact, _ in kept],
            memories=memories,
            refs=refs,
            links=links,
            metadata=metadata,
        )

    async def _verbatim_plan(
        self, data: ProjectData, command: AddCommand, event_id: uuid.UUID, media: ReadMedia | None
    ) -> JobPlan:
        """infer=false with documents or images, in the worker: each message (its images described) and each
        document chunk becomes one memory verbatim."""
        memories = await self.prepare_verbatim(data, command)
        kept = [(Fact(m.text, _speaker(m.attributed_to)), m) for m in memories]
        kept += await self._chunk_memories(data, command, media)
        return JobPlan(
            event_id=event_id,
            input_messages=_input_messages(command.messages),
            facts=[fact for fact, _ in kept],
            memories=[memory for _, memory in kept],
            refs={},
            links={},
            metadata={"extractor": "verbatim", "media": media.report if media else []},
        )

    async def _chunk_memories(
        self, data: ProjectData, command: AddCommand, media: ReadMedia | None
    ) -> list[tuple[Fact, NewMemory]]:
        """One memory per document chunk, under its speaker's scope, embedded on its own."""
        drafted = []
        for chunk in media.chunks if media else []:
            fact = Fact(chunk.text, _speaker(chunk.role))
            draft = (chunk.text, fact.attributed_to, chunk.name)
            (memory,) = self._drafted(
                command, _scope_for(fact, command.scope), [draft], await self._embedded(data, [draft], ())
            )
            drafted.append((fact, memory))
        return drafted

    async def write_job(self, tables: ProjectTables, plan: JobPlan) -> Outcome:
        """Inside the transaction that finishes the job: insert the new memories and supersede the ones they
        replace (the LLM's links, then the offline claims' links)."""
        written = await tables.memories.insert(
            plan.memories, event_id=plan.event_id, input_messages=plan.input_messages
        )
        by_hash = {record.hash: record for record in written}
        superseded = 0
        for fact, memory in zip(plan.facts, plan.memories, strict=True):
            new = by_hash.get(memory.hash)
            old_ids = [plan.refs[ref] for ref in fact.linked_refs if ref in plan.refs]
            if new is not None and old_ids:
                superseded += await tables.memories.supersede(old_ids, new.id)
        superseded += await supersede_by_claims(tables, written, plan.links)
        metadata = {
            **plan.metadata,
            "memories_written": len(written),
            "duplicates_skipped": len(plan.memories) - len(written),
            "superseded": superseded,
        }
        return Outcome(written, [add_result(r) for r in written], metadata)

    async def _extract(
        self, request: ExtractionRequest, extractor: Extractor, fallback: Extractor | None, *, last_attempt: bool
    ) -> tuple[ExtractionResult, Extractor, str]:
        """The extraction, the extractor that made it, and the name the event records."""
        try:
            return await _timed(extractor, request), extractor, extractor.name
        except ExtractionUnavailable as exc:
            if not last_attempt or fallback is None:
                raise
            logger.warning("extractor %s unavailable on the last attempt (%s); falling back", extractor.name, exc)
            return await _timed(fallback, request), fallback, f"{fallback.name} (fallback: {exc})"

    async def _known_all(self, data: ProjectData, memories: Sequence[NewMemory]) -> list[bool]:
        """For each memory, True when its scope already holds a memory of the same meaning: cosine ≥ the
        dedup bound, the same numbers and names (embeddings barely tell "2 kids" from "3 kids"), and the two texts
        alone still at the bound. One statement per scope among them, and one batch of embeddings for the matches.

        The texts alone: a memory's vector carries the messages said before it, and the facts of one exchange
        share those. With multilingual-e5-small, whose cosines crowd together, different facts of one conversation
        came out at 0.96-0.97 that way ("Melanie made this bowl in their class." and "Melanie is a big fan of
        pottery ..."), and 72 facts of LoCoMo's six conversations were dropped as known.
        """
        if self.same_meaning >= 1.0 or not memories:
            return [False] * len(memories)
        by_scope: dict[Scope, list[int]] = {}
        for index, memory in enumerate(memories):
            by_scope.setdefault(memory.scope, []).append(index)
        found: list[str | None] = [None] * len(memories)
        async with data.reading() as tables:
            for scope, indexes in by_scope.items():
                vectors = [memories[i].embedding for i in indexes]
                hits = await tables.search.nearest_each(vectors, within_scope(scope), ReadOptions())
                for i, hit in zip(indexes, hits, strict=True):
                    found[i] = hit.memory if hit is not None and hit.similarity >= self.same_meaning else None
        matches = [
            (i, known)
            for i, (memory, known) in enumerate(zip(memories, found, strict=True))
            if known is not None
            and key_terms(known) == key_terms(memory.text)
            and not claims.contradicts(memory.text, known)
        ]
        if not matches:
            return [False] * len(memories)
        alone = await self.batcher.embed([text for i, known in matches for text in (memories[i].text, known)])
        confirmed = {
            i for k, (i, _) in enumerate(matches) if float(alone[2 * k] @ alone[2 * k + 1]) >= self.same_meaning
        }
        return [i in confirmed for i in range(len(memories))]

    async def _recent(
        self, data: ProjectData, command: AddCommand, *, before: uuid.UUID | None
    ) -> list[tuple[uuid.UUID, Message]]:
        """The scope's last few messages before the add of event ``before`` (or before now), oldest first, each
        with the event of its add."""
        async with data.reading() as tables:
            adds = await tables.events.recent_adds(command.scope, before, limit=_CONTEXT_ADDS)
        messages: list[tuple[uuid.UUID, Message]] = []
        for event, payload in reversed(adds):
            try:
                messages.extend((event, m) for m in add_messages(payload, self.limits) if m.role != "system")
            except MnemoError:
                continue  # an old payload that no longer validates is not context worth failing for
        return messages[-_CONTEXT_MESSAGES:]

    async def _similar_memories(self, data: ProjectData, command: AddCommand) -> list[MemoryRecord]:
        """The memories of the add's scope closest to its messages: context for the extractor."""
        text = "\n".join(m.content for m in command.messages if m.role != "system")
        if not text.strip():
            return []
        vector = await self.batcher.embed_query(text)
        async with data.reading() as tables:
            hits = await tables.search.nearest(
                vector, within_scope(command.scope), ReadOptions(), limit=_CONTEXT_MEMORIES
            )
            return await tables.memories.get_many([hit.id for hit in hits])

    async def _embedded(
        self, data: ProjectData, drafts: Sequence[tuple[str, str, str | None]], window: Sequence[Message]
    ) -> Vectors:
        """The vectors of ``drafts`` (text, role, speaker), each in the context of the messages of ``window``."""
        targets = [Target(index_text(text, name), window) for text, _, name in drafts]
        return await self.in_context.final(data.project_id, targets)

    def _context_window(self, messages: Sequence[_T]) -> list[_T]:
        """The last ``context_messages`` of ``messages`` (none when context is off: ``[-0:]`` is everything)."""
        return list(messages[-self.context_messages :]) if self.context_messages else []

    def _drafted(
        self,
        command: AddCommand,
        scope: Scope,
        drafts: Sequence[tuple[str, str, str | None]],
        vectors: Vectors,
        categories: Sequence[str] = (),
        *,
        contexts: Sequence[Sequence[uuid.UUID]] = (),
    ) -> list[NewMemory]:
        """``contexts``: each draft's ``context_events`` (none when empty)."""
        return [
            NewMemory(
                scope=scope,
                text=text,
                index=index_fields(text, speaker=name, observed_at=command.observed_at),
                embedding=vector,
                metadata=command.metadata,
                created_at=command.created_at,
                immutable=command.immutable,
                expiration_date=command.expiration_date,
                attributed_to=role,
                actor_name=name,
                categories=categories,
                context_events=tuple(context),
            )
            for (text, role, name), vector, context in zip(drafts, vectors, contexts or [()] * len(drafts), strict=True)
        ]


async def _timed(extractor: Extractor, request: ExtractionRequest) -> ExtractionResult:
    """``extractor.extract(request)``, its time recorded (``mnemo_extraction_duration_seconds``)."""
    kind: Literal["offline", "llm"] = "offline" if isinstance(extractor, OfflineExtractor) else "llm"
    started = time.perf_counter()
    try:
        result = await extractor.extract(request)
    except Exception:
        metrics.extraction_done(kind, ok=False, seconds=time.perf_counter() - started)
        raise
    metrics.extraction_done(kind, ok=True, seconds=time.perf_counter() - started)
    return result


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


def _speaker(role: str | None) -> Speaker:
    return "assistant" if role == "assistant" else "user"


def _speaker_names(messages: Sequence[Message]) -> dict[str, str]:
    """The name each role speaks under in this add, when the messages give one (first one wins)."""
    names: dict[str, str] = {}
    for message in messages:
        if message.name and message.role != "system":
            names.setdefault(message.role, message.name)
    return names


def _input_messages(messages: Sequence[Message]) -> list[dict[str, Any]]:
    return [{"role": m.role, "content": m.content} for m in messages]
