"""Fixtures of the repository tests: one migrated database per module, a fresh project per test.

Every test works in projects of its own (``project``, ``other_project``), so the tests of a module share
one database without seeing each other's rows; the queue tests, which claim across projects, get a fresh
database per test instead (``tests/storage/test_queue.py``).
"""

from __future__ import annotations

import pytest

from mnemo.storage import AccountStore, Database, ProjectData
from tests.storage.support import new_project


@pytest.fixture
def db(module_db: Database) -> Database:
    return module_db


@pytest.fixture
async def accounts(db: Database) -> AccountStore:
    return AccountStore(db)


@pytest.fixture
async def project(db: Database) -> ProjectData:
    return await new_project(db)


@pytest.fixture
async def other_project(db: Database) -> ProjectData:
    return await new_project(db)
