"""Prepared statements (``Database(prepare=True)``, the default on the embedded database): a statement a connection
runs again is prepared on it, and every execution is still planned for its own parameters, except on the connections
of one-statement writes (``ProjectData.one_statement``), which plan a statement once."""

from __future__ import annotations

import uuid
from typing import Any

import pytest

from mnemo.domain.memories import Scope
from mnemo.storage import Database, ReadOptions
from mnemo.storage.database import Conn
from tests.storage.support import insert, memory, new_project, select

pytestmark = pytest.mark.anyio

ALICE = Scope("alice", None, None, None)
ALICE_ONLY = select({"user_id": "alice"})
PREPARED = "SELECT statement, generic_plans, custom_plans FROM pg_prepared_statements"


async def _plans(conn: Conn) -> tuple[list[dict[str, Any]], str]:
    """What ``conn`` holds prepared (each statement with its generic and custom plans), and its plan mode."""
    prepared = await (await conn.execute(PREPARED)).fetchall()
    mode = await (await conn.execute("SHOW plan_cache_mode")).fetchone()
    assert mode is not None
    return prepared, mode["plan_cache_mode"]


async def _search_repeatedly(url: str, *, prepare: bool) -> tuple[list[dict[str, Any]], str]:
    """Eight keyword searches on a one-connection pool, then what that connection holds prepared, and its plan mode."""
    db = Database(url, min_size=1, max_size=1, prepare=prepare)
    await db.open()
    try:
        data = await new_project(db)
        await insert(data, memory("Alice runs marathons in Boston."), memory("Boston has great seafood."))
        for _ in range(8):
            async with data.reading() as tables:
                found = await tables.search.keyword_matches("Boston marathon", ALICE_ONLY, ReadOptions())
            assert len(found.matches) == 2
        async with db.connection() as conn:
            return await _plans(conn)
    finally:
        await db.close()


async def test_a_repeated_statement_is_prepared_and_planned_for_each_execution(migrated_database_url: str) -> None:
    prepared, mode = await _search_repeatedly(migrated_database_url, prepare=True)
    keyword = [row for row in prepared if "WITH terms" in row["statement"]]
    assert len(keyword) == 1, "the keyword statement is prepared once on the connection"
    assert keyword[0]["custom_plans"] >= 6, "and planned again for every execution"
    assert all(row["generic_plans"] == 0 for row in prepared), "a generic plan cannot know a scope's size"
    assert mode == "force_custom_plan"


async def test_without_prepare_nothing_is_prepared(migrated_database_url: str) -> None:
    prepared, _ = await _search_repeatedly(migrated_database_url, prepare=False)
    assert prepared == []


async def _add_repeatedly(
    url: str, *, prepare: bool, planned_once: bool = True
) -> tuple[list[dict[str, Any]], str, list[dict[str, Any]]]:
    """Eight verbatim adds written as the add route writes them (``one_statement``), on one-connection pools, then
    what the writes' connection holds prepared and its plan mode, and what the other connection holds prepared."""
    db = Database(  # one connection for each pool, or one in all
        url, min_size=1, max_size=2 if planned_once and prepare else 1, prepare=prepare, planned_once=planned_once
    )
    await db.open()
    try:
        data = await new_project(db)
        for n in range(8):
            async with data.one_statement() as tables:
                await tables.memories.insert_add(
                    [memory(f"Alice ran marathon number {n}.")],
                    event_id=uuid.uuid4(),
                    input_messages=[],
                    payload={"messages": [], "user_id": "alice"},
                    scope=ALICE,
                )
        async with data.reading() as tables:
            found = await tables.search.keyword_matches("marathon", ALICE_ONLY, ReadOptions())
        assert len(found.matches) == 8
        async with db.planned_once() as conn:
            on_writes, mode = await _plans(conn)
        async with db.connection() as conn:
            on_pool, _ = await _plans(conn)
    finally:
        await db.close()
    return on_writes, mode, on_pool


async def test_a_one_statement_write_is_planned_once(migrated_database_url: str) -> None:
    on_writes, mode, on_pool = await _add_repeatedly(migrated_database_url, prepare=True)
    (add,) = [row for row in on_writes if "INSERT INTO memories" in row["statement"]]
    # Prepared at its second execution (the first runs unnamed), then planned once for the seven.
    assert (add["generic_plans"], add["custom_plans"]) == (7, 0)
    assert mode == "force_generic_plan"
    assert not any("INSERT INTO memories" in row["statement"] for row in on_pool), "written on connections of its own"
    assert all(row["generic_plans"] == 0 for row in on_pool), "the searches' connections still plan every execution"


async def test_without_prepare_a_one_statement_write_is_planned_at_every_execution(migrated_database_url: str) -> None:
    on_writes, mode, _ = await _add_repeatedly(migrated_database_url, prepare=False)
    assert on_writes == []
    assert mode == "force_custom_plan", "on the pool's connections"


async def test_a_process_serving_no_api_plans_its_one_statement_writes_at_every_execution(
    migrated_database_url: str,
) -> None:
    on_writes, mode, _ = await _add_repeatedly(migrated_database_url, prepare=True, planned_once=False)
    (add,) = [row for row in on_writes if "INSERT INTO memories" in row["statement"]]
    assert add["generic_plans"] == 0
    assert mode == "force_custom_plan", "on the pool's connections"
