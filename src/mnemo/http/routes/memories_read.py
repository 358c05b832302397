"""Reading memories: search, get-all, get one, history (spec §1.1 rows 3–5, 9)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Body, Request, Response

from mnemo.domain.memories import memory_to_wire
from mnemo.domain.requests import MAX_PAGE, ListBody, SearchBody
from mnemo.domain.selection import parse_selection, selection_filter
from mnemo.errors import NotFound
from mnemo.http import wire
from mnemo.http.access import Reads
from mnemo.http.capped import encoded_within, json_object, page_of
from mnemo.http.deps import DataDep, ServicesDep, parse_uuid, query_int
from mnemo.http.openapi import responds
from mnemo.http.routing import ApiRoute
from mnemo.storage import ReadOptions

router = APIRouter(tags=["memories"], route_class=ApiRoute)

MEMORY_NOT_FOUND = "Memory not found!"


@router.post("/v3/memories/search/", **responds(wire.SearchResponse), dependencies=[Reads])
@router.post("/v2/memories/search/", include_in_schema=False, **responds(wire.SearchResponse), dependencies=[Reads])
async def search_memories(body: SearchBody, data: DataDep, svc: ServicesDep) -> Response:
    results = await svc.retriever.search(data, body)
    if not body.rerank:
        return json_object({}, encoded_within(results))
    outcome = await svc.reranker.rerank(await data.settings(), body.query, results)
    rerank = {"applied": outcome.applied, "by": outcome.by, "detail": outcome.detail}
    return json_object({"rerank": rerank}, encoded_within(outcome.results))


@router.post("/v3/memories/", **responds(wire.MemoryPage), dependencies=[Reads])
@router.post("/v2/memories/", include_in_schema=False, **responds(wire.MemoryPage), dependencies=[Reads])
async def list_memories(
    request: Request,
    parsed: Annotated[ListBody, Body(default_factory=ListBody, description="may be empty, as the client sends it")],
    data: DataDep,
    svc: ServicesDep,
) -> Response:
    limit = svc.settings.max_page_size
    page = query_int(request, "page", parsed.page or 1, low=1, high=MAX_PAGE)
    page_size = query_int(request, "page_size", parsed.page_size or 100, low=1, high=limit)
    raw = selection_filter(
        parsed.filters,
        scope=parsed.top_level_scope(),
        categories=parsed.categories,
        metadata=parsed.metadata,
        start_date=parsed.start_date,
        end_date=parsed.end_date,
        keywords=parsed.keywords,
    )
    selection = parse_selection(raw)
    options = ReadOptions(show_expired=parsed.show_expired, latest_only=parsed.latest_only)
    async with data.reading() as tables:
        total, records = await tables.memories.page(selection, options, offset=(page - 1) * page_size, limit=page_size)
    found = page_of(
        request.url,
        records,
        page=page,
        page_size=page_size,
        total=total,
        wire=lambda record: memory_to_wire(record, fields=parsed.fields),
    )
    return found.response(total)


@router.get("/v1/memories/{memory_id}/", **responds(wire.Memory), dependencies=[Reads])
async def get_memory(memory_id: str, data: DataDep) -> dict[str, Any]:
    async with data.reading() as tables:
        record = await tables.memories.get(parse_uuid(memory_id, "memory_id"))
        given = (await tables.feedback.of([record.id])).get(record.id) if record is not None else None
    if record is None:
        raise NotFound(MEMORY_NOT_FOUND)
    feedback = {"feedback": given.feedback if given else None, "feedback_reason": given.reason if given else None}
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
            "session_id": entry.scope.run_id,
            "categories": entry.categories,
            "metadata": entry.metadata,
            "is_deleted": entry.event == "DELETE",
            "created_at": entry.created_at.isoformat(),
            "updated_at": entry.created_at.isoformat(),
        }
        for entry in entries
    ]
