"""Scores on the Platform's scale, and short personal questions answered first: the retriever called directly
on a real PostgreSQL with the real embedding model."""

from __future__ import annotations

import itertools
from typing import Any

import pytest

from mnemo.domain.memories import Scope
from mnemo.domain.requests import SearchBody
from mnemo.domain.scoring import CALIBRATION, RankingWeights, about_someone_else, calibrate, keyword_query
from mnemo.pipeline.retrieve import Retriever
from mnemo.providers.embedding.batcher import EmbeddingBatcher
from mnemo.storage import ProjectData
from tests.pipeline.test_retrieve import remember

pytestmark = pytest.mark.anyio

#: The threshold Mem0's CLI sends, and v2 search's default.
CLIENT_THRESHOLD = 0.3

NADIA = [
    "My mother lives in Casablanca and I call her every Sunday.",
    "I moved to Lyon in March for a new job.",
    "I work as a pharmacist at a hospital near the station.",
    "We adopted a grey rabbit called Pistache last winter.",
    "I drive an old blue Volvo estate.",
    "My favourite food is my grandmother's lamb tagine.",
    "I'm planning a hiking trip to the Pyrenees in September.",
]


async def search(data: ProjectData, batcher: EmbeddingBatcher, query: str, user: str, **request: Any) -> list[Any]:
    body = SearchBody.model_validate({"query": query, "filters": {"user_id": user}, "threshold": 0.0, **request})
    return await Retriever(batcher, RankingWeights()).search(data, body)


def test_calibration_is_increasing_and_puts_the_fitted_cut_at_the_clients_threshold() -> None:
    points = [n / 100 for n in range(101)]
    mapped = [calibrate(x) for x in points]
    assert all(a < b for a, b in itertools.pairwise(mapped)), "strictly increasing: the order is kept"
    assert (calibrate(0.0), calibrate(1.0)) == (0.0, 1.0)
    cut = next(x for x, y in CALIBRATION if y == CLIENT_THRESHOLD)
    assert calibrate(cut - 0.01) < CLIENT_THRESHOLD <= calibrate(cut)


def test_question_forms_find_the_words_of_their_answers() -> None:
    assert "living" not in keyword_query("What does she do for a living?"), "living stems like lives"
    assert "work" in keyword_query("What does she do for a living?").split()
    assert "moved" in keyword_query("Which city does Nadia live in now?").split()
    assert "moved" not in keyword_query("Where does her mother live?"), "a relative's home is not a move"
    assert "rabbit" in keyword_query("What kind of pet does she have?").split()
    assert keyword_query("When did Caroline go to the support group?") == "When did Caroline go to the support group?"
    assert about_someone_else("Where does Tom live?", "My parents still live on the farm in Cornwall.")
    assert not about_someone_else("Where does her mother live?", "My mother lives in Casablanca.")
    assert not about_someone_else("Where does Tom live?", "I live in a small flat in Leeds.")


async def test_a_memory_that_answers_scores_at_least_the_clients_threshold(
    project: ProjectData, batcher: EmbeddingBatcher
) -> None:
    """Issue 10's case: "I live in Berlin." scored 0.246 for "Where do I live?", so Mem0's CLI showed nothing."""
    await remember(project, batcher, ["I live in Berlin."], scope=Scope(user_id="kim"))
    (found,) = await search(project, batcher, "Where do I live?", "kim")
    assert found["score"] >= CLIENT_THRESHOLD
    assert [r["memory"] for r in await search(project, batcher, "Where do I live?", "kim", threshold=0.3)] == [
        "I live in Berlin."
    ]


async def test_an_unrelated_memory_scores_below_the_clients_threshold(
    project: ProjectData, batcher: EmbeddingBatcher
) -> None:
    await remember(project, batcher, ["I live in Berlin.", "My favourite food is ramen."], scope=Scope(user_id="kim"))
    await remember(
        project, batcher, ["I play the violin every evening.", "My dog is called Rex."], scope=Scope(user_id="bob")
    )
    ranked = await search(project, batcher, "Where do I live?", "kim")
    assert [r["memory"] for r in ranked] == ["I live in Berlin.", "My favourite food is ramen."]
    assert ranked[1]["score"] < CLIENT_THRESHOLD
    other = await search(project, batcher, "Where do I live?", "bob")
    assert other and all(r["score"] < CLIENT_THRESHOLD for r in other), other
    assert await search(project, batcher, "Where do I live?", "bob", threshold=CLIENT_THRESHOLD) == []


async def test_where_the_user_lives_outranks_a_fact_that_only_says_user(
    project: ProjectData, batcher: EmbeddingBatcher
) -> None:
    """Issue 14's three memories: the food fact ranked first on a keyword hit on "user"."""
    move = "I moved to Austin last month and I work as a nurse."
    await remember(
        project,
        batcher,
        [move, "Noted, the user lives in Austin now.", "User's favourite food is tacos."],
        scope=Scope(user_id="sam"),
    )
    ranked = await search(project, batcher, "Where does the user live?", "sam")
    assert [r["memory"] for r in ranked] == [
        "Noted, the user lives in Austin now.",
        move,
        "User's favourite food is tacos.",
    ], [(r["memory"], r["score"], r["score_breakdown"]) for r in ranked]
    assert ranked[0]["score"] >= CLIENT_THRESHOLD > ranked[2]["score"]


@pytest.mark.parametrize(
    ("question", "answer"),
    [
        ("Which city does Nadia live in now?", "I moved to Lyon in March for a new job."),
        ("What does she do for a living?", "I work as a pharmacist at a hospital near the station."),
        ("What kind of pet does she have?", "We adopted a grey rabbit called Pistache last winter."),
        ("Where does her mother live?", "My mother lives in Casablanca and I call her every Sunday."),
    ],
)
async def test_short_personal_questions_rank_their_answer_first(
    project: ProjectData, batcher: EmbeddingBatcher, question: str, answer: str
) -> None:
    await remember(project, batcher, NADIA, scope=Scope(user_id="nadia"))
    ranked = await search(project, batcher, question, "nadia")
    assert ranked[0]["memory"] == answer, [(r["memory"], r["score"]) for r in ranked[:3]]
