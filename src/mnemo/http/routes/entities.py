"""Entities: the users, agents, apps and runs memories are written under (spec §1.1 rows 10–11, §1.5).

An entity is a record (``mnemo.storage.entities``): created by its first memory, kept when its memories are
deleted, removed only here, by name, with all its memories.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request

from mnemo.domain.memories import ENTITY_KINDS
from mnemo.errors import BadRequest, NotFound
from mnemo.filters import EntityCondition
from mnemo.http import wire
from mnemo.http.access import Reads, Writes
from mnemo.http.deps import DataDep, PrincipalDep, ServicesDep, query_int
from mnemo.http.openapi import responds
from mnemo.http.routing import ApiRoute
from mnemo.http.wire import entities as entity_wire
from mnemo.storage import ProjectData

router = APIRouter(tags=["entities"], route_class=ApiRoute)

MAX_PAGE = 1_000_000_000


def entity_kind(entity_type: str) -> str:
    if entity_type not in ENTITY_KINDS:
        raise BadRequest(f"Unknown entity type {entity_type!r}; expected one of: {', '.join(ENTITY_KINDS)}.")
    return entity_type


def _entity(entity: Any, owner: str) -> dict[str, Any]:
    return {
        "id": str(entity.id),
        "name": entity.name,
        "type": entity.kind,
        "created_at": entity.created_at.isoformat(),
        "updated_at": entity.updated_at.isoformat(),
        "total_memories": entity.total_memories,
        "owner": owner,
        "metadata": entity.metadata,
    }


@router.get("/v1/entities/", **responds(wire.EntityPage), dependencies=[Reads])
async def list_entities(request: Request, data: DataDep, caller: PrincipalDep, svc: ServicesDep) -> dict[str, Any]:
    """Newest first. Without ``page_size`` a page holds ``MNEMO_MAX_PAGE_SIZE`` entities, so clients that do not
    page (the Python client's ``users()`` and ``reset()``) see them all up to that many."""
    limit = svc.settings.max_page_size
    page = query_int(request, "page", 1, low=1, high=MAX_PAGE)
    page_size = query_int(request, "page_size", limit, low=1, high=limit)
    async with data.reading() as tables:
        totals, entities = await tables.entities.page(offset=(page - 1) * page_size, limit=page_size)
    count = sum(totals.values())
    following = page * page_size < count
    return {
        "count": count,
        "next": str(request.url.include_query_params(page=page + 1, page_size=page_size)) if following else None,
        "previous": str(request.url.include_query_params(page=page - 1, page_size=page_size)) if page > 1 else None,
        "results": [_entity(entity, caller.project_id) for entity in entities],
        **{f"total_{kind}s": totals[kind] for kind in ENTITY_KINDS},
    }


@router.get("/v1/stats/", **responds(entity_wire.Stats), dependencies=[Reads])
async def project_stats(data: DataDep) -> dict[str, Any]:
    async with data.reading() as tables:
        stats = await tables.entities.stats()
    return {
        "total_memories": stats.total_memories,
        "current_memories": stats.current_memories,
        "total_entities": sum(stats.entities.values()),
        "entities": stats.entities,
        **{f"total_{kind}s": stats.entities[kind] for kind in ENTITY_KINDS},
        "total_add_requests": stats.add_requests,
        "feedback": stats.feedback,
    }


@router.get("/v2/entities/{entity_type}/{entity_name:path}/", **responds(wire.Entity), dependencies=[Reads])
async def get_entity(entity_type: str, entity_name: str, data: DataDep, caller: PrincipalDep) -> dict[str, Any]:
    kind = entity_kind(entity_type)
    async with data.reading() as tables:
        entity = await tables.entities.get(kind, entity_name)
    if entity is None:
        raise NotFound(_unknown(kind, entity_name))
    return _entity(entity, caller.project_id)


@router.delete("/v2/entities/{entity_type}/{entity_name:path}/", **responds(wire.EntityDeleted), dependencies=[Writes])
async def delete_entity(entity_type: str, entity_name: str, data: DataDep) -> dict[str, Any]:
    """The entity and every memory written under it; 200 even when it has no memories left."""
    kind = entity_kind(entity_type)
    if not entity_name:
        raise BadRequest("The entity name is empty.")
    return await _delete(data, kind, entity_name)


@router.delete("/v1/entities/{entity_type}/{entity_id:path}/", **responds(wire.EntityDeleted), dependencies=[Writes])
async def delete_entity_v1(entity_type: str, entity_id: str, data: DataDep) -> dict[str, Any]:
    """The older clients' delete (npm ``deleteUser``): the entity named ``entity_id``, else the one with that
    numeric id (what ``GET /v1/entities/`` answers as ``id``)."""
    kind = entity_kind(entity_type)
    async with data.reading() as tables:
        entity = await tables.entities.get(kind, entity_id)
        if entity is None and entity_id.isdigit():
            entity = await tables.entities.get_by_id(kind, int(entity_id))
    return await _delete(data, kind, entity.name if entity is not None else entity_id)


async def _delete(data: ProjectData, kind: str, name: str) -> dict[str, Any]:
    async with data.transaction() as tables:
        existed = await tables.entities.delete(kind, name)
        deleted = await tables.memories.delete(EntityCondition(f"{kind}_id", "eq", (name,)))
    if not existed and not deleted:
        raise NotFound(_unknown(kind, name))
    return {"message": "Entity deleted successfully.", "deleted_count": len(deleted)}


def _unknown(kind: str, name: str) -> str:
    return f"No {kind} named {name!r} in this project (never written to, or deleted)."
