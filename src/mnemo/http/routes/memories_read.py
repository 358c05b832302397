"""Reading memories: search, get-all, get one, history (spec §1.1 rows 3–5, 9)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Body, Request, Response

from mnemo.domain.memories import MemoryRecord, memory_to_wire
from mnemo.domain.requests import MAX_PAGE, ListBody, SearchBody
from mnemo.domain.selection import parse_selection, selection_filter
from mnemo.errors import NotFound
from mnemo.http import wire
from mnemo.http.access import Reads
from mnemo.http.capped import encoded_within, json_object, page_of
from mnemo.http.deps import DataDep, ServicesDep, parse_uuid, query_int
from mnemo.http.openapi import responds
from mnemo.http.routing import ApiRoute
from mnemo.services import Services
from mnemo.storage import ProjectData, ReadOptions

router = APIRouter(tags=["memories"], route_class=ApiRoute)

MEMORY_NOT_FOUND = "Memory not found!"


@router.post("/v3/memories/search/", **responds(wire.SearchResponse), dependencies=[Reads])
async def search_memories(body: SearchBody, data: DataDep, svc: ServicesDep) -> Response:
    head, results = await searched(body, data, svc)
    return json_object(head, encoded_within(results))


async def searched(body: SearchBody, data: ProjectData, svc: Services) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """The results of a search, re-ranked when it asks, and what the answer says beside them (``rerank``)."""
    results = await svc.retriever.search(data, body)
    if not body.rerank:
        return {}, results
    outcome = await svc.reranker.rerank(await data.settings(), body.query, results)
    return {"rerank": {"applied": outcome.applied, "by": outcome.by, "detail": outcome.detail}}, outcome.results


@router.post("/v3/memories/", **responds(wire.MemoryPage), dependencies=[Reads])
async def list_memories(
    request: Request,
    parsed: Annotated[ListBody, Body(default_factory=ListBody, description="may be empty, as the client sends it")],
    data: DataDep,
    svc: ServicesDep,
) -> Response:
    page, page_size = page_and_size(request, parsed, svc)
    total, records = await read_page(data, parsed, page=page, page_size=page_size)
    found = page_of(
        request.url,
        records,
        page=page,
        page_size=page_size,
        total=total,
        wire=lambda record: memory_to_wire(record, fields=parsed.fields),
    )
    return found.response(total)


def page_and_size(request: Request, parsed: ListBody, svc: Services) -> tuple[int, int]:
    """The page asked for: ``page``/``page_size`` from the query string, else the body, else 1 and 100."""
    page = query_int(request, "page", parsed.page or 1, low=1, high=MAX_PAGE)
    page_size = query_int(request, "page_size", parsed.page_size or 100, low=1, high=svc.settings.max_page_size)
    return page, page_size


async def read_page(
    data: ProjectData, parsed: ListBody, *, page: int, page_size: int
) -> tuple[int, list[MemoryRecord]]:
    """How many memories the get-all selects in all, and those of the page."""
    raw = selection_filter(
        parsed.filters,
        scope=parsed.top_level_scope(),
        categories=parsed.categories,
        metadata=parsed.metadata,
        start_date=parsed.start_date,
        end_date=parsed.end_date,
        keywords=parsed.keywords,
    )
    options = ReadOptions(show_expired=parsed.show_expired, latest_only=parsed.latest_only)
    async with data.reading() as tables:
        return await tables.memories.page(parse_selection(raw), options, offset=(page - 1) * page_size, limit=page_size)


@router.get("/v1/memories/{memory_id}/", **responds(wire.Memory), dependencies=[Reads])
async def get_memory(memory_id: str, data: DataDep) -> dict[str, Any]:
    async with data.reading() as tables:
        record = await tables.memories.get(parse_uuid(memory_id, "memory_id"))
        given = (await tables.feedback.of([record.id])).get(record.id) if record is not None else None
    if record is None:
        raise NotFound(MEMORY_NOT_FOUND)
    # Only a memory with feedback shows it: without, get answers what get-all and exports do.
    feedback = {"feedback": given.feedback, "feedback_reason": given.reason} if given else None
    return memory_to_wire(record, extra=feedback)


@router.get("/v1/memories/{memory_id}/history/", **responds(wire.History), dependencies=[Reads])
async def memory_history(memory_id: str, data: DataDep) -> list[dict[str, Any]]:
    async with data.reading() as tables:
        entries = await tables.history.of_memory(parse_uuid(memory_id, "memory_id"))
    if not entries:
        raise NotFound(MEMORY_NOT_FOUND)
    return [
        {
            "id": str(entry.id),
            "memory_id": str(entry.memory_id),
            "event": entry.event,
            "old_memory": entry.old_memory,
            "new_memory": entry.new_memory,
            "input": entry.input,
            "user_id": entry.scope.user_id,
            "agent_id": entry.scope.agent_id,
            "app_id": entry.scope.app_id,
            "run_id": entry.scope.run_id,
            "session_id": entry.scope.run_id,
            "categories": entry.categories,
            "metadata": entry.metadata,
            "is_deleted": entry.event == "DELETE",
            "created_at": entry.created_at.isoformat(),
            "updated_at": entry.created_at.isoformat(),
        }
        for entry in entries
    ]
