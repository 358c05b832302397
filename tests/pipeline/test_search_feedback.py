"""Feedback in search, read with each candidate's row: very negative hides a memory, negative demotes it."""

from __future__ import annotations

import uuid

import pytest

from mnemo.providers.embedding.batcher import EmbeddingBatcher
from mnemo.storage import ProjectData
from tests.pipeline.test_retrieve import ALICES, DOG, remember, search

pytestmark = pytest.mark.anyio

QUESTION = "What is the name of my dog?"


async def test_feedback_hides_or_demotes_the_candidates_of_both_legs(
    project: ProjectData, batcher: EmbeddingBatcher
) -> None:
    ids = await remember(project, batcher, [*ALICES, "Biscuit the dog loves the beach."])
    before = await search(project, batcher, QUESTION, threshold=0.0)
    assert before[0]["memory"] == DOG
    async with project.transaction() as tables:
        assert await tables.feedback.give(uuid.UUID(ids[DOG]), "NEGATIVE", "outdated")
    demoted = await search(project, batcher, QUESTION, threshold=0.0)
    assert [r["memory"] for r in demoted].index(DOG) > 0, "a negative feedback demotes it"
    dog = next(r for r in demoted if r["memory"] == DOG)
    assert dog["score"] < before[0]["score"]
    async with project.transaction() as tables:
        assert await tables.feedback.give(uuid.UUID(ids[DOG]), "VERY_NEGATIVE", "wrong")
        assert await tables.feedback.give(uuid.UUID(ids["My favourite food is ramen."]), "POSITIVE", None)
    hidden = await search(project, batcher, QUESTION, threshold=0.0)
    assert DOG not in [r["memory"] for r in hidden], "a very negative feedback hides it"
    assert "My favourite food is ramen." in [r["memory"] for r in hidden], "a positive one changes nothing"
    assert len(hidden) == len(before) - 1
