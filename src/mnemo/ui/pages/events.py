"""Events: adds waiting, running, failed (with the error and the LLM's raw output), and retrying one."""

from __future__ import annotations

from fastapi import APIRouter, Request
from starlette.responses import Response

from mnemo.ui.api import ApiError
from mnemo.ui.pages.common import failure, page_number, see_other, segment
from mnemo.ui.render import render
from mnemo.ui.session import SAME_ORIGIN, Session, SessionDep

router = APIRouter()

PAGE_SIZE = 50
UNFINISHED = ("PENDING", "RUNNING")
#: Seconds between reloads of a page that shows an unfinished event.
REFRESH_SECONDS = 2


@router.get("/events")
async def events(request: Request, session: SessionDep) -> Response:
    page = page_number(request)
    found = await session.api.get("/v1/events/", params={"page": str(page), "page_size": str(PAGE_SIZE)})
    unfinished = any(event["status"] in UNFINISHED for event in found["results"])
    return render(
        request,
        "events.html",
        session=session,
        active="events",
        found=found,
        page=page,
        pages=max(1, -(-found["count"] // PAGE_SIZE)),
        refresh=REFRESH_SECONDS if unfinished else None,
    )


async def _event_page(request: Request, session: Session, event_id: str, refused: ApiError | None = None) -> Response:
    status, error = failure(refused) if refused else (200, None)
    event = await session.api.get(f"/v1/event/{segment(event_id)}/")
    metadata = dict(event.get("metadata") or {})
    raw_output = metadata.pop("raw_output", None)
    return render(
        request,
        "event.html",
        session=session,
        active="events",
        status=status,
        error=error,
        event=event,
        raw_output=raw_output,
        metadata=metadata,
        refresh=REFRESH_SECONDS if event["status"] in UNFINISHED and not error else None,
    )


@router.get("/events/{event_id}")
async def event_page(request: Request, event_id: str, session: SessionDep) -> Response:
    return await _event_page(request, session, event_id)


@router.post("/events/{event_id}/retry", dependencies=SAME_ORIGIN)
async def retry(request: Request, event_id: str, session: SessionDep) -> Response:
    try:
        await session.api.post(f"/v1/event/{segment(event_id)}/retry/")
    except ApiError as error:
        return await _event_page(request, session, event_id, refused=error)
    return see_other(f"/ui/events/{segment(event_id)}?msg=retried")
