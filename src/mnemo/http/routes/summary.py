"""Summaries and feedback (spec §1.1 rows 16–17)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from mnemo.domain.entity_requests import FeedbackBody, SummaryBody
from mnemo.domain.selection import parse_selection
from mnemo.errors import NotFound
from mnemo.http.access import Reads, Writes
from mnemo.http.deps import DataDep, ServicesDep, parse_uuid
from mnemo.http.openapi import responds
from mnemo.http.routes.memories_read import MEMORY_NOT_FOUND
from mnemo.http.routing import ApiRoute
from mnemo.http.wire import entities as entity_wire
from mnemo.storage import ReadOptions

router = APIRouter(tags=["memories"], route_class=ApiRoute)

#: A summary reads at most this many current memories (the newest).
SUMMARY_MEMORIES = 1000
#: No filters: every memory of the project (each has at least one entity id).
EVERY_MEMORY: dict[str, Any] = {"OR": [{f"{kind}_id": "*"} for kind in ("user", "agent", "app", "run")]}


@router.post("/v1/summary/", **responds(entity_wire.Summary), dependencies=[Reads])
async def summarize(body: SummaryBody, data: DataDep, svc: ServicesDep) -> dict[str, Any]:
    """The current memories the filters select (all of the project's without filters), summarised."""
    selection = parse_selection(body.filters or EVERY_MEMORY)
    async with data.reading() as tables:
        total, records = await tables.memories.page(
            selection, ReadOptions(latest_only=True), offset=0, limit=SUMMARY_MEMORIES
        )
    written = await svc.digests.summary(await data.settings(), records, total=total)
    return {**written.content, "generated_by": written.by, "detail": written.detail}


@router.post("/v1/feedback/", **responds(entity_wire.FeedbackGiven), dependencies=[Writes])
async def give_feedback(body: FeedbackBody, data: DataDep) -> dict[str, Any]:
    """The memory's feedback, replacing any before it; ``feedback`` and ``feedback_reason`` null clear it."""
    memory_id = parse_uuid(body.memory_id, "memory_id")
    async with data.transaction() as tables:
        found = await tables.feedback.give(memory_id, body.feedback, body.feedback_reason)
    if not found:
        raise NotFound(MEMORY_NOT_FOUND)
    return {"id": str(memory_id), "feedback": body.feedback, "feedback_reason": body.feedback_reason}
