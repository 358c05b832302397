"""One project's webhooks (``webhooks``): where its memory changes are POSTed, and the secret that signs them.

Their deliveries are :mod:`mnemo.storage.deliveries`; deleting a webhook deletes its deliveries (log included).
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from mnemo.storage.database import Conn
from mnemo.storage.tenant import TenantGuard

_COLUMNS = "id, name, url, event_types, secret, owner, is_active, created_at, updated_at"


@dataclass(frozen=True, slots=True)
class WebhookRecord:
    id: uuid.UUID
    project_id: str
    name: str
    url: str
    event_types: list[str]
    secret: str
    owner: str
    is_active: bool
    created_at: datetime
    updated_at: datetime


@dataclass(frozen=True, slots=True)
class WebhookChange:
    """What an update sets; ``None`` leaves a field as it is."""

    name: str | None = None
    url: str | None = None
    event_types: Sequence[str] | None = None
    is_active: bool | None = None


class WebhookStore:
    __slots__ = ("_conn", "_guard")

    def __init__(self, conn: Conn, guard: TenantGuard) -> None:
        self._conn = conn
        self._guard = guard

    def _record(self, row: dict[str, Any]) -> WebhookRecord:
        return WebhookRecord(project_id=self._guard.project_id, **row)

    async def create(
        self, *, name: str, url: str, event_types: Sequence[str], secret: str, owner: str
    ) -> WebhookRecord:
        statement = self._guard.sql(
            "INSERT INTO webhooks (project_id, id, name, url, event_types, secret, owner)"
            " VALUES ({project}, %s, %s, %s, %s, %s, %s) RETURNING " + _COLUMNS
        )
        values = (uuid.uuid4(), name, url, list(event_types), secret, owner)
        row = await (await self._conn.execute(statement, values)).fetchone()
        assert row is not None
        return self._record(row)

    async def all(self) -> list[WebhookRecord]:
        """The project's webhooks, oldest first."""
        statement = self._guard.sql("SELECT " + _COLUMNS + " FROM webhooks WHERE {tenant} ORDER BY created_at, id")
        rows = await (await self._conn.execute(statement)).fetchall()
        return [self._record(row) for row in rows]

    async def get(self, webhook_id: uuid.UUID) -> WebhookRecord | None:
        statement = self._guard.sql("SELECT " + _COLUMNS + " FROM webhooks WHERE {tenant} AND id = %s")
        row = await (await self._conn.execute(statement, (webhook_id,))).fetchone()
        return self._record(row) if row else None

    async def update(self, webhook_id: uuid.UUID, change: WebhookChange) -> WebhookRecord | None:
        """Apply ``change``; None when the project has no such webhook."""
        statement = self._guard.sql(
            "UPDATE webhooks SET name = coalesce(%s, name), url = coalesce(%s, url),"
            " event_types = coalesce(%s, event_types), is_active = coalesce(%s, is_active),"
            " updated_at = clock_timestamp() WHERE {tenant} AND id = %s RETURNING " + _COLUMNS
        )
        types = list(change.event_types) if change.event_types is not None else None
        values = (change.name, change.url, types, change.is_active, webhook_id)
        row = await (await self._conn.execute(statement, values)).fetchone()
        return self._record(row) if row else None

    async def delete(self, webhook_id: uuid.UUID) -> bool:
        """Delete the webhook and its deliveries; False when the project has no such webhook."""
        statement = self._guard.sql("DELETE FROM webhooks WHERE {tenant} AND id = %s")
        return (await self._conn.execute(statement, (webhook_id,))).rowcount > 0
