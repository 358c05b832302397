"""The ingestor called directly: verbatim adds (prepare + write) and inferred adds (plan + write)."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest

from mnemo.domain.events import EventStatus
from mnemo.domain.memories import MemoryRecord, Scope, add_result, index_fields
from mnemo.domain.selection import parse_selection
from mnemo.pipeline.commands import AddCommand, AddLimits, parse_add
from mnemo.pipeline.extraction import ExtractionRequest, ExtractionResult, ExtractionUnavailable, Extractor, Fact
from mnemo.pipeline.ingest import Ingestor, Outcome
from mnemo.pipeline.offline_extractor import OfflineExtractor
from mnemo.providers.embedding.batcher import EmbeddingBatcher
from mnemo.storage import ProjectData, ReadOptions
from tests.pipeline.support import Choice, ScriptedExtractor, cosine, same_vector

pytestmark = pytest.mark.anyio

LIMITS = AddLimits()
T0 = datetime(2025, 3, 1, 12, 0, tzinfo=UTC)
ALICE = Scope(user_id="alice")


def ingestor(
    batcher: EmbeddingBatcher,
    extractor: Extractor | None = None,
    *,
    fallback: Extractor | None = None,
    same_meaning: float = 0.92,
    context_messages: int = 2,
) -> Ingestor:
    return Ingestor(
        batcher,
        Choice(extractor or OfflineExtractor(), fallback),
        limits=LIMITS,
        same_meaning=same_meaning,
        context_messages=context_messages,
    )


def body(*messages: tuple[str, str] | tuple[str, str, str], at: datetime = T0, **extra: Any) -> dict[str, Any]:
    """An add body: messages as (role, content) or (role, content, name), observed at ``at``."""
    items = [{"role": m[0], "content": m[1], **({"name": m[2]} if len(m) > 2 else {})} for m in messages]
    return {"messages": items, "user_id": "alice", "timestamp": at.timestamp(), **extra}


async def verbatim(ing: Ingestor, data: ProjectData, raw: dict[str, Any]) -> tuple[uuid.UUID, Outcome]:
    command = parse_add({**raw, "infer": False}, LIMITS)
    memories = await ing.prepare_verbatim(data, command)
    async with data.transaction() as tables:
        return await ing.write_verbatim(tables, command, memories, raw)


async def job(ing: Ingestor, data: ProjectData, raw: dict[str, Any], *, last_attempt: bool = False) -> Outcome:
    """An inferred add as the worker runs it: plan outside any transaction, write inside one."""
    command = parse_add(raw, LIMITS)
    plan = await ing.plan_job(data, command, event_id=uuid.uuid4(), last_attempt=last_attempt)
    async with data.transaction() as tables:
        return await ing.write_job(tables, plan)


async def current(data: ProjectData, *, latest_only: bool = False) -> list[MemoryRecord]:
    async with data.reading() as tables:
        _, records = await tables.memories.page(
            parse_selection({"user_id": "alice"}), ReadOptions(latest_only=latest_only), offset=0, limit=100
        )
    return records


async def stored(data: ProjectData, memory_id: uuid.UUID) -> MemoryRecord:
    async with data.reading() as tables:
        record = await tables.memories.get(memory_id)
    assert record is not None
    return record


# --- verbatim ---------------------------------------------------------------------------------------


async def test_prepare_verbatim_keeps_each_spoken_message_with_its_index_fields(
    batcher: EmbeddingBatcher, project: ProjectData
) -> None:
    raw = body(
        ("system", "Be nice."),
        ("user", "I saw Caroline yesterday.", "Mel"),
        ("user", "   "),
        ("assistant", "How is she?"),
        metadata={"source": "chat"},
        immutable=True,
        expiration_date="2999-01-01",
    )
    command = parse_add({**raw, "infer": False}, LIMITS)
    memories = await ingestor(batcher).prepare_verbatim(project, command)
    assert [(m.text, m.attributed_to, m.actor_name) for m in memories] == [
        ("I saw Caroline yesterday.", "user", "Mel"),
        ("How is she?", "assistant", None),
    ]
    first = memories[0]
    assert first.index == index_fields("I saw Caroline yesterday.", speaker="Mel", observed_at=T0)
    assert first.index.dates == ((date(2025, 2, 28), date(2025, 2, 28)),), "relative dates count from the timestamp"
    assert (first.scope, first.created_at, first.metadata) == (ALICE, T0, {"source": "chat"})
    assert (first.immutable, first.expiration_date) == (True, date(2999, 1, 1))


async def test_a_verbatim_message_is_embedded_with_the_messages_before_it_in_its_scope(
    batcher: EmbeddingBatcher, project: ProjectData
) -> None:
    ing = ingestor(batcher, context_messages=2)
    await verbatim(ing, project, body(("user", "Do you have pets?", "Mel"), ("assistant", "A dog!")))
    await verbatim(ing, project, body(("user", "I do not.", "Bob"), user_id="bob"))  # another scope: no context
    command = parse_add(
        {**body(("assistant", "Her name is Biscuit."), ("user", "Lovely name.", "Mel")), "infer": False}, LIMITS
    )
    reply, answer = await ing.prepare_verbatim(project, command)

    # Its own text first (speaker named), then the last two messages before it, oldest first.
    expected = await batcher.embed(
        ["Her name is Biscuit.\nMel: Do you have pets?\nA dog!", "Mel: Lovely name.\nA dog!\nHer name is Biscuit."]
    )
    assert same_vector(reply.embedding, expected[0])
    assert same_vector(answer.embedding, expected[1])
    alone = (await batcher.embed(["Her name is Biscuit."]))[0]
    assert cosine(reply.embedding, alone) < 0.95, "the context moved the vector"
    assert reply.text == "Her name is Biscuit.", "the stored text is the message alone"

    without_context = await ingestor(batcher, context_messages=0).prepare_verbatim(project, command)
    assert same_vector(without_context[0].embedding, alone)
    assert reply.context_events, "the earlier add is recorded as its neighbour"
    assert without_context[0].context_events == reply.context_events, "with or without context embeddings"


async def test_write_verbatim_stores_the_memories_and_a_succeeded_event_skipping_exact_duplicates(
    batcher: EmbeddingBatcher, project: ProjectData
) -> None:
    ing = ingestor(batcher)
    raw = body(("user", "I like tea."), ("assistant", "Noted: tea."))
    event_id, outcome = await verbatim(ing, project, raw)
    assert [r.memory for r in outcome.written] == ["I like tea.", "Noted: tea."]
    assert outcome.results == [add_result(r) for r in outcome.written]
    assert outcome.metadata == {"duplicates_skipped": 0}
    async with project.reading() as tables:
        event = await tables.events.get(event_id)
        history = await tables.history.of_memory(outcome.written[0].id)
    assert event is not None
    assert (event.status, event.payload, event.results) == (EventStatus.SUCCEEDED, raw, outcome.results)
    assert history[0].input == [
        {"role": "user", "content": "I like tea."},
        {"role": "assistant", "content": "Noted: tea."},
    ]

    again_id, again = await verbatim(ing, project, raw)
    assert (again.written, again.results, again.metadata) == ([], [], {"duplicates_skipped": 2})
    assert again_id != event_id, "the add is recorded even when it wrote nothing"
    assert len(await current(project)) == 2


# --- inferred ---------------------------------------------------------------------------------------


async def test_an_inferred_add_writes_the_extracted_facts_and_says_so(
    batcher: EmbeddingBatcher, project: ProjectData
) -> None:
    outcome = await job(
        ingestor(batcher), project, body(("user", "I live in Lisbon. My dog is called Biscuit.", "Alice"))
    )
    assert len(outcome.written) == 2
    assert all(r.scope == ALICE and r.attributed_to == "user" and r.created_at == T0 for r in outcome.written)
    assert outcome.results == [add_result(r) for r in outcome.written]
    assert {k: outcome.metadata[k] for k in ("extractor", "facts_extracted", "memories_written", "superseded")} == {
        "extractor": "offline-rules-v1",
        "facts_extracted": 2,
        "memories_written": 2,
        "superseded": 0,
    }
    assert sorted(r.id for r in await current(project)) == sorted(r.id for r in outcome.written)


async def test_facts_go_to_the_scope_of_whoever_said_them(batcher: EmbeddingBatcher, project: ProjectData) -> None:
    extractor = ScriptedExtractor([Fact("Alice likes tea.", "user"), Fact("The helper speaks French.", "assistant")])
    raw = body(("user", "I like tea."), ("assistant", "Je parle français."), agent_id="helper")
    outcome = await job(ingestor(batcher, extractor), project, raw)
    assert [(r.memory, r.scope, r.attributed_to) for r in outcome.written] == [
        ("Alice likes tea.", ALICE, "user"),
        ("The helper speaks French.", Scope(agent_id="helper"), "assistant"),
    ]


async def test_a_fact_of_the_same_meaning_as_a_known_one_is_not_stored_again(
    batcher: EmbeddingBatcher, project: ProjectData
) -> None:
    ing = ingestor(batcher)
    first = await job(ing, project, body(("user", "I have 2 kids.", "Alice")))
    assert len(first.written) == 1

    command = parse_add(body(("user", "I have 2 kids.", "Alice"), at=T0 + timedelta(days=1)), LIMITS)
    plan = await ing.plan_job(project, command, event_id=uuid.uuid4(), last_attempt=False)
    assert (plan.memories, plan.metadata["same_meaning_skipped"]) == ([], 1)

    different = await job(ing, project, body(("user", "I have 3 kids.", "Alice"), at=T0 + timedelta(days=2)))
    assert len(different.written) == 1, "the embeddings are close, the numbers are not: another fact"
    assert different.metadata["same_meaning_skipped"] == 0


async def test_facts_said_after_the_same_messages_are_not_taken_for_one_another(
    batcher: EmbeddingBatcher, project: ProjectData
) -> None:
    """A fact in the conversation's own wording is embedded with the messages said before it. Two different facts
    said after the same long messages get close vectors, yet one is no copy of the other: both are stored, while a
    paraphrase after those messages is still known."""
    story = (
        "We spent the whole weekend at the lake house with the cousins, cooking, swimming, fixing the old boat, "
        "arguing about the best way to grill fish and staying up late by the fire telling stories about the summers "
        "we spent there as children, when grandpa still ran the little bait shop by the pier. On Saturday the storm "
        "knocked out the power, so we played cards by candlelight, and on Sunday morning we all walked around the "
        "whole lake before breakfast, stopping at every dock and every bench, just like we used to when we were "
        "small and the summers felt endless."
    )
    reply = (
        "That sounds like a wonderful weekend at the lake house with the cousins, with the swimming, the old boat, "
        "the grilled fish and the late nights by the fire, and all those stories about the summers there as children "
        "and grandpa's little bait shop by the pier. Cards by candlelight during the storm and a long walk around the "
        "lake on Sunday morning, stopping at every dock and bench, sound just like the endless summers you always "
        "describe."
    )
    # Embedded with these two messages, the first two facts' vectors are at 0.96 (all-MiniLM-L6-v2), the texts
    # alone at 0.06.
    said = (("user", story, "Alice"), ("assistant", reply, "Bot"))
    facts = ScriptedExtractor(
        [Fact("I bought a blue bowl at the market.", "user")],
        [Fact("My sister thinks the winter will be cold.", "user")],
        [Fact("I bought a blue bowl at the market!", "user")],
        self_contained=False,
    )
    ing = ingestor(batcher, facts)
    first = await job(ing, project, body(*said, ("user", "Anyway.", "Alice")))
    second = await job(ing, project, body(*said, ("user", "So.", "Alice"), at=T0 + timedelta(days=1)))
    third = await job(ing, project, body(*said, ("user", "Well.", "Alice"), at=T0 + timedelta(days=2)))
    assert [r.memory for r in first.written + second.written] == [
        "I bought a blue bowl at the market.",
        "My sister thinks the winter will be cold.",
    ]
    assert second.metadata["same_meaning_skipped"] == 0
    assert (third.written, third.metadata["same_meaning_skipped"]) == ([], 1), "the paraphrase is known"


async def test_with_same_meaning_off_only_exact_duplicates_are_skipped(
    batcher: EmbeddingBatcher, project: ProjectData
) -> None:
    ing = ingestor(batcher, same_meaning=1.0)
    await job(ing, project, body(("user", "I have 2 kids.", "Alice")))
    again = await job(ing, project, body(("user", "I have 2 kids.", "Alice"), at=T0 + timedelta(days=1)))
    assert again.metadata["same_meaning_skipped"] == 0
    assert (again.written, again.metadata["duplicates_skipped"]) == ([], 1)


async def test_a_new_claim_supersedes_the_old_one_offline(batcher: EmbeddingBatcher, project: ProjectData) -> None:
    ing = ingestor(batcher)
    (acme,) = (await job(ing, project, body(("user", "I work at Acme.", "Alice")))).written
    later = await job(ing, project, body(("user", "I work at Globex now.", "Alice"), at=T0 + timedelta(hours=1)))
    (globex,) = later.written
    assert later.metadata["superseded"] == 1
    replaced = await stored(project, acme.id)
    assert (replaced.replaced_by, replaced.state) == (globex.id, "superseded")
    assert [r.id for r in await current(project, latest_only=True)] == [globex.id]


async def test_an_older_claim_arriving_late_is_superseded_by_the_newer_one(
    batcher: EmbeddingBatcher, project: ProjectData
) -> None:
    ing = ingestor(batcher)
    (globex,) = (await job(ing, project, body(("user", "I work at Globex.", "Alice"), at=T0))).written
    late = await job(ing, project, body(("user", "I work at Acme.", "Alice"), at=T0 - timedelta(days=30)))
    (acme,) = late.written
    assert late.metadata["superseded"] == 1
    assert (await stored(project, acme.id)).replaced_by == globex.id
    assert (await stored(project, globex.id)).replaced_by is None
    assert [r.id for r in await current(project, latest_only=True)] == [globex.id]


async def test_an_extractor_s_links_supersede_the_existing_memories_it_was_shown(
    batcher: EmbeddingBatcher, project: ProjectData
) -> None:
    _, added = await verbatim(ingestor(batcher), project, body(("user", "Alice works at Acme.")))
    (acme,) = added.written

    async def replace(request: ExtractionRequest) -> ExtractionResult:
        refs = [m.ref for m in request.existing_memories if m.text == "Alice works at Acme."]
        assert refs, "the extractor is shown the scope's similar memories"
        return ExtractionResult(facts=[Fact("Alice works at Globex.", "user", linked_refs=(*refs, "no-such-ref"))])

    outcome = await job(ingestor(batcher, ScriptedExtractor(replace)), project, body(("user", "I moved to Globex.")))
    (globex,) = outcome.written
    assert outcome.metadata["superseded"] == 1
    assert (await stored(project, acme.id)).replaced_by == globex.id


async def test_a_self_contained_fact_is_embedded_alone_and_a_worded_one_with_its_conversation(
    batcher: EmbeddingBatcher, project: ProjectData
) -> None:
    conversation = body(
        ("assistant", "What is your dog's name?"), ("user", "Biscuit, after my favourite snack.", "Mel")
    )
    llm = ScriptedExtractor([Fact("Mel's dog is named Biscuit.", "user")])
    plan = await ingestor(batcher, llm).plan_job(
        project, parse_add(conversation, LIMITS), event_id=uuid.uuid4(), last_attempt=False
    )
    (memory,) = plan.memories
    assert same_vector(memory.embedding, (await batcher.embed(["Mel: Mel's dog is named Biscuit."]))[0])

    worded = ScriptedExtractor([Fact("Biscuit, after my favourite snack.", "user")], self_contained=False)
    plan = await ingestor(batcher, worded).plan_job(
        project, parse_add(conversation, LIMITS), event_id=uuid.uuid4(), last_attempt=False
    )
    (memory,) = plan.memories
    expected = (await batcher.embed(["Mel: Biscuit, after my favourite snack.\nWhat is your dog's name?"]))[0]
    assert same_vector(memory.embedding, expected)


async def test_an_unreachable_extractor_falls_back_only_on_the_last_attempt(
    batcher: EmbeddingBatcher, project: ProjectData
) -> None:
    llm = ScriptedExtractor(ExtractionUnavailable("the LLM is down"), name="llm")
    ing = ingestor(batcher, llm, fallback=OfflineExtractor())
    command: AddCommand = parse_add(body(("user", "I like green tea.", "Alice")), LIMITS)
    with pytest.raises(ExtractionUnavailable):
        await ing.plan_job(project, command, event_id=uuid.uuid4(), last_attempt=False)
    plan = await ing.plan_job(project, command, event_id=uuid.uuid4(), last_attempt=True)
    assert plan.metadata["extractor"] == "offline-rules-v1 (fallback: the LLM is down)"
    assert len(plan.memories) == 1
