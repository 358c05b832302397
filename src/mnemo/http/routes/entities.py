"""Entities: the users, agents, apps and runs that own memories (spec §1.1 rows 10–11)."""

from __future__ import annotations

import hashlib
from typing import Any

from fastapi import APIRouter

from mnemo.domain.memories import ENTITY_KINDS
from mnemo.errors import BadRequest, NotFound
from mnemo.filters import EntityCondition
from mnemo.http import wire
from mnemo.http.access import Reads, Writes
from mnemo.http.deps import DataDep, PrincipalDep
from mnemo.http.openapi import responds
from mnemo.http.routing import ApiRoute

router = APIRouter(tags=["entities"], route_class=ApiRoute)


def _entity_id(kind: str, name: str) -> str:
    return hashlib.sha1(f"{kind}\0{name}".encode(), usedforsecurity=False).hexdigest()[:16]


@router.get("/v1/entities/", **responds(wire.EntityPage), dependencies=[Reads])
async def list_entities(data: DataDep, caller: PrincipalDep) -> dict[str, Any]:
    async with data.reading() as tables:
        entities = await tables.memories.entities()
    results = [
        {
            "id": _entity_id(entity.kind, entity.name),
            "name": entity.name,
            "type": entity.kind,
            "created_at": entity.created_at.isoformat(),
            "updated_at": entity.updated_at.isoformat(),
            "total_memories": entity.total_memories,
            "owner": caller.project_id,
            "metadata": None,
        }
        for entity in entities
    ]
    totals = {f"total_{kind}s": sum(1 for r in results if r["type"] == kind) for kind in ENTITY_KINDS}
    return {"count": len(results), "next": None, "previous": None, "results": results, **totals}


@router.delete("/v2/entities/{entity_type}/{entity_name:path}/", **responds(wire.EntityDeleted), dependencies=[Writes])
async def delete_entity(entity_type: str, entity_name: str, data: DataDep) -> dict[str, Any]:
    if entity_type not in ENTITY_KINDS:
        raise BadRequest(f"Unknown entity type {entity_type!r}; expected one of: {', '.join(ENTITY_KINDS)}.")
    if not entity_name:
        raise BadRequest("The entity name is empty.")
    async with data.transaction() as tables:
        deleted = await tables.memories.delete(EntityCondition(f"{entity_type}_id", "eq", (entity_name,)))
    if not deleted:
        raise NotFound(f"No {entity_type} named {entity_name!r} has memories in this project.")
    return {"message": "Entity deleted successfully.", "deleted_count": len(deleted)}
