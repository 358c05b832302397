"""Profiles of one project's users: the generation settings (``profile_settings``), each user's profile (on
its ``entities`` row, so it goes with the entity) and the generation jobs (``profile_jobs``).

A profile is forgotten when any memory of its user is deleted (the ``memories_forget_profiles`` trigger of
migration 0011): it was written from them.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from psycopg.types.json import Jsonb

from mnemo.storage.database import Conn
from mnemo.storage.tenant import TenantGuard

#: Profiles are generated unless a project turns them off.
DEFAULT_ENABLED = True


@dataclass(frozen=True, slots=True)
class ProfileSettingsRecord:
    enabled: bool
    schema: dict[str, Any] | None
    custom_instructions: str | None


@dataclass(frozen=True, slots=True)
class StoredProfile:
    """A user's profile as last generated (``profile`` None: never generated, or forgotten since)."""

    profile: dict[str, Any] | None
    by: str | None
    error: str | None
    updated_at: datetime | None
    generations: int


@dataclass(frozen=True, slots=True)
class ProfileJob:
    id: uuid.UUID
    operation: str
    entity_type: str
    entity_ids: list[str]
    status: str
    succeeded: int
    failed: int
    skipped: int
    error: str | None
    created_at: datetime
    completed_at: datetime | None


class ProfileStore:
    __slots__ = ("_conn", "_guard")

    def __init__(self, conn: Conn, guard: TenantGuard) -> None:
        self._conn = conn
        self._guard = guard

    # --- settings ----------------------------------------------------------------------------

    async def settings(self) -> ProfileSettingsRecord:
        statement = self._guard.sql("SELECT enabled, schema, custom_instructions FROM profile_settings WHERE {tenant}")
        row = await (await self._conn.execute(statement)).fetchone()
        return ProfileSettingsRecord(**row) if row else ProfileSettingsRecord(DEFAULT_ENABLED, None, None)

    async def save_settings(self, settings: ProfileSettingsRecord) -> None:
        statement = self._guard.sql(
            "INSERT INTO profile_settings (project_id, enabled, schema, custom_instructions)"
            " VALUES ({project}, %s, %s, %s) ON CONFLICT (project_id) DO UPDATE SET enabled = excluded.enabled,"
            " schema = excluded.schema, custom_instructions = excluded.custom_instructions,"
            " updated_at = clock_timestamp()"
        )
        schema = Jsonb(settings.schema) if settings.schema is not None else None
        await self._conn.execute(statement, (settings.enabled, schema, settings.custom_instructions))

    # --- profiles ----------------------------------------------------------------------------

    async def profile(self, user_id: str) -> StoredProfile | None:
        """The user's profile, or None when the project has no such user."""
        statement = self._guard.sql(
            "SELECT profile, profile_by AS by, profile_error AS error, profile_updated_at AS updated_at,"
            " profile_generations AS generations FROM entities WHERE {tenant} AND kind = 'user' AND name = %s"
        )
        row = await (await self._conn.execute(statement, (user_id,))).fetchone()
        return StoredProfile(**row) if row else None

    async def write(self, user_id: str, profile: dict[str, Any], *, by: str, error: str | None) -> bool:
        """Store a new generation of the user's profile; False when the user was deleted meanwhile."""
        statement = self._guard.sql(
            "UPDATE entities SET profile = %s, profile_by = %s, profile_error = %s,"
            " profile_updated_at = clock_timestamp(), profile_generations = profile_generations + 1"
            " WHERE {tenant} AND kind = 'user' AND name = %s RETURNING id"
        )
        row = await (await self._conn.execute(statement, (Jsonb(profile), by, error, user_id))).fetchone()
        return row is not None

    async def sample_users(self, limit: int) -> list[str]:
        """Up to ``limit`` users, those with the most current memories first."""
        statement = self._guard.sql(
            "SELECT e.name FROM entities e JOIN LATERAL (SELECT count(*) AS n FROM memories m"
            "  WHERE m.{tenant} AND m.user_id = e.name AND m.replaced_by IS NULL) owned ON TRUE"
            " WHERE e.{tenant} AND e.kind = 'user' AND owned.n > 0 ORDER BY owned.n DESC, e.name LIMIT %s"
        )
        return [row["name"] for row in await (await self._conn.execute(statement, (limit,))).fetchall()]

    # --- jobs --------------------------------------------------------------------------------

    async def create_job(self, operation: str, entity_type: str, entity_ids: Sequence[str]) -> uuid.UUID:
        job_id = uuid.uuid4()
        statement = self._guard.sql(
            "INSERT INTO profile_jobs (project_id, id, operation, entity_type, entity_ids, status)"
            " VALUES ({project}, %s, %s, %s, %s, 'running')"
        )
        await self._conn.execute(statement, (job_id, operation, entity_type, list(entity_ids)))
        return job_id

    async def finish_job(
        self, job_id: uuid.UUID, *, succeeded: int, failed: int, skipped: int, error: str | None
    ) -> None:
        """The job ended: failed when no entity succeeded and one failed, else succeeded."""
        statement = self._guard.sql(
            "UPDATE profile_jobs SET status = CASE WHEN %s > 0 AND %s = 0 THEN 'failed' ELSE 'succeeded' END,"
            " succeeded = %s, failed = %s, skipped = %s, error = %s, completed_at = clock_timestamp()"
            " WHERE {tenant} AND id = %s"
        )
        await self._conn.execute(statement, (failed, succeeded, succeeded, failed, skipped, error, job_id))

    async def job(self, job_id: uuid.UUID) -> ProfileJob | None:
        statement = self._guard.sql(
            "SELECT id, operation, entity_type, entity_ids, status, succeeded, failed, skipped, error, created_at,"
            " completed_at FROM profile_jobs WHERE {tenant} AND id = %s"
        )
        row = await (await self._conn.execute(statement, (job_id,))).fetchone()
        return ProfileJob(**{**row, "entity_ids": list(row["entity_ids"])}) if row else None
