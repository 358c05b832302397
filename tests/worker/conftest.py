"""Fixtures of the worker tests: a fresh migrated database per test (the queue claims across projects) and a
project. The embedding batcher comes from tests/conftest.py."""

from __future__ import annotations

import pytest

from mnemo.storage import AccountStore, Database, ProjectData


@pytest.fixture
def db(fresh_db: Database) -> Database:
    return fresh_db


@pytest.fixture
async def project(db: Database) -> ProjectData:
    return ProjectData(db, await AccountStore(db).ensure_project("proj_worker"))
