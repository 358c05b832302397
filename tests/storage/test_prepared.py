"""Prepared statements (``Database(prepare=True)``, the default on the embedded database): a statement a connection
runs again is prepared on it, and every execution is still planned for its own parameters."""

from __future__ import annotations

from typing import Any

import pytest

from mnemo.storage import Database, ReadOptions
from tests.storage.support import insert, memory, new_project, select

pytestmark = pytest.mark.anyio

ALICE_ONLY = select({"user_id": "alice"})


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
            prepared = await (
                await conn.execute("SELECT statement, generic_plans, custom_plans FROM pg_prepared_statements")
            ).fetchall()
            mode = await (await conn.execute("SHOW plan_cache_mode")).fetchone()
    finally:
        await db.close()
    assert mode is not None
    return prepared, mode["plan_cache_mode"]


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
