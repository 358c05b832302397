"""Events: the record of each add and delete, and, for an asynchronous add, the job that runs it."""

from __future__ import annotations

from enum import StrEnum


class EventStatus(StrEnum):
    """Where an event stands. A PENDING or RUNNING event is a job in the queue; the database holds the
    same four values in a CHECK constraint (migration 0006)."""

    PENDING = "PENDING"
    RUNNING = "RUNNING"
    SUCCEEDED = "SUCCEEDED"
    FAILED = "FAILED"

    @property
    def finished(self) -> bool:
        return self in (EventStatus.SUCCEEDED, EventStatus.FAILED)


class EventType(StrEnum):
    ADD = "ADD"
    DELETE = "DELETE"
