"""Fixtures of the pipeline tests: one migrated database per module with a fresh project per test (the
ingestor and the retriever only ever touch one project), and a running embedding batcher over the session's
local model."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator

import pytest

from mnemo.providers.embedding.batcher import EmbeddingBatcher
from mnemo.providers.embedding.minilm_onnx import MiniLMOnnxEmbedder
from mnemo.storage import AccountStore, Database, ProjectData


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture
async def db(module_migrated_database_url: str) -> AsyncIterator[Database]:
    database = Database(module_migrated_database_url, min_size=1, max_size=4)
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
    return ProjectData(db, await AccountStore(db).ensure_project(f"proj_{uuid.uuid4().hex[:12]}"))
