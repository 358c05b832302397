"""The routes older clients call (mem0ai Python 0.1.x/1.0.x, npm 2.x; spec §1.5), with their shapes and defaults.

* ``POST /v1/memories/``: v1 add. ``async_mode`` true (the default) queues like v3; false waits for the add's
  event (at most :data:`SYNC_WAIT_SECONDS`) and answers its memories. ``output_format`` ``v1.0`` (the default)
  answers a bare list, ``v1.1`` ``{"results": [...]}``.
* ``GET /v1/memories/``: v1 get-all, entity ids in the query string (one at least), ``page``/``page_size``
  (1 and 100), the same output formats.
* ``POST /v1/memories/search/``: v1 search, entity ids at the top level (or in ``filters``), no threshold.
* ``POST /v2/memories/search/``: ``filters`` required, ``top_k`` 10, ``threshold`` 0.3, ``rerank`` false;
  answers ``{"results": [...]}``.
* ``POST /v2/memories/``: ``filters`` required, ``page``/``page_size`` in the body (1 and 100; the query string
  works too); answers ``{"results": [...]}``, without the v3 count and links.

Memories have the v3 shape (``memory_to_wire``) everywhere; the run id is under ``run_id`` and ``session_id``.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from typing import Any

from fastapi import APIRouter, Request, Response

from mnemo.domain.events import EventStatus
from mnemo.domain.legacy_requests import (
    NEEDS_AN_ENTITY,
    OutputFormat,
    V1AddBody,
    V1SearchBody,
    V2ListBody,
    V2SearchBody,
    shaped,
)
from mnemo.domain.memories import ENTITY_FIELDS, memory_to_wire
from mnemo.domain.requests import ListBody, parse_body
from mnemo.errors import BadRequest
from mnemo.http.access import Reads, Writes
from mnemo.http.capped import encoded_within, json_object
from mnemo.http.deps import DataDep, ServicesDep
from mnemo.http.openapi import responds
from mnemo.http.routes.memories_read import page_and_size, read_page, searched
from mnemo.http.routes.memories_write import accept_add, query_dict
from mnemo.http.routing import ApiRoute
from mnemo.http.wire import SearchResponse
from mnemo.http.wire import legacy as wire
from mnemo.storage import ProjectData

router = APIRouter(tags=["legacy"], route_class=ApiRoute)

#: How long an ``async_mode: false`` v1 add waits for its event before answering it as still PENDING.
SYNC_WAIT_SECONDS = 120.0
_POLL_SECONDS = 0.1


@router.post("/v1/memories/", **responds(wire.V1AddResponse), dependencies=[Writes])
async def add_v1(request: Request, body: V1AddBody, data: DataDep, svc: ServicesDep) -> Any:
    answer = await accept_add(request, body, data, svc)
    if answer["status"] == "PENDING" and not body.async_mode:
        answer = await _waited(data, uuid.UUID(answer["event_id"]), answer)
    if answer["status"] == "SUCCEEDED":
        return shaped(answer["results"], body.output_format)
    item = {"message": answer["message"], "status": answer["status"], "event_id": answer["event_id"]}
    return shaped([item], body.output_format)


async def _waited(data: ProjectData, event_id: uuid.UUID, queued: dict[str, Any]) -> dict[str, Any]:
    """The add's outcome once a worker finished it, or ``queued`` when that takes longer than the wait."""
    deadline = time.monotonic() + SYNC_WAIT_SECONDS
    while time.monotonic() < deadline:
        async with data.reading() as tables:
            event = await tables.events.get(event_id)
        if event is not None and event.status.finished:
            if event.status is EventStatus.FAILED:
                return {**queued, "status": "FAILED", "message": f"The add failed: {event.error}"}
            return {**queued, "status": "SUCCEEDED", "results": event.results}
        await asyncio.sleep(_POLL_SECONDS)
    return queued


@router.get("/v1/memories/", **responds(wire.V1MemoryList), dependencies=[Reads])
async def list_v1(request: Request, data: DataDep, svc: ServicesDep) -> Response:
    parsed = _query_list(request)
    if parsed.top_level_scope() is None:
        raise BadRequest(NEEDS_AN_ENTITY)
    page, page_size = page_and_size(request, parsed, svc)
    _, records = await read_page(data, parsed, page=page, page_size=page_size)
    results = encoded_within(memory_to_wire(record, fields=parsed.fields) for record in records)
    return _answer(results, _output_format(request.query_params.get("output_format")))


def _query_list(request: Request) -> ListBody:
    """The v1 get-all's query string as a get-all body (``metadata`` as JSON or a Python dict's repr)."""
    query = request.query_params
    raw: dict[str, Any] = {name: query[name] for name in ENTITY_FIELDS if query.get(name)}
    for name in ("keywords", "start_date", "end_date"):
        if query.get(name):
            raw[name] = query[name]
    if query.get("metadata"):
        raw["metadata"] = query_dict(query["metadata"], "metadata")
    for name in ("categories", "fields"):
        values = [item.strip() for value in query.getlist(name) for item in value.split(",") if item.strip()]
        if values:
            raw[name] = values
    return parse_body(ListBody, raw)


def _output_format(value: str | None) -> OutputFormat:
    if value is None or value == "v1.0":
        return "v1.0"
    if value == "v1.1":
        return "v1.1"
    raise BadRequest(f"output_format must be v1.0 or v1.1; got {value[:20]!r}.")


def _answer(results: list[bytes], output_format: OutputFormat) -> Response:
    """Encoded results as a v1 answer (see :func:`mnemo.domain.legacy_requests.shaped`)."""
    if output_format == "v1.1":
        return json_object({}, results)
    return Response(b"[" + b",".join(results) + b"]", media_type="application/json")


@router.post("/v1/memories/search/", **responds(wire.V1SearchResponse), dependencies=[Reads])
async def search_v1(body: V1SearchBody, data: DataDep, svc: ServicesDep) -> Response:
    _, results = await searched(body, data, svc)
    return _answer(encoded_within(results), body.output_format)


@router.post("/v2/memories/search/", **responds(SearchResponse), dependencies=[Reads])
async def search_v2(body: V2SearchBody, data: DataDep, svc: ServicesDep) -> Response:
    head, results = await searched(body, data, svc)
    return json_object(head, encoded_within(results))


@router.post("/v2/memories/", **responds(wire.V2MemoryList), dependencies=[Reads])
async def list_v2(request: Request, body: V2ListBody, data: DataDep, svc: ServicesDep) -> Response:
    page, page_size = page_and_size(request, body, svc)
    _, records = await read_page(data, body, page=page, page_size=page_size)
    return json_object({}, encoded_within(memory_to_wire(record, fields=body.fields) for record in records))
