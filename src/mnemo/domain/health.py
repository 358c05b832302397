"""Whether a process is ready to serve: the rules, over facts storage measured (``/readyz``)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class QueueStats:
    """The job queue as an operator sees it."""

    pending: int
    running: int
    #: seconds since the oldest PENDING job became runnable (None: nothing pending)
    oldest_pending_seconds: float | None
    #: workers whose last heartbeat is recent
    live_workers: int
    #: memories whose final vector a worker has yet to compute (MNEMO_EMBEDDING_CONTEXT=deferred)
    pending_vectors: int = 0


@dataclass(frozen=True, slots=True)
class Check:
    name: str
    ok: bool
    detail: str


def readiness(*, pending_migrations: list[int], queue: QueueStats, max_pending_age_seconds: float) -> list[Check]:
    """The readiness checks of a process whose database answered: the schema is current, someone drains the
    queue, and the queue's oldest job has not waited too long."""
    oldest = queue.oldest_pending_seconds
    return [
        Check(
            "migrations",
            not pending_migrations,
            "schema current" if not pending_migrations else f"migrations not applied: {pending_migrations}",
        ),
        Check(
            "workers",
            queue.live_workers > 0 or queue.pending == 0,
            f"{queue.live_workers} worker(s) heart-beating"
            + ("" if queue.live_workers or not queue.pending else f", but {queue.pending} job(s) wait"),
        ),
        Check(
            "queue",
            oldest is None or oldest <= max_pending_age_seconds,
            "nothing pending"
            if oldest is None
            else f"oldest pending job waits {oldest:.0f} s (limit {max_pending_age_seconds:.0f} s)",
        ),
    ]


def report(database: Check, checks: list[Check], queue: QueueStats | None) -> tuple[bool, dict[str, object]]:
    """Whether every check passed, and the JSON body of ``/readyz``."""
    every = [database, *checks]
    ready = all(check.ok for check in every)
    body: dict[str, object] = {
        "status": "ready" if ready else "not ready",
        "checks": {check.name: {"ok": check.ok, "detail": check.detail} for check in every},
    }
    if queue is not None:
        body["queue"] = {
            "pending": queue.pending,
            "running": queue.running,
            "oldest_pending_seconds": queue.oldest_pending_seconds,
            "live_workers": queue.live_workers,
        }
    if not ready:
        body["detail"] = "; ".join(f"{check.name}: {check.detail}" for check in every if not check.ok)
    return ready, body
