"""Migration 0011 on a database that already holds memories: their entities become records, first seen at
their oldest memory, and memories written afterwards record theirs."""

from __future__ import annotations

from datetime import UTC, datetime

import psycopg
import pytest

from mnemo.storage import migrate
from mnemo.storage.migrate import available_migrations

pytestmark = pytest.mark.anyio

ENTITIES = 11
_MEMORY = (
    "INSERT INTO memories (project_id, id, user_id, agent_id, memory, hash, embedding, created_at, updated_at)"
    " VALUES ('p1', gen_random_uuid(), %s, %s, %s, md5(%s), '[1,0,0]', %s, %s)"
)


def _day(day: int) -> datetime:
    return datetime(2025, 1, day, tzinfo=UTC)


async def test_existing_memories_get_their_entities_and_new_ones_record_theirs(database_url: str) -> None:
    with psycopg.connect(database_url, autocommit=True) as conn:
        conn.execute(
            "CREATE TABLE mnemo_schema_migrations (version integer PRIMARY KEY, name text NOT NULL,"
            " applied_at timestamptz NOT NULL DEFAULT now())"
        )
        for migration in available_migrations():
            if migration.version < ENTITIES:
                conn.execute(migration.script.encode())
                conn.execute("INSERT INTO mnemo_schema_migrations VALUES (%s, %s)", (migration.version, migration.name))
        conn.execute("INSERT INTO organizations (id, name) VALUES ('o1', 'default')")
        conn.execute("INSERT INTO projects (id, org_id, name) VALUES ('p1', 'o1', 'p')")
        for user, agent, text, day in (("alice", None, "a", 3), ("alice", "bot", "b", 1), (None, "bot", "c", 5)):
            conn.execute(_MEMORY, (user, agent, text, text, _day(day), _day(day + 1)))

    assert ENTITIES in await migrate(database_url)

    with psycopg.connect(database_url, autocommit=True) as conn:
        rows = conn.execute("SELECT kind, name, created_at, updated_at FROM entities ORDER BY kind, name").fetchall()
        assert rows == [("agent", "bot", _day(1), _day(6)), ("user", "alice", _day(1), _day(4))]
        conn.execute(_MEMORY, ("carol", None, "d", "d", _day(9), _day(9)))
        names = conn.execute("SELECT name FROM entities WHERE kind = 'user' ORDER BY name").fetchall()
        assert names == [("alice",), ("carol",)]
