"""The retriever called directly: ranked wire dicts from both candidate legs, filters and threshold honoured."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, date, datetime
from typing import Any

import pytest

from mnemo.domain.memories import Scope, index_fields
from mnemo.domain.requests import SearchBody
from mnemo.domain.scoring import RankingWeights
from mnemo.domain.selection import parse_selection
from mnemo.errors import BadRequest
from mnemo.pipeline.retrieve import Retriever
from mnemo.providers.embedding.batcher import EmbeddingBatcher
from mnemo.providers.embedding.minilm_onnx import MiniLMOnnxEmbedder
from mnemo.storage import NewMemory, ProjectData, ReadOptions

pytestmark = pytest.mark.anyio

T0 = datetime(2025, 3, 1, 12, 0, tzinfo=UTC)
ALICE = Scope(user_id="alice")
DOG = "My dog is called Biscuit."
ALICES = [
    DOG,
    "I work as a nurse at the city hospital.",
    "I moved to Lisbon last spring.",
    "My favourite food is ramen.",
    "I play the violin every evening.",
]


async def remember(
    data: ProjectData, batcher: EmbeddingBatcher, texts: list[str], scope: Scope = ALICE, **fields: Any
) -> dict[str, str]:
    """Store memories embedded by the real model; their ids by text."""
    vectors = await batcher.embed(texts)
    memories = [
        NewMemory(
            scope=scope,
            text=text,
            index=index_fields(text, speaker=None, observed_at=T0),
            embedding=vector,
            metadata=fields.get("metadata"),
            created_at=T0,
            categories=fields.get("categories", ()),
            expiration_date=fields.get("expiration_date"),
            attributed_to="user",
        )
        for text, vector in zip(texts, vectors, strict=True)
    ]
    async with data.transaction() as tables:
        written = await tables.memories.insert(memories, event_id=None, input_messages=None)
    return {r.memory: str(r.id) for r in written}


@pytest.fixture
async def alice(project: ProjectData, batcher: EmbeddingBatcher) -> ProjectData:
    await remember(project, batcher, ALICES)
    await remember(project, batcher, ["My dog is called Rex."], scope=Scope(user_id="bob"))
    return project


async def search(data: ProjectData, batcher: EmbeddingBatcher, query: str, **request: Any) -> list[dict[str, Any]]:
    body = SearchBody.model_validate({"query": query, "filters": {"user_id": "alice"}, **request})
    return await Retriever(batcher, RankingWeights()).search(data, body)


async def test_the_memory_that_answers_the_query_ranks_first(alice: ProjectData, batcher: EmbeddingBatcher) -> None:
    results = await search(alice, batcher, "What is the name of my dog?", threshold=0.0)
    assert results[0]["memory"] == DOG
    assert sorted(r["memory"] for r in results) == sorted(ALICES), "every memory of the scope, no other"
    scores = [r["score"] for r in results]
    assert scores == sorted(scores, reverse=True)
    first = results[0]
    assert set(first["score_breakdown"]) == {"semantic", "bm25", "entity", "time"}
    assert first["score_breakdown"]["bm25"] > 0, "it shares 'dog' with the query"
    assert results[-1]["score_breakdown"]["bm25"] == 0
    assert (first["user_id"], first["run_id"], first["lifecycle_state"]) == ("alice", None, "active")
    assert first["session_id"] is None, "the run id under both of the hosted API's names"
    assert "structured_attributes" not in first


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("Where does the user live?", "I moved to Lisbon last spring."),
        ("What is the user's job?", "I work as a nurse at the city hospital."),
        ("Which instrument does the user play?", "I play the violin every evening."),
        ("What does the user like to eat?", "My favourite food is ramen."),
    ],
)
async def test_a_paraphrase_finds_its_memory(
    alice: ProjectData, batcher: EmbeddingBatcher, query: str, expected: str
) -> None:
    assert (await search(alice, batcher, query))[0]["memory"] == expected


async def test_top_k_and_threshold_cut_the_ranking(alice: ProjectData, batcher: EmbeddingBatcher) -> None:
    ranked = await search(alice, batcher, "dog", threshold=0.0)
    assert len(ranked) == len(ALICES)
    assert await search(alice, batcher, "dog", threshold=0.0, top_k=2) == ranked[:2]
    cut = (ranked[0]["score"] + ranked[1]["score"]) / 2
    assert await search(alice, batcher, "dog", threshold=cut) == ranked[:1]
    assert await search(alice, batcher, "dog", threshold=1.0) == [r for r in ranked if r["score"] >= 1.0]


async def test_filters_select_the_candidates(
    project: ProjectData, alice: ProjectData, batcher: EmbeddingBatcher
) -> None:
    pets = await remember(project, batcher, ["My cat is called Tom."], metadata={"topic": "pets"}, categories=["pets"])
    bob = await search(alice, batcher, "What is the name of my dog?", filters={"user_id": "bob"})
    assert [r["memory"] for r in bob] == ["My dog is called Rex."]
    top_level = await search(alice, batcher, "What is the name of my dog?", filters=None, user_id="bob")
    assert [r["memory"] for r in top_level] == ["My dog is called Rex."]
    for request in ({"metadata": {"topic": "pets"}}, {"categories": ["Pets"]}):
        found = await search(alice, batcher, "What is the name of my dog?", threshold=0.0, **request)
        assert [r["id"] for r in found] == list(pets.values())
    either = await search(
        alice, batcher, "dog", threshold=0.0, filters={"user_id": {"in": ["alice", "bob"]}}, top_k=100
    )
    assert {r["user_id"] for r in either} == {"alice", "bob"}
    with pytest.raises(BadRequest):
        await search(alice, batcher, "dog", filters={"NOT": {"user_id": "bob"}})


async def test_superseded_and_expired_memories_are_found_only_when_asked(
    project: ProjectData, batcher: EmbeddingBatcher
) -> None:
    ids = await remember(project, batcher, ["Alice works at Acme.", "Alice works at Globex."])
    await remember(project, batcher, ["Alice worked at Initech."], expiration_date=date(2000, 1, 1))
    async with project.transaction() as tables:
        await tables.memories.supersede(
            [uuid.UUID(ids["Alice works at Acme."])], uuid.UUID(ids["Alice works at Globex."])
        )

    def texts(results: list[dict[str, Any]]) -> set[str]:
        return {r["memory"] for r in results}

    query = "Where does Alice work?"
    assert texts(await search(project, batcher, query, threshold=0.0)) == {
        "Alice works at Acme.",
        "Alice works at Globex.",
    }
    assert texts(await search(project, batcher, query, threshold=0.0, latest_only=True)) == {"Alice works at Globex."}
    assert "Alice worked at Initech." in texts(await search(project, batcher, query, threshold=0.0, show_expired=True))
    (replaced,) = [
        r for r in await search(project, batcher, query, threshold=0.0) if r["memory"] == "Alice works at Acme."
    ]
    assert (replaced["replaced_by"], replaced["lifecycle_state"]) == (ids["Alice works at Globex."], "superseded")


async def test_fields_keep_only_the_named_keys(alice: ProjectData, batcher: EmbeddingBatcher) -> None:
    (first,) = await search(alice, batcher, "What is the name of my dog?", top_k=1, fields=["memory"])
    assert first["memory"] == DOG and "id" in first
    assert "hash" not in first and "metadata" not in first


async def test_a_memory_found_only_by_its_words_joins_the_candidates(
    project: ProjectData, batcher: EmbeddingBatcher
) -> None:
    """The keyword leg brings in a match the nearest-neighbour pool (here three memories) does not reach."""
    # Closer in meaning to the query than the invoice, and sharing none of its words.
    filler = [f"They talked about the weather and temperatures on day {n}." for n in range(8)]
    invoice = "Invoice 88 lists a Zanzibar-brand stapler and printer toner."
    ids = await remember(project, batcher, [*filler, invoice])
    query = "Was the climate near Zanzibar discussed?"
    async with project.reading() as tables:
        nearest = await tables.search.nearest(
            await batcher.embed_query(query), parse_selection({"user_id": "alice"}), ReadOptions(), limit=3
        )
    assert ids[invoice] not in {str(c.id) for c in nearest}, "the premise: meaning alone misses it"
    body = SearchBody.model_validate({"query": query, "filters": {"user_id": "alice"}, "top_k": 1})
    (found,) = await Retriever(batcher, RankingWeights(), min_pool=1).search(project, body)
    assert found["id"] == ids[invoice]
    assert found["score_breakdown"]["bm25"] > 0


async def test_a_search_alone_and_searches_at_once_rank_alike(alice: ProjectData, minilm: MiniLMOnnxEmbedder) -> None:
    """A lone search embeds its question on the event loop (a local model, idle); searches in flight together
    batch their questions. Both give the same answer."""
    local = EmbeddingBatcher(minilm, local=True)
    local.start()
    try:
        retriever = Retriever(local, RankingWeights())
        queries = ["What is the name of my dog?", "Where do I work?", "What do I do on weekends?"]

        def body(query: str) -> SearchBody:
            return SearchBody.model_validate({"query": query, "filters": {"user_id": "alice"}, "threshold": 0.0})

        alone = [await retriever.search(alice, body(query)) for query in queries]
        together = await asyncio.gather(*(retriever.search(alice, body(query)) for query in queries))
    finally:
        await local.close()
    assert alone[0][0]["memory"] == DOG
    for one, other in zip(alone, together, strict=True):
        assert [r["id"] for r in one] == [r["id"] for r in other]
        assert [r["score"] for r in one] == pytest.approx([r["score"] for r in other], abs=0.02)
