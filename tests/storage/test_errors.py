"""Driver errors leave storage as mnemo's own errors (``mnemo.storage.database.translate``)."""

from __future__ import annotations

import secrets
from collections.abc import AsyncIterator
from datetime import timedelta

import psycopg
import pytest

from mnemo.errors import DatabaseUnavailable, StorageFault, ValueRejected
from mnemo.storage import Database, JobQueue, ProjectData, ReadOptions, migrate
from tests.storage.support import insert, memory, new_project, select

pytestmark = pytest.mark.anyio

#: Nothing listens here: connecting is refused at once.
UNREACHABLE = "postgresql://mnemo@127.0.0.1:9/mnemo?connect_timeout=2"


async def test_an_unreachable_database_is_unavailable() -> None:
    with pytest.raises(DatabaseUnavailable) as raised:
        await migrate(UNREACHABLE)
    assert isinstance(raised.value.__cause__, psycopg.Error), "the driver's error is kept as the cause"
    assert "try again" in raised.value.detail


async def test_losing_the_notification_connection_is_unavailable() -> None:
    queue = JobQueue(Database(UNREACHABLE), "w", lease=timedelta(seconds=30))
    with pytest.raises(DatabaseUnavailable):
        async for _ in queue.notifications():
            pass


@pytest.fixture
async def own_db(pg_server: str, migrated_database_url: str) -> AsyncIterator[tuple[Database, str]]:
    """A pool on a database of this test's own, which the test may cut off."""
    database = Database(migrated_database_url, min_size=1, max_size=1)
    await database.open()
    try:
        yield database, migrated_database_url.split("?")[0].rsplit("/", 1)[1]
    finally:
        await database.close()


async def test_a_database_that_goes_away_under_an_open_pool_is_unavailable(
    pg_server: str, own_db: tuple[Database, str]
) -> None:
    db, name = own_db
    data = await new_project(db)
    await insert(data, memory("Still here."))
    with psycopg.connect(pg_server, autocommit=True) as admin:
        admin.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s", (name,))
    with pytest.raises(DatabaseUnavailable):
        async with data.reading() as tables:
            await tables.memories.page(select({"user_id": "alice"}), ReadOptions(), offset=0, limit=10)
    await db.ping()  # the pool dropped the broken connection and reconnects: the database is back
    async with data.reading() as tables:
        total, _ = await tables.memories.page(select({"user_id": "alice"}), ReadOptions(), offset=0, limit=10)
    assert total == 1


async def test_a_value_too_large_for_an_index_is_rejected_and_nothing_is_written(project: ProjectData) -> None:
    # The exact-dedup index holds the speaker's name: an incompressible 4 kB name does not fit a btree entry.
    huge_name = secrets.token_hex(2048)
    with pytest.raises(ValueRejected) as raised:
        await insert(project, memory("Fine."), memory("Said by a very long name.", speaker=huge_name))
    assert isinstance(raised.value.__cause__, psycopg.errors.ProgramLimitExceeded)
    async with project.reading() as tables:
        total, _ = await tables.memories.page(select({"user_id": "alice"}), ReadOptions(), offset=0, limit=10)
    assert total == 0, "the whole transaction is rolled back"


async def test_a_value_the_database_cannot_hold_is_rejected(project: ProjectData) -> None:
    with pytest.raises(ValueRejected):
        await insert(project, memory("A NUL \x00 byte."))


async def test_a_statement_failing_for_a_reason_that_is_a_bug_is_a_storage_fault(db: Database) -> None:
    ghost = ProjectData(db, "proj_that_does_not_exist")
    with pytest.raises(StorageFault) as raised:
        await insert(ghost, memory("Nobody's memory."))
    assert not isinstance(raised.value, ValueRejected | DatabaseUnavailable)
    assert isinstance(raised.value.__cause__, psycopg.errors.ForeignKeyViolation)
