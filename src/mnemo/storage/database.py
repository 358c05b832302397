"""The connection pool, and the one place driver errors become mnemo's errors.

Every connection mnemo uses comes from :meth:`Database.connection`, :meth:`Database.transaction` or
:meth:`Database.planned_once` (or, for the worker's notifications, :meth:`Database.listen`); each translates
``psycopg`` errors raised inside its block into the :mod:`mnemo.errors` tree, so no caller outside ``mnemo.storage``
ever handles a driver exception.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any, Literal, NoReturn

import psycopg
from pgvector.psycopg import register_vector_async
from psycopg import errors as pg_errors
from psycopg.rows import dict_row
from psycopg.types.json import set_json_loads
from psycopg_pool import AsyncConnectionPool
from pydantic_core import from_json

from mnemo.errors import DatabaseUnavailable, StorageFault, ValueRejected

logger = logging.getLogger(__name__)

Conn = psycopg.AsyncConnection[dict[str, Any]]

#: Errors after which the same statement may succeed: the server went away, or it lost a lock race.
_TRANSIENT = (
    psycopg.OperationalError,
    psycopg.InterfaceError,
    pg_errors.SerializationFailure,
    pg_errors.DeadlockDetected,
    pg_errors.LockNotAvailable,
    pg_errors.AdminShutdown,
    pg_errors.CannotConnectNow,
)
#: Errors about a value the caller sent: too large for an index, out of a type's range, malformed.
_REJECTED = (psycopg.DataError, pg_errors.ProgramLimitExceeded)


def translate(exc: psycopg.Error) -> NoReturn:
    """Raise the :mod:`mnemo.errors` equivalent of a driver error (chained to it)."""
    message = (exc.diag.message_primary if exc.diag else None) or str(exc) or type(exc).__name__
    if isinstance(exc, _REJECTED):
        raise ValueRejected(f"A value could not be stored: {message}.") from exc
    if isinstance(exc, _TRANSIENT):
        raise DatabaseUnavailable(f"The database is unavailable or busy ({message}); try again.") from exc
    raise StorageFault(f"A database statement failed: {message}") from exc


async def _configure(conn: psycopg.AsyncConnection[Any]) -> None:
    await _configure_plans(conn, "force_custom_plan")


async def _configure_planned_once(conn: psycopg.AsyncConnection[Any]) -> None:
    await _configure_plans(conn, "force_generic_plan")


async def _configure_plans(
    conn: psycopg.AsyncConnection[Any], plan_cache_mode: Literal["force_custom_plan", "force_generic_plan"]
) -> None:
    await register_vector_async(conn)
    # JSON columns (metadata, payloads) decoded by pydantic-core's parser: the same values as ``json.loads``
    # (big integers and all), in a third of the time.
    set_json_loads(from_json, conn)
    await conn.execute("SET TIME ZONE 'UTC'")
    # The pool's connections plan a prepared statement for its parameters at every execution, as an unnamed one is:
    # a generic plan cannot know how many rows a scope holds, and once picked plans for the search that took seconds
    # instead of milliseconds (bench/README.md). Those of ``Database.planned_once`` plan it once (a generic plan).
    await conn.execute("SET plan_cache_mode = " + plan_cache_mode)
    await conn.commit()


@dataclass(frozen=True, slots=True)
class PoolStats:
    """The pool now: connections open, lent out, the callers waiting for one, and its maximum size."""

    size: int
    in_use: int
    waiting: int
    max_size: int


class Database:
    """Owns the pool. Open with ``await db.open()``, close with ``await db.close()``."""

    def __init__(
        self,
        conninfo: str,
        *,
        min_size: int = 2,
        max_size: int = 16,
        prepare: bool = False,
        planned_once: bool = False,
    ) -> None:
        """``prepare``: a statement a connection runs a second time is prepared on it (PostgreSQL then parses it
        once per connection; a search's three statements spent ~0.6 ms of its ~5 ms of PostgreSQL CPU parsing).
        Off where a pooler in transaction mode may hand each transaction another backend. ``planned_once``: with
        ``prepare``, a quarter of the ``max_size`` connections (at least one, of two or more) are those of
        :meth:`planned_once`, for a process that serves the API's one-statement writes; otherwise that method lends
        the pool's own."""
        self.conninfo = conninfo
        self._access_watchers: list[Callable[[], None]] = []
        # Autocommit: a read is one round trip, not BEGIN + query + ROLLBACK; writes that belong together go through
        # ``transaction()``.
        kwargs = {"row_factory": dict_row, "prepare_threshold": 1 if prepare else None, "autocommit": True}
        share = max(1, max_size // 4) if planned_once and prepare and max_size >= 2 else 0
        self.pool: AsyncConnectionPool[Conn] = AsyncConnectionPool(
            conninfo,
            min_size=min(min_size, max_size - share),
            max_size=max_size - share,
            open=False,
            configure=_configure,
            kwargs=kwargs,
            connection_class=Conn,
        )
        self._planned_once: AsyncConnectionPool[Conn] = (
            AsyncConnectionPool(
                conninfo,
                min_size=1,
                max_size=share,
                open=False,
                configure=_configure_planned_once,
                kwargs=kwargs,
                connection_class=Conn,
            )
            if share
            else self.pool
        )

    def watch_access(self, forget: Callable[[], None]) -> None:
        """Call ``forget`` whenever this process has committed a change to who may call (a key revoked, a member
        removed or demoted, a project deleted); other processes' changes arrive as notifications
        (:mod:`mnemo.storage.key_cache`)."""
        self._access_watchers.append(forget)

    def access_changed(self) -> None:
        """Tell the watchers that a change to access has just been committed."""
        for forget in self._access_watchers:
            forget()

    async def open(self) -> None:
        try:
            await self.pool.open(wait=True, timeout=30)
            if self._planned_once is not self.pool:
                await self._planned_once.open(wait=True, timeout=30)
        except psycopg.Error as exc:
            translate(exc)

    async def close(self) -> None:
        if self._planned_once is not self.pool:
            await self._planned_once.close()
        await self.pool.close()

    @asynccontextmanager
    async def connection(self) -> AsyncIterator[Conn]:
        """A pooled autocommit connection: each statement is its own transaction."""
        try:
            async with self.pool.connection() as conn:
                yield conn
        except psycopg.Error as exc:
            translate(exc)

    @asynccontextmanager
    async def planned_once(self) -> AsyncIterator[Conn]:
        """A pooled autocommit connection on which a prepared statement is planned once, at its first execution, and
        that plan (a generic one) serves every later execution: for statements whose best plan cannot depend on their
        values, such as a verbatim add's INSERT (the same plan for any scope and text), never for a search.
        PostgreSQL planned that INSERT in ~0.5 ms at every add after a pause (bench/README.md). Without prepared
        statements, or without ``Database(planned_once=True)``, the pool's own (each statement is planned at every
        execution)."""
        try:
            async with self._planned_once.connection() as conn:
                yield conn
        except psycopg.Error as exc:
            translate(exc)

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[Conn]:
        """A pooled connection inside one transaction, committed when the block ends without an error."""
        try:
            async with self.pool.connection() as conn, conn.transaction():
                yield conn
        except psycopg.Error as exc:
            translate(exc)

    def pool_stats(self) -> PoolStats:
        """What the pools hold and lend now, together (no I/O)."""
        pools = [self.pool] if self._planned_once is self.pool else [self.pool, self._planned_once]
        stats = [pool.get_stats() for pool in pools]
        size = sum(s.get("pool_size", 0) for s in stats)
        return PoolStats(
            size=size,
            in_use=max(0, size - sum(s.get("pool_available", 0) for s in stats)),
            waiting=sum(s.get("requests_waiting", 0) for s in stats),
            max_size=sum(pool.max_size for pool in pools),
        )

    async def ping(self) -> None:
        """One round trip; raises :class:`~mnemo.errors.DatabaseUnavailable` when the database is away."""
        async with self.connection() as conn:
            await conn.execute("SELECT 1")

    async def listen(self, channel: str, *, listening: Callable[[], None] | None = None) -> AsyncIterator[None]:
        """Yield once per notification on ``channel``, on a dedicated connection (not the pool's);
        ``listening`` is called once the channel is listened to (notifications from then on arrive)."""
        try:
            async with await psycopg.AsyncConnection.connect(self.conninfo, autocommit=True) as conn:
                await conn.execute(psycopg.sql.SQL("LISTEN {}").format(psycopg.sql.Identifier(channel)))
                if listening is not None:
                    listening()
                async for _ in conn.notifies():
                    yield
        except psycopg.Error as exc:
            translate(exc)
