"""What readiness and operators read about the whole deployment: the schema version and the queue."""

from __future__ import annotations

import asyncio
from datetime import timedelta

from mnemo.domain.health import Check, QueueStats, readiness, report
from mnemo.errors import MnemoError
from mnemo.storage.database import Database
from mnemo.storage.migrate import available_migrations

#: A readiness probe answers within this, whatever the database does.
_ANSWER_WITHIN_SECONDS = 5.0


async def pending_migrations(db: Database) -> list[int]:
    """Versions shipped with this mnemo that the database has not applied."""
    async with db.connection() as conn:
        rows = await (await conn.execute("SELECT version FROM mnemo_schema_migrations")).fetchall()
    applied = {row["version"] for row in rows}
    return [m.version for m in available_migrations() if m.version not in applied]


async def queue_stats(db: Database, *, worker_timeout: timedelta) -> QueueStats:
    """Depth and age of the queue, and how many workers beat within ``worker_timeout``."""
    async with db.connection() as conn:
        row = await (
            await conn.execute(
                "SELECT count(*) FILTER (WHERE status = 'PENDING') AS pending,"
                " count(*) FILTER (WHERE status = 'RUNNING') AS running,"
                " extract(epoch FROM now() - min(run_after) FILTER (WHERE status = 'PENDING' AND run_after <= now()))"
                "  AS oldest,"
                " (SELECT count(*) FROM workers WHERE heartbeat_at > now() - %s) AS live,"
                " (SELECT count(*) FROM pending_vectors) AS vectors"
                " FROM events WHERE status IN ('PENDING', 'RUNNING')",
                (worker_timeout,),
            )
        ).fetchone()
    assert row is not None
    oldest = row["oldest"]
    return QueueStats(
        pending=int(row["pending"]),
        running=int(row["running"]),
        oldest_pending_seconds=float(oldest) if oldest is not None else None,
        live_workers=int(row["live"]),
        pending_vectors=int(row["vectors"]),
    )


async def queue_stats_within(db: Database, *, worker_timeout: timedelta, seconds: float) -> QueueStats | None:
    """:func:`queue_stats`, or None when the database does not answer within ``seconds`` (a metrics scrape must
    not hang on a busy pool)."""
    try:
        async with asyncio.timeout(seconds):
            return await queue_stats(db, worker_timeout=worker_timeout)
    except (MnemoError, TimeoutError):
        return None


async def assess(
    db: Database, *, max_pending_age_seconds: float, worker_timeout: timedelta
) -> tuple[bool, dict[str, object]]:
    """Readiness of a process on ``db``: the database answers, its schema is current, workers drain the queue
    and its oldest job has not waited too long. Returns whether ready, and the report."""
    try:
        async with asyncio.timeout(_ANSWER_WITHIN_SECONDS):
            missing = await pending_migrations(db)  # a query: it also proves the database answers
            queue = await queue_stats(db, worker_timeout=worker_timeout)
    except MnemoError as exc:
        return report(Check("database", False, exc.detail), [], None)
    except TimeoutError:
        detail = f"no answer within {_ANSWER_WITHIN_SECONDS:.0f} s (pool exhausted, or the database is away)"
        return report(Check("database", False, detail), [], None)
    checks = readiness(pending_migrations=missing, queue=queue, max_pending_age_seconds=max_pending_age_seconds)
    return report(Check("database", True, "reachable"), checks, queue)
