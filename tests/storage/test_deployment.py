"""The deployment's vector space (``mnemo.storage.deployment``): one model's vectors, and none while ``mnemo reembed``
has not finished replacing them."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from mnemo.storage import Database, VectorSpaceMismatch, claim_vector_space
from mnemo.storage.deployment import VectorSpace, record_vector_space, recorded_vector_space

pytestmark = pytest.mark.anyio


@pytest.fixture
async def db(migrated_database_url: str) -> AsyncIterator[Database]:
    database = Database(migrated_database_url, min_size=1, max_size=1)
    await database.open()
    try:
        yield database
    finally:
        await database.close()


async def test_the_first_model_is_recorded_and_another_refused(db: Database) -> None:
    assert await recorded_vector_space(db) is None
    await claim_vector_space(db, "model-a", 384)
    await claim_vector_space(db, "model-a", 384)  # the same model again: accepted
    assert await recorded_vector_space(db) == VectorSpace("model-a", 384)
    with pytest.raises(VectorSpaceMismatch, match="holds vectors of model-a"):
        await claim_vector_space(db, "model-b", 384)


async def test_an_unfinished_reembedding_refuses_every_model(db: Database) -> None:
    await claim_vector_space(db, "model-a", 384)
    await record_vector_space(db, VectorSpace("model-b", 768, reembedding=True))
    for space, dimensions in (("model-a", 384), ("model-b", 768)):
        with pytest.raises(VectorSpaceMismatch, match="being re-embedded with model-b"):
            await claim_vector_space(db, space, dimensions)
    await record_vector_space(db, VectorSpace("model-b", 768))  # reembed finished
    await claim_vector_space(db, "model-b", 768)
    with pytest.raises(VectorSpaceMismatch):
        await claim_vector_space(db, "model-a", 384)
