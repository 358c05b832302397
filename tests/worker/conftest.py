"""Fixtures of the worker tests: a fresh migrated database per test (the queue claims across projects), a
running embedding batcher over the session's local model, and a project."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from mnemo.providers.embedding.batcher import EmbeddingBatcher
from mnemo.providers.embedding.minilm_onnx import MiniLMOnnxEmbedder
from mnemo.storage import AccountStore, Database, ProjectData


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture
async def db(migrated_database_url: str) -> AsyncIterator[Database]:
    database = Database(migrated_database_url, min_size=1, max_size=8)
    await database.open()
    try:
        yield database
    finally:
        await database.close()


@pytest.fixture
async def batcher(minilm: MiniLMOnnxEmbedder) -> AsyncIterator[EmbeddingBatcher]:
    running = EmbeddingBatcher(minilm)
    running.start()
    try:
        yield running
    finally:
        await running.close()


@pytest.fixture
async def project(db: Database) -> ProjectData:
    return ProjectData(db, await AccountStore(db).ensure_project("proj_worker"))
