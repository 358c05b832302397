"""Memory exports: create a snapshot shaped by a schema, read it back (spec §1.1 rows 14–15).

An export is computed when it is created, in the transaction that stores it: the 201 means the
snapshot is committed, and reading it later returns exactly those memories.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request

from mnemo.domain.exports import MAX_EXPORT_MEMORIES, lookup_selection, pinned_scope, require_schema, shape_export
from mnemo.domain.requests import ExportCreateBody, ExportGetBody
from mnemo.domain.selection import parse_selection, selection_filter
from mnemo.errors import BadRequest, NotFound
from mnemo.http import wire
from mnemo.http.access import Reads, Writes
from mnemo.http.deps import DataDep, idempotency_key, parse_uuid, remember_response, replay_or_claim
from mnemo.http.openapi import responds
from mnemo.http.routing import ApiRoute
from mnemo.storage import ReadOptions

router = APIRouter(tags=["exports"], route_class=ApiRoute)

EXPORT_CREATED = "Memory export request received. The export will be ready in a few seconds."
EXPORT_NOT_FOUND = "No memory export request found"


@router.post("/v1/exports/", **responds(wire.ExportCreated, status=201), dependencies=[Writes])
async def create_export(request: Request, parsed: ExportCreateBody, data: DataDep) -> dict[str, Any]:
    schema = require_schema(parsed.export_schema)
    raw = selection_filter(parsed.filters, scope=parsed.top_level_scope())
    selection = parse_selection(raw)
    options = ReadOptions(show_expired=parsed.show_expired, latest_only=parsed.latest_only)
    key = idempotency_key(request)
    async with data.transaction() as tables:
        replay = await replay_or_claim(tables, key, "exports", parsed.as_sent())
        if replay is not None:
            return replay
        # The memories are read by one statement: the export is one consistent snapshot. They stay locked until
        # it commits, so a concurrent delete of one of them waits, then deletes the export too.
        _, records = await tables.memories.page(selection, options, offset=0, limit=MAX_EXPORT_MEMORIES + 1, lock=True)
        scope = pinned_scope(raw)
        export_id = await tables.exports.insert(
            scope=scope,
            schema=schema,
            filters=raw,
            export_instructions=parsed.export_instructions,
            memory_ids=[record.id for record in records],
            result=shape_export(schema, records, scope),
        )
        response = {"message": EXPORT_CREATED, "id": str(export_id)}
        await remember_response(tables, key, response)
    return response


@router.post("/v1/exports/get/", **responds(wire.Export), dependencies=[Reads])
async def get_export(parsed: ExportGetBody, data: DataDep) -> dict[str, Any]:
    export_id = parse_uuid(parsed.memory_export_id, "memory_export_id") if parsed.memory_export_id else None
    scope = parsed.top_level_scope()
    has_filters = bool(parsed.filters) or scope is not None
    if export_id is None and not has_filters:
        raise BadRequest(
            'Send memory_export_id, or filters selecting the export (e.g. {"filters": {"user_id": "alice"}});'
            " the latest matching export of this project is returned."
        )
    selection = lookup_selection(selection_filter(parsed.filters, scope=scope)) if has_filters else None
    async with data.reading() as tables:
        found = await tables.exports.latest(export_id, selection)
    if found is None:
        raise NotFound(EXPORT_NOT_FOUND)
    return found.result
