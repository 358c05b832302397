"""Storage: the only package that speaks SQL (PostgreSQL with pgvector) or imports its driver.

Split by table, each repository composing one :class:`~mnemo.storage.tenant.TenantGuard`:
accounts (organisations, projects, keys), memories, search legs, history, events and the job
queue, idempotency keys, exports. Driver errors leave as :mod:`mnemo.errors` (``database.translate``).
"""

from __future__ import annotations

from mnemo.storage.accounts import AccountStore, ApiKeyInfo, Principal
from mnemo.storage.database import Database
from mnemo.storage.deployment import VectorSpaceMismatch, claim_vector_space
from mnemo.storage.events import Job, JobQueue, LostClaim
from mnemo.storage.exports import StoredExport
from mnemo.storage.memories import KeptMemory
from mnemo.storage.migrate import migrate
from mnemo.storage.project import ProjectData, ProjectTables
from mnemo.storage.records import (
    Candidate,
    EventRecord,
    HistoryEntry,
    KeywordBounds,
    KeywordMatches,
    MemoryPatch,
    NewMemory,
    ProjectRecord,
    ReadOptions,
    Vector,
)
from mnemo.storage.vector_index import HNSW_EF_SEARCH, ensure_vector_index

__all__ = [
    "HNSW_EF_SEARCH",
    "AccountStore",
    "ApiKeyInfo",
    "Candidate",
    "Database",
    "EventRecord",
    "HistoryEntry",
    "Job",
    "JobQueue",
    "KeptMemory",
    "KeywordBounds",
    "KeywordMatches",
    "LostClaim",
    "MemoryPatch",
    "NewMemory",
    "Principal",
    "ProjectData",
    "ProjectRecord",
    "ProjectTables",
    "ReadOptions",
    "StoredExport",
    "Vector",
    "VectorSpaceMismatch",
    "claim_vector_space",
    "ensure_vector_index",
    "migrate",
]
