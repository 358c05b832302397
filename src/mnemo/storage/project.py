"""One project's data: the entry point to its tables, each reached through a repository that scopes every
statement by the project (:class:`~mnemo.storage.tenant.TenantGuard`).

``async with ProjectData(db, project_id).transaction() as tables:`` gives the repositories bound to one
connection inside one transaction; ``reading()`` gives them on an autocommit connection (one round trip
a statement). Repositories are cheap: a session builds them all.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import AbstractAsyncContextManager, asynccontextmanager

from psycopg.types.json import Jsonb

from mnemo.domain.projects import ProjectSettings
from mnemo.errors import NotFound
from mnemo.storage.database import Conn, Database
from mnemo.storage.deliveries import DeliveryLog
from mnemo.storage.entities import EntityStore
from mnemo.storage.events import EventStore
from mnemo.storage.exports import ExportStore
from mnemo.storage.feedback import FeedbackStore
from mnemo.storage.history import HistoryStore
from mnemo.storage.idempotency import IdempotencyStore
from mnemo.storage.members import MemberStore
from mnemo.storage.memories import MemoryStore
from mnemo.storage.profiles import ProfileStore
from mnemo.storage.records import ProjectRecord, settings_from_column
from mnemo.storage.search import SearchStore
from mnemo.storage.tenant import TenantGuard
from mnemo.storage.webhooks import WebhookStore

_PROJECT_COLUMNS = "id, org_id, name, description, settings, is_default, created_at, updated_at"


class ProjectStore:
    """The project's own row (``projects``): name, description, settings."""

    __slots__ = ("_conn", "_guard", "access_changed")

    def __init__(self, conn: Conn, guard: TenantGuard) -> None:
        self._conn = conn
        self._guard = guard
        #: Set when a change to who may call was made (read by :class:`~mnemo.storage.project.ProjectData`).
        self.access_changed = False

    async def get(self) -> ProjectRecord:
        statement = self._guard.sql("SELECT " + _PROJECT_COLUMNS + " FROM projects WHERE id = {project}")
        row = await (await self._conn.execute(statement)).fetchone()
        if row is None:  # deleted since the caller's key (or the job's event) was read
            raise NotFound(f"Project {self._guard.project_id} no longer exists.")
        return ProjectRecord(**{**row, "settings": settings_from_column(row["settings"])})

    async def update(self, *, name: str | None, description: str | None, settings: ProjectSettings) -> None:
        """Set the name and description when given; merge the keys ``settings`` sets into the stored ones."""
        statement = self._guard.sql(
            "UPDATE projects SET name = coalesce(%s, name), description = coalesce(%s, description),"
            " settings = settings || %s, updated_at = now() WHERE id = {project}"
        )
        await self._conn.execute(statement, (name, description, Jsonb(settings.stored())))

    async def delete(self) -> None:
        """Delete the project and, by the foreign keys' ON DELETE CASCADE, everything it owns: memories, history,
        events and jobs, exports, webhooks and deliveries, entities, feedback, profiles, members and API keys."""
        await self._conn.execute(self._guard.sql("DELETE FROM projects WHERE id = {project}"))
        self.access_changed = True


class ProjectTables:
    """The repositories of one project, bound to one connection."""

    __slots__ = (
        "deliveries",
        "entities",
        "events",
        "exports",
        "feedback",
        "history",
        "idempotency",
        "members",
        "memories",
        "profiles",
        "project",
        "search",
        "webhooks",
    )

    def __init__(self, conn: Conn, guard: TenantGuard) -> None:
        self.history = HistoryStore(conn, guard)
        self.exports = ExportStore(conn, guard)
        self.events = EventStore(conn, guard)
        self.idempotency = IdempotencyStore(conn, guard)
        self.deliveries = DeliveryLog(conn, guard)
        self.webhooks = WebhookStore(conn, guard)
        self.memories = MemoryStore(
            conn,
            guard,
            history=self.history,
            exports=self.exports,
            events=self.events,
            idempotency=self.idempotency,
            deliveries=self.deliveries,
        )
        self.search = SearchStore(conn, guard)
        self.project = ProjectStore(conn, guard)
        self.entities = EntityStore(conn, guard)
        self.feedback = FeedbackStore(conn, guard)
        self.profiles = ProfileStore(conn, guard)
        self.members = MemberStore(conn, guard)


class ProjectData:
    """Everything one project owns. Construct one per request or job (cheap)."""

    __slots__ = ("_db", "_guard", "project_id")

    def __init__(self, db: Database, project_id: str) -> None:
        self._db = db
        self._guard = TenantGuard(project_id)
        self.project_id = project_id

    def reading(self) -> AbstractAsyncContextManager[ProjectTables]:
        """The repositories on an autocommit connection: each statement stands alone."""
        return self._tables(self._db.connection())

    def one_statement(self) -> AbstractAsyncContextManager[ProjectTables]:
        """For a write that is one statement (atomic by itself, e.g. :meth:`MemoryStore.insert_add`): the
        repositories on an autocommit connection, without the round trips of a transaction's BEGIN and COMMIT, whose
        statements are planned once (:meth:`Database.planned_once`: only for statements whose plan cannot depend on
        their values)."""
        return self._tables(self._db.planned_once())

    def transaction(self) -> AbstractAsyncContextManager[ProjectTables]:
        """The repositories inside one transaction, committed when the block ends without an error."""
        return self._tables(self._db.transaction())

    @asynccontextmanager
    async def _tables(self, connection: AbstractAsyncContextManager[Conn]) -> AsyncIterator[ProjectTables]:
        async with connection as conn:
            tables = ProjectTables(conn, self._guard)
            yield tables
        self._committed(tables)

    def _committed(self, tables: ProjectTables) -> None:
        if tables.members.access_changed or tables.project.access_changed:
            self._db.access_changed()

    async def settings(self) -> ProjectSettings:
        """The project's settings (instructions, categories, LLM choice...) as stored by PATCH project."""
        async with self.reading() as tables:
            return (await tables.project.get()).settings
