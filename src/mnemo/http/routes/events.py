"""Events: the status of asynchronous adds and of deletes (spec §6)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from fastapi import APIRouter, Request, Response

from mnemo.domain.events import EventStatus
from mnemo.domain.requests import MAX_PAGE
from mnemo.errors import Conflict, NotFound
from mnemo.http import wire
from mnemo.http.access import Reads, Writes
from mnemo.http.capped import page_of
from mnemo.http.deps import DataDep, ServicesDep, parse_uuid, query_int
from mnemo.http.openapi import responds
from mnemo.http.routing import ApiRoute
from mnemo.storage import EventRecord, JobQueue

router = APIRouter(tags=["events"], route_class=ApiRoute)

EVENT_NOT_FOUND = "Event not found or you don't have permission to access it."


def event_to_wire(event: EventRecord) -> dict[str, Any]:
    latency = None
    if event.completed_at is not None:
        latency = round((event.completed_at - event.created_at).total_seconds() * 1000, 3)
    return {
        "id": str(event.id),
        "event_type": event.event_type.value,
        "status": event.status.value,
        "payload": event.payload,
        "metadata": event.metadata,
        "results": event.results,
        "error": event.error,
        "attempts": event.attempts,
        "created_at": event.created_at.isoformat(),
        "updated_at": event.updated_at.isoformat(),
        "started_at": event.started_at.isoformat() if event.started_at else None,
        "completed_at": event.completed_at.isoformat() if event.completed_at else None,
        "latency": latency,
        "graph_status": None,
    }


@router.get("/v1/event/{event_id}/", **responds(wire.Event), dependencies=[Reads])
async def get_event(event_id: str, data: DataDep) -> dict[str, Any]:
    async with data.reading() as tables:
        event = await tables.events.get(parse_uuid(event_id, "event_id"))
    if event is None:
        raise NotFound(EVENT_NOT_FOUND)
    return event_to_wire(event)


@router.get("/v1/events/", **responds(wire.EventPage), dependencies=[Reads])
async def list_events(request: Request, data: DataDep) -> Response:
    page = query_int(request, "page", 1, low=1, high=MAX_PAGE)
    page_size = query_int(request, "page_size", 50, low=1, high=200)
    async with data.reading() as tables:
        total, events = await tables.events.page(offset=(page - 1) * page_size, limit=page_size)
    found = page_of(request.url, events, page=page, page_size=page_size, total=total, wire=event_to_wire)
    return found.response(total)


@router.post("/v1/event/{event_id}/retry/", **responds(wire.Event), dependencies=[Writes])
async def retry_event(event_id: str, data: DataDep, svc: ServicesDep) -> dict[str, Any]:
    """Re-queue a FAILED add (the same as ``mnemo events retry``)."""
    target = parse_uuid(event_id, "event_id")
    queue = JobQueue(svc.db, "api", lease=timedelta(seconds=svc.settings.job_lease_seconds))
    event = await queue.retry_failed(target, project_id=data.project_id)
    if event is None:
        raise NotFound(EVENT_NOT_FOUND)
    if event.status is not EventStatus.PENDING:
        raise Conflict(f"Event {target} is {event.status.value}; only FAILED events can be retried.")
    return event_to_wire(event)
