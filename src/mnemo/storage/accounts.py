"""The account tables: organisations, projects and API keys. Not tenant-scoped: these rows decide
which project a caller is."""

from __future__ import annotations

import hashlib
import hmac
import secrets
import uuid
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from datetime import datetime

from mnemo.domain.members import MemberRole
from mnemo.storage.database import Conn, Database
from mnemo.storage.key_cache import ACCESS_CHANNEL, KeyCache

KEY_PREFIX = "m0"


@dataclass(frozen=True, slots=True)
class Principal:
    """Who is calling: the project an API key belongs to, and the member it was issued to (None: the project's
    own key). ``read_only`` is the key's flag or the member's READER role, as it stands at this request."""

    key_id: uuid.UUID
    project_id: str
    org_id: str
    read_only: bool
    member_email: str | None = None
    role: MemberRole | None = None


@dataclass(frozen=True, slots=True)
class ApiKeyInfo:
    id: uuid.UUID
    project_id: str
    name: str | None
    prefix: str
    read_only: bool
    created_at: datetime
    revoked_at: datetime | None
    member_email: str | None


@dataclass(frozen=True, slots=True)
class Organization:
    id: str
    name: str
    created_at: datetime


def hash_key(key: str) -> bytes:
    return hashlib.sha256(key.encode("utf-8")).digest()


def new_key() -> str:
    """A fresh random API key; shown once, stored only as a hash."""
    return f"{KEY_PREFIX}-{secrets.token_urlsafe(32)}"


class AccountStore:
    def __init__(self, db: Database, *, remember_keys_seconds: float = 0.0) -> None:
        """``remember_keys_seconds`` above 0: authenticate through a :class:`~mnemo.storage.key_cache.KeyCache`
        that keeps a key at most that long (a serving process; close it with :meth:`aclose`)."""
        self.db = db
        self._keys: KeyCache | None = None
        if remember_keys_seconds > 0:
            self._keys = KeyCache(self._look_up, self._access_changes, max_age_seconds=remember_keys_seconds)
            db.watch_access(self._keys.forget)

    async def aclose(self) -> None:
        if self._keys is not None:
            await self._keys.aclose()

    # --- projects -------------------------------------------------------------------------

    async def ensure_project(self, project_id: str | None = None, *, name: str | None = None) -> str:
        """Return the id of ``project_id`` (created if new), or of the default project."""
        async with self.db.transaction() as conn:
            if project_id is None:
                row = await (await conn.execute("SELECT id FROM projects WHERE is_default")).fetchone()
                if row is not None:
                    return str(row["id"])
            org = await self._default_org(conn)
            if project_id is not None:
                row = await (await conn.execute("SELECT id FROM projects WHERE id = %s", (project_id,))).fetchone()
                if row is not None:
                    return str(row["id"])
            new_id = project_id or f"proj_{secrets.token_hex(8)}"
            await conn.execute(
                "INSERT INTO projects (id, org_id, name, is_default) VALUES (%s, %s, %s, %s) ON CONFLICT DO NOTHING",
                (new_id, org, name or (project_id or "default"), project_id is None),
            )
            if project_id is None:
                row = await (await conn.execute("SELECT id FROM projects WHERE is_default")).fetchone()
                assert row is not None
                return str(row["id"])
            return new_id

    async def create_project(self, org_id: str, name: str, description: str | None) -> str:
        """A new, empty project of the organisation; its id."""
        project_id = f"proj_{secrets.token_hex(8)}"
        async with self.db.transaction() as conn:
            await conn.execute(
                "INSERT INTO projects (id, org_id, name, description) VALUES (%s, %s, %s, %s)",
                (project_id, org_id, name, description),
            )
        return project_id

    async def project_exists(self, project_id: str) -> bool:
        async with self.db.connection() as conn:
            row = await (await conn.execute("SELECT 1 FROM projects WHERE id = %s", (project_id,))).fetchone()
        return row is not None

    async def organization(self, org_id: str) -> Organization | None:
        async with self.db.connection() as conn:
            row = await (
                await conn.execute("SELECT id, name, created_at FROM organizations WHERE id = %s", (org_id,))
            ).fetchone()
        return Organization(**row) if row else None

    async def _default_org(self, conn: Conn) -> str:
        row = await (await conn.execute("SELECT id FROM organizations ORDER BY created_at LIMIT 1")).fetchone()
        if row is not None:
            return str(row["id"])
        org_id = f"org_{secrets.token_hex(8)}"
        await conn.execute("INSERT INTO organizations (id, name) VALUES (%s, 'default')", (org_id,))
        return org_id

    # --- API keys -------------------------------------------------------------------------

    async def create_key(self, project_id: str, *, name: str | None = None, read_only: bool = False) -> str:
        key = new_key()
        await self.store_key(project_id, key, name=name, read_only=read_only)
        return key

    async def store_key(self, project_id: str, key: str, *, name: str | None = None, read_only: bool = False) -> None:
        """Store ``key`` (as a hash) for the project; a no-op if it is already stored."""
        async with self.db.transaction() as conn:
            await conn.execute(
                "INSERT INTO api_keys (id, project_id, name, key_hash, prefix, read_only)"
                " VALUES (%s, %s, %s, %s, %s, %s) ON CONFLICT (key_hash) DO NOTHING",
                (uuid.uuid4(), project_id, name, hash_key(key), key[:8], read_only),
            )

    async def create_member_key(
        self, project_id: str, email: str, *, name: str | None = None, read_only: bool = False
    ) -> tuple[str, MemberRole] | None:
        """A new key issued to the member ``email`` of the project, and the member's role now; None when the
        project has no such member (no key is made)."""
        key = new_key()
        async with self.db.transaction() as conn:
            row = await (
                await conn.execute(
                    "SELECT role FROM project_members WHERE project_id = %s AND email = %s FOR SHARE",
                    (project_id, email),
                )
            ).fetchone()
            if row is None:
                return None
            await conn.execute(
                "INSERT INTO api_keys (id, project_id, name, key_hash, prefix, read_only, member_email)"
                " VALUES (%s, %s, %s, %s, %s, %s, %s)",
                (uuid.uuid4(), project_id, name, hash_key(key), key[:8], read_only, email),
            )
        return key, MemberRole(row["role"])

    async def count_keys(self) -> int:
        async with self.db.connection() as conn:
            row = await (await conn.execute("SELECT count(*) AS n FROM api_keys")).fetchone()
            return int(row["n"]) if row else 0

    async def list_keys(self) -> list[ApiKeyInfo]:
        async with self.db.connection() as conn:
            rows = await (
                await conn.execute(
                    "SELECT id, project_id, name, prefix, read_only, created_at, revoked_at, member_email"
                    " FROM api_keys ORDER BY created_at"
                )
            ).fetchall()
        return [ApiKeyInfo(**row) for row in rows]

    async def revoke_key(self, key_id: uuid.UUID) -> bool:
        async with self.db.transaction() as conn:
            cur = await conn.execute(
                "UPDATE api_keys SET revoked_at = now() WHERE id = %s AND revoked_at IS NULL", (key_id,)
            )
        self.db.access_changed()
        return cur.rowcount == 1

    async def authenticate(self, key: str) -> Principal | None:
        """The principal of a valid, unrevoked key (of a member who still is one), else None."""
        if self._keys is not None:
            return await self._keys.authenticate(key)
        return await self._look_up(key)

    async def _access_changes(self, listening: Callable[[], None]) -> AsyncIterator[None]:
        """Yield whenever keys, members or projects may have changed (``listening``: from now on)."""
        async for _ in self.db.listen(ACCESS_CHANNEL, listening=listening):
            yield

    async def _look_up(self, key: str) -> Principal | None:
        digest = hash_key(key)
        async with self.db.connection() as conn:
            row = await (
                await conn.execute(
                    "SELECT k.id, k.key_hash, k.project_id, k.read_only, k.member_email, m.role, p.org_id"
                    " FROM api_keys k JOIN projects p ON p.id = k.project_id"
                    " LEFT JOIN project_members m ON m.project_id = k.project_id AND m.email = k.member_email"
                    " WHERE k.key_hash = %s AND k.revoked_at IS NULL"
                    " AND (k.member_email IS NULL OR m.role IS NOT NULL)",
                    (digest,),
                )
            ).fetchone()
        if row is None or not hmac.compare_digest(bytes(row["key_hash"]), digest):
            return None
        role = MemberRole(row["role"]) if row["role"] is not None else None
        read_only = bool(row["read_only"]) or role is MemberRole.READER
        return Principal(row["id"], row["project_id"], row["org_id"], read_only, row["member_email"], role)
