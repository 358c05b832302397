"""One project's members (``project_members``): email addresses with a role, READER or OWNER.

The keys issued to a member (``api_keys.member_email``) take the member's role when they authenticate
(:meth:`mnemo.storage.accounts.AccountStore.authenticate`); removing a member revokes them here, in the same
transaction.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from mnemo.domain.members import MemberRole
from mnemo.storage.database import Conn
from mnemo.storage.tenant import TenantGuard

_COLUMNS = "email, role, created_at, updated_at"


@dataclass(frozen=True, slots=True)
class MemberRecord:
    email: str
    role: MemberRole
    created_at: datetime
    updated_at: datetime


class MemberStore:
    __slots__ = ("_conn", "_guard", "access_changed")

    def __init__(self, conn: Conn, guard: TenantGuard) -> None:
        self._conn = conn
        self._guard = guard
        #: Set when a change to who may call was made (read by :class:`~mnemo.storage.project.ProjectData`).
        self.access_changed = False

    async def all(self) -> list[MemberRecord]:
        """The members, in the order they were added."""
        statement = self._guard.sql(
            "SELECT " + _COLUMNS + " FROM project_members WHERE {tenant} ORDER BY created_at, email"
        )
        rows = await (await self._conn.execute(statement)).fetchall()
        return [MemberRecord(**{**row, "role": MemberRole(row["role"])}) for row in rows]

    async def add(self, email: str, role: MemberRole) -> bool:
        """Add a member; False when the email is already one (nothing changes)."""
        statement = self._guard.sql(
            "INSERT INTO project_members (project_id, email, role) VALUES ({project}, %s, %s) ON CONFLICT DO NOTHING"
        )
        cursor = await self._conn.execute(statement, (email, role.value))
        return cursor.rowcount == 1

    async def set_role(self, email: str, role: MemberRole) -> bool:
        """Change a member's role; False when the email is not a member."""
        statement = self._guard.sql(
            "UPDATE project_members SET role = %s, updated_at = now() WHERE {tenant} AND email = %s"
        )
        cursor = await self._conn.execute(statement, (role.value, email))
        self.access_changed = True
        return cursor.rowcount == 1

    async def remove(self, email: str) -> int | None:
        """Remove a member and revoke the keys issued to them: how many were revoked, or None when the email is
        not a member."""
        removed = await self._conn.execute(
            self._guard.sql("DELETE FROM project_members WHERE {tenant} AND email = %s"), (email,)
        )
        if removed.rowcount != 1:
            return None
        self.access_changed = True
        revoked = await self._conn.execute(
            self._guard.sql(
                "UPDATE api_keys SET revoked_at = now() WHERE {tenant} AND member_email = %s AND revoked_at IS NULL"
            ),
            (email,),
        )
        return revoked.rowcount
