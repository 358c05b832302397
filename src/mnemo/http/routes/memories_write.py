"""Changing memories: add, update, delete, delete-all, batch (spec §1.1 rows 2, 6–8, 12–13)."""

from __future__ import annotations

import ast
import json
import uuid
from datetime import UTC, date, datetime
from typing import Any

from fastapi import APIRouter, Request
from psycopg import sql

from mnemo.domain.entities import extract_entities
from mnemo.domain.memories import ENTITY_KINDS, MemoryRecord, index_text, memory_to_wire, text_hash
from mnemo.domain.relative_dates import find_dates
from mnemo.domain.requests import AddBody, BatchDeleteBody, BatchUpdateBody, UpdateBody, parse_body
from mnemo.domain.selection import compile_selection
from mnemo.errors import BadRequest, NotFound
from mnemo.http.deps import BodyDep, ServicesDep, StoreDep, idempotency_key, parse_uuid, replay_or_claim
from mnemo.http.openapi import body_schema
from mnemo.http.routes.memories_read import MEMORY_NOT_FOUND
from mnemo.pipeline.commands import parse_add
from mnemo.services import Services
from mnemo.storage.project_store import Conn, ProjectStore

router = APIRouter(tags=["memories"])

QUEUED = "Memory processing has been queued for background execution"


@router.post("/v3/memories/add/", openapi_extra=body_schema(AddBody))
async def add_memories(request: Request, body: BodyDep, store: StoreDep, svc: ServicesDep) -> dict[str, Any]:
    command = parse_add(body, svc.limits)
    memories = await svc.ingestor.prepare_verbatim(store, command) if not command.infer else []
    key = idempotency_key(request)
    async with store.transaction() as conn:
        if key is not None:
            replay = await replay_or_claim(store, conn, key, "add", body)
            if replay is not None:
                return replay
        if command.infer:
            event_id = await store.create_event(
                conn,
                event_type="ADD",
                status="PENDING",
                payload=body,
                max_attempts=svc.settings.job_max_attempts,
                scope=command.scope,
            )
            response: dict[str, Any] = {"message": QUEUED, "status": "PENDING", "event_id": str(event_id)}
        else:
            event_id, outcome = await svc.ingestor.write_verbatim(store, conn, command, memories, body)
            response = {
                "message": "Memories stored successfully",
                "status": "SUCCEEDED",
                "event_id": str(event_id),
                "results": [
                    {"id": str(r.id), "data": {"memory": r.memory}, "memory": r.memory, "event": "ADD"}
                    for r in outcome.written
                ],
            }
        if key is not None:
            await store.store_idempotent_response(conn, key, response)
    return response


@router.put("/v1/memories/{memory_id}/", openapi_extra=body_schema(UpdateBody))
async def update_memory(memory_id: str, body: BodyDep, store: StoreDep, svc: ServicesDep) -> dict[str, Any]:
    target = parse_uuid(memory_id, "memory_id")
    update = parse_body(UpdateBody, body)
    if not ({"text", "metadata", "timestamp", "expiration_date"} & body.keys()):
        raise BadRequest("Nothing to update: send at least one of text, metadata, timestamp, expiration_date.")
    async with store.transaction() as conn:
        (updated,) = await _update_many(store, svc, conn, [(target, update, body)])
    return memory_to_wire(updated)


async def _update_many(
    store: ProjectStore,
    svc: Services,
    conn: Conn,
    changes: list[tuple[uuid.UUID, UpdateBody, dict[str, Any]]],
) -> list[MemoryRecord]:
    """Lock every target first (all or nothing), embed the new texts in one batch, then apply."""
    records = [await _locked(store, conn, target) for target, _, _ in changes]
    for record, (_, update, _) in zip(records, changes, strict=True):
        if record.immutable and update.text is not None:
            raise BadRequest(f"Memory {record.id} is immutable: its text cannot be changed.")
    texts = [
        index_text(update.text, record.actor_name)
        for record, (_, update, _) in zip(records, changes, strict=True)
        if update.text is not None
    ]
    vectors = iter(await svc.batcher.embed(texts))
    updated = []
    for record, (_, update, raw) in zip(records, changes, strict=True):
        text = update.text
        updated.append(
            await store.update_memory(
                conn,
                record,
                text=text,
                text_hash=text_hash(text) if text is not None else None,
                embedding=next(vectors) if text is not None else None,
                entities=extract_entities(text, speaker=record.actor_name) if text is not None else None,
                dates=_dates(text, record.created_at) if text is not None else None,
                metadata=update.metadata,
                set_metadata="metadata" in raw,
                expiration_date=update.expiration_date,
                set_expiration="expiration_date" in raw,
                created_at=_parse_timestamp(update.timestamp),
            )
        )
    return updated


async def _locked(store: ProjectStore, conn: Conn, memory_id: uuid.UUID) -> MemoryRecord:
    record = await store.get_memory(conn, memory_id, lock=True)
    if record is None:
        raise NotFound(MEMORY_NOT_FOUND)
    return record


def _dates(text: str, observed_at: datetime) -> list[tuple[date, date]]:
    return [(span.start, span.end) for span in find_dates(text, observed_at)]


def _parse_timestamp(value: float | str | None) -> datetime | None:
    if value is None:
        return None
    if isinstance(value, int | float):
        return datetime.fromtimestamp(value, UTC)
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        raise BadRequest(f"timestamp must be unix seconds or an ISO-8601 datetime; got {value!r}.") from None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


@router.delete("/v1/memories/{memory_id}/")
async def delete_memory(memory_id: str, request: Request, store: StoreDep) -> dict[str, Any]:
    target = parse_uuid(memory_id, "memory_id")
    cascade = request.query_params.get("delete_linked", "").lower() == "true"
    async with store.transaction() as conn:
        targets = await store.superseded_chain(conn, target) if cascade else [target]
        deleted = await store.delete_memories(conn, sql.SQL("m.id = ANY(%s)"), [targets])
    if target not in deleted:
        raise NotFound(MEMORY_NOT_FOUND)
    body: dict[str, Any] = {"message": "Memory deleted successfully!"}
    if cascade:
        body["cascade_count"] = len(deleted) - 1
    return body


@router.delete("/v1/memories/")
async def delete_all_memories(request: Request, store: StoreDep) -> dict[str, Any]:
    raw = _delete_all_filter(request)
    where, params = compile_selection(raw)
    async with store.transaction() as conn:
        deleted = await store.delete_memories(conn, where, params)
        event_id = await store.create_event(
            conn,
            event_type="DELETE",
            status="SUCCEEDED",
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
        exact.append(_query_dict(query["filters"], "filters"))
    if query.get("metadata"):
        exact.append({"metadata": _query_dict(query["metadata"], "metadata")})
    if any_of:
        exact.append(any_of[0] if len(any_of) == 1 else {"OR": any_of})
    if not exact:
        raise BadRequest(
            "Refusing to delete without a scope: pass user_id, agent_id, app_id or run_id"
            " (use '*' explicitly to mean every entity of that kind)."
        )
    return exact[0] if len(exact) == 1 else {"AND": exact}


def _query_dict(raw: str, name: str) -> dict[str, Any]:
    """A dict sent in the query string: JSON, or the Python repr the official client produces."""
    for parse in (json.loads, ast.literal_eval):
        try:
            value = parse(raw)
        except (ValueError, SyntaxError, MemoryError, RecursionError):
            continue
        if isinstance(value, dict):
            return value
    raise BadRequest(f"{name} in the query string must be a JSON object; got {raw[:100]!r}.")


@router.put("/v1/batch/", openapi_extra=body_schema(BatchUpdateBody))
async def batch_update(body: BodyDep, store: StoreDep, svc: ServicesDep) -> dict[str, Any]:
    batch = parse_body(BatchUpdateBody, body)
    changes = [
        (parse_uuid(item.memory_id, "memory_id"), UpdateBody(text=item.text, metadata=item.metadata), raw)
        for item, raw in zip(batch.memories, body["memories"], strict=True)
    ]
    async with store.transaction() as conn:
        await _update_many(store, svc, conn, changes)
    return {"message": f"Successfully updated {len(changes)} memories"}


@router.delete("/v1/batch/", openapi_extra=body_schema(BatchDeleteBody))
async def batch_delete(body: BodyDep, store: StoreDep) -> dict[str, Any]:
    batch = parse_body(BatchDeleteBody, body)
    ids = [parse_uuid(item.memory_id, "memory_id") for item in batch.memories]
    async with store.transaction() as conn:
        deleted = await store.delete_memories(conn, sql.SQL("m.id = ANY(%s)"), [ids])
        missing = set(ids) - set(deleted)
        if missing:
            raise NotFound(f"Memory not found: {sorted(str(i) for i in missing)[0]}; nothing was deleted.")
    return {"message": f"Successfully deleted {len(deleted)} memories"}
