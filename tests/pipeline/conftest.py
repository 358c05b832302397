"""Fixtures of the pipeline tests: one migrated database per module with a fresh project per test (the
ingestor and the retriever only ever touch one project). The embedding batcher comes from tests/conftest.py."""

from __future__ import annotations

import uuid

import pytest

from mnemo.storage import AccountStore, Database, ProjectData


@pytest.fixture
def db(module_db: Database) -> Database:
    return module_db


@pytest.fixture
async def project(db: Database) -> ProjectData:
    return ProjectData(db, await AccountStore(db).ensure_project(f"proj_{uuid.uuid4().hex[:12]}"))
