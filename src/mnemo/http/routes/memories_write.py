"""Changing memories: add, update, delete, delete-all, batch (spec §1.1 rows 2, 6–8, 12–13)."""

from __future__ import annotations

import ast
import uuid
from typing import Any

from fastapi import APIRouter, Request

from mnemo.domain.dates import parse_moment
from mnemo.domain.events import EventStatus, EventType
from mnemo.domain.memories import ENTITY_KINDS, MemoryRecord, index_fields, index_text, memory_to_wire
from mnemo.domain.requests import AddBody, BatchDeleteBody, BatchUpdateBody, UpdateBody
from mnemo.domain.selection import parse_selection
from mnemo.errors import BadRequest, NotFound
from mnemo.filters import IdsCondition
from mnemo.http import wire
from mnemo.http.access import Writes
from mnemo.http.deps import DataDep, ServicesDep, idempotency_key, parse_uuid, remember_response, replay_or_claim
from mnemo.http.json_body import loads
from mnemo.http.openapi import responds
from mnemo.http.routes.memories_read import MEMORY_NOT_FOUND
from mnemo.http.routing import ApiRoute
from mnemo.pipeline.commands import add_command
from mnemo.services import Services
from mnemo.storage import MemoryPatch, ProjectData, ProjectTables

router = APIRouter(tags=["memories"], route_class=ApiRoute)

QUEUED = "Memory processing has been queued for background execution"


@router.post("/v3/memories/add/", **responds(wire.AddResponse), dependencies=[Writes])
async def add_memories(request: Request, body: AddBody, data: DataDep, svc: ServicesDep) -> dict[str, Any]:
    return await accept_add(request, body, data, svc)


async def accept_add(request: Request, body: AddBody, data: ProjectData, svc: Services) -> dict[str, Any]:
    """Store a verbatim add (infer=false) now, or queue the add for a worker: an inferred one, and a verbatim one
    whose messages carry documents or images (read in the worker, never in the request). The v3 answer."""
    command = add_command(body, svc.limits)
    payload = body.as_sent()  # what the event keeps and the worker re-reads (pipeline.commands.parse_add)
    now = not command.infer and not command.has_media
    memories = await svc.ingestor.prepare_verbatim(data, command) if now else []
    key = idempotency_key(request)
    # A verbatim add without a key is one statement (memories and event), atomic without a transaction around it.
    writing = data.one_statement() if now and key is None else data.transaction()
    async with writing as tables:
        replay = await replay_or_claim(tables, key, "add", payload)
        if replay is not None:
            return replay
        if not now:
            event_id = await tables.events.create(
                event_type=EventType.ADD,
                status=EventStatus.PENDING,
                payload=payload,
                max_attempts=svc.settings.job_max_attempts,
                scope=command.scope,
            )
            response: dict[str, Any] = {"message": QUEUED, "status": "PENDING", "event_id": str(event_id)}
        else:
            event_id, outcome = await svc.ingestor.write_verbatim(tables, command, memories, payload)
            response = {
                "message": "Memories stored successfully",
                "status": "SUCCEEDED",
                "event_id": str(event_id),
                "results": outcome.results,
            }
        await remember_response(tables, key, response)
    return response


@router.put("/v1/memories/{memory_id}/", **responds(wire.Memory), dependencies=[Writes])
async def update_memory(memory_id: str, update: UpdateBody, data: DataDep, svc: ServicesDep) -> dict[str, Any]:
    target = parse_uuid(memory_id, "memory_id")
    if not ({"text", "metadata", "timestamp", "expiration_date"} & update.model_fields_set):
        raise BadRequest("Nothing to update: send at least one of text, metadata, timestamp, expiration_date.")
    async with data.transaction() as tables:
        (updated,) = await _update_many(tables, svc, [(target, update)])
    return memory_to_wire(updated)


async def _update_many(
    tables: ProjectTables, svc: Services, changes: list[tuple[uuid.UUID, UpdateBody]]
) -> list[MemoryRecord]:
    """Lock every target first (all or nothing), embed the new texts in one batch, then apply."""
    records = [await _locked(tables, target) for target, _ in changes]
    for record, (_, update) in zip(records, changes, strict=True):
        if record.immutable and update.text is not None:
            raise BadRequest(f"Memory {record.id} is immutable: its text cannot be changed.")
    texts = [
        index_text(update.text, record.actor_name)
        for record, (_, update) in zip(records, changes, strict=True)
        if update.text is not None
    ]
    vectors = iter(await svc.batcher.embed(texts))
    updated = []
    for record, (_, update) in zip(records, changes, strict=True):
        text = update.text
        moment = parse_moment(update.timestamp, "timestamp") if update.timestamp is not None else None
        patch = MemoryPatch(
            text=text,
            index=index_fields(text, speaker=record.actor_name, observed_at=record.created_at)
            if text is not None
            else None,
            embedding=next(vectors) if text is not None else None,
            metadata=update.metadata,
            set_metadata="metadata" in update.model_fields_set,
            expiration_date=update.expiration_date,
            set_expiration="expiration_date" in update.model_fields_set,
            created_at=moment,
        )
        updated.append(await tables.memories.update(record, patch))
    return updated


async def _locked(tables: ProjectTables, memory_id: uuid.UUID) -> MemoryRecord:
    record = await tables.memories.get(memory_id, lock=True)
    if record is None:
        raise NotFound(MEMORY_NOT_FOUND)
    return record


@router.delete("/v1/memories/{memory_id}/", **responds(wire.MemoryDeleted), dependencies=[Writes])
async def delete_memory(memory_id: str, request: Request, data: DataDep) -> dict[str, Any]:
    target = parse_uuid(memory_id, "memory_id")
    cascade = request.query_params.get("delete_linked", "").lower() == "true"
    async with data.transaction() as tables:
        targets = await tables.memories.superseded_chain(target) if cascade else [target]
        deleted = await tables.memories.delete(_ids(targets))
    if target not in deleted:
        raise NotFound(MEMORY_NOT_FOUND)
    body: dict[str, Any] = {"message": "Memory deleted successfully!"}
    if cascade:
        body["cascade_count"] = len(deleted) - 1
    return body


@router.delete("/v1/memories/", **responds(wire.MemoriesDeleted), dependencies=[Writes])
async def delete_all_memories(request: Request, data: DataDep) -> dict[str, Any]:
    raw = _delete_all_filter(request)
    selection = parse_selection(raw)
    async with data.transaction() as tables:
        deleted = await tables.memories.delete(selection)
        event_id = await tables.events.create(
            event_type=EventType.DELETE,
            status=EventStatus.SUCCEEDED,
            payload={"filters": raw},
            results=[{"id": str(i), "event": "DELETE"} for i in deleted],
        )
    return {
        "message": f"Deleted {len(deleted)} memories.",
        "deleted_count": len(deleted),
        "event_id": str(event_id),
    }


def _delete_all_filter(request: Request) -> dict[str, Any]:
    """The scope of a delete-all, from its query string; never empty (spec §9.10)."""
    query = request.query_params
    exact: list[dict[str, Any]] = []
    any_of: list[dict[str, Any]] = []
    for kind in ENTITY_KINDS:
        value = query.get(f"{kind}_id")
        if value is None or value == "":
            continue
        (any_of if value == "*" else exact).append({f"{kind}_id": value})
    if query.get("filters"):
        exact.append(query_dict(query["filters"], "filters"))
    if query.get("metadata"):
        exact.append({"metadata": query_dict(query["metadata"], "metadata")})
    if any_of:
        exact.append(any_of[0] if len(any_of) == 1 else {"OR": any_of})
    if not exact:
        raise BadRequest(
            "Refusing to delete without a scope: pass user_id, agent_id, app_id or run_id"
            " (use '*' explicitly to mean every entity of that kind)."
        )
    return exact[0] if len(exact) == 1 else {"AND": exact}


def query_dict(raw: str, name: str) -> dict[str, Any]:
    """A dict sent in the query string: JSON, or the Python repr the official client produces."""
    for parse in (loads, ast.literal_eval):
        try:
            value = parse(raw)
        except (ValueError, SyntaxError, MemoryError, RecursionError):
            continue
        if isinstance(value, dict):
            return value
    raise BadRequest(f"{name} in the query string must be a JSON object; got {raw[:100]!r}.")


@router.put("/v1/batch/", **responds(wire.Message), dependencies=[Writes])
async def batch_update(batch: BatchUpdateBody, data: DataDep, svc: ServicesDep) -> dict[str, Any]:
    changes = [
        (
            parse_uuid(item.memory_id, "memory_id"),
            UpdateBody.model_validate(item.model_dump(include=item.model_fields_set & {"text", "metadata"})),
        )
        for item in batch.memories
    ]
    async with data.transaction() as tables:
        await _update_many(tables, svc, changes)
    return {"message": f"Successfully updated {len(changes)} memories"}


@router.delete("/v1/batch/", **responds(wire.Message), dependencies=[Writes])
async def batch_delete(batch: BatchDeleteBody, data: DataDep) -> dict[str, Any]:
    ids = [parse_uuid(item.memory_id, "memory_id") for item in batch.memories]
    async with data.transaction() as tables:
        deleted = await tables.memories.delete(_ids(ids))
        missing = set(ids) - set(deleted)
        if missing:
            raise NotFound(f"Memory not found: {sorted(str(i) for i in missing)[0]}; nothing was deleted.")
    return {"message": f"Successfully deleted {len(deleted)} memories"}


def _ids(ids: list[uuid.UUID]) -> IdsCondition:
    return IdsCondition(tuple(str(i) for i in ids))
