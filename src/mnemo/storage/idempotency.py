"""Idempotency keys (``idempotency_keys``): a retried write with the same key gets the first response."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import Any

from psycopg.types.json import Jsonb

from mnemo.storage.database import Conn
from mnemo.storage.records import redacted_results
from mnemo.storage.tenant import TenantGuard


class IdempotencyStore:
    __slots__ = ("_conn", "_guard")

    def __init__(self, conn: Conn, guard: TenantGuard) -> None:
        self._conn = conn
        self._guard = guard

    async def claim(self, key: str, route: str, request_hash: str) -> tuple[str, dict[str, Any]] | None:
        """Inside the write's transaction: reserve ``key`` (None), or return the (request hash, response)
        stored for it. A concurrent request with the same key waits on the row until the first one commits."""
        statement = self._guard.sql(
            "INSERT INTO idempotency_keys (project_id, key, route, request_hash, response)"
            " VALUES ({project}, %s, %s, %s, 'null'::jsonb) ON CONFLICT DO NOTHING RETURNING key"
        )
        if await (await self._conn.execute(statement, (key, route, request_hash))).fetchone() is not None:
            return None
        existing = self._guard.sql("SELECT request_hash, response FROM idempotency_keys WHERE {tenant} AND key = %s")
        row = await (await self._conn.execute(existing, (key,))).fetchone()
        assert row is not None
        return str(row["request_hash"]), dict(row["response"] or {})

    async def redact(self, event_ids: Sequence[uuid.UUID], deleted: Sequence[uuid.UUID]) -> None:
        """Forget the text of deleted memories in the stored responses of the adds (``event_ids``) that wrote
        them: a replayed add answers with their ids, marked deleted, without their text."""
        if not event_ids:
            return
        statement = self._guard.sql(
            "UPDATE idempotency_keys SET response = jsonb_set(response, '{{results}}', "
            + redacted_results("response -> 'results'")
            + ") WHERE {tenant} AND response ->> 'event_id' = ANY(%s::text[])"
            " AND jsonb_typeof(response -> 'results') = 'array'"
        )
        await self._conn.execute(statement, ([str(i) for i in deleted], [str(i) for i in event_ids]))

    async def store_response(self, key: str, response: dict[str, Any]) -> None:
        statement = self._guard.sql("UPDATE idempotency_keys SET response = %s WHERE {tenant} AND key = %s")
        await self._conn.execute(statement, (Jsonb(response), key))
