"""Entities: the users, agents, apps and runs that own memories (spec §1.1 rows 10–11)."""

from __future__ import annotations

import hashlib
from typing import Any

from fastapi import APIRouter
from psycopg import sql

from mnemo.domain.memories import ENTITY_KINDS
from mnemo.errors import BadRequest, NotFound
from mnemo.http.deps import PrincipalDep, StoreDep

router = APIRouter(tags=["entities"])


def _entity_id(kind: str, name: str) -> str:
    return hashlib.sha1(f"{kind}\0{name}".encode(), usedforsecurity=False).hexdigest()[:16]


@router.get("/v1/entities/")
async def list_entities(store: StoreDep, caller: PrincipalDep) -> dict[str, Any]:
    async with store.connection() as conn:
        rows = await store.entities(conn)
    results = [
        {
            "id": _entity_id(row["type"], row["name"]),
            "name": row["name"],
            "type": row["type"],
            "created_at": row["created_at"].isoformat(),
            "updated_at": row["updated_at"].isoformat(),
            "total_memories": row["total_memories"],
            "owner": caller.project_id,
            "metadata": None,
        }
        for row in rows
    ]
    totals = {f"total_{kind}s": sum(1 for r in results if r["type"] == kind) for kind in ENTITY_KINDS}
    return {"count": len(results), "next": None, "previous": None, "results": results, **totals}


@router.delete("/v2/entities/{entity_type}/{entity_name:path}/")
async def delete_entity(entity_type: str, entity_name: str, store: StoreDep) -> dict[str, Any]:
    if entity_type not in ENTITY_KINDS:
        raise BadRequest(f"Unknown entity type {entity_type!r}; expected one of: {', '.join(ENTITY_KINDS)}.")
    if not entity_name:
        raise BadRequest("The entity name is empty.")
    column = sql.Identifier(f"{entity_type}_id")
    async with store.transaction() as conn:
        deleted = await store.delete_memories(conn, sql.SQL("m.{} = %s").format(column), [entity_name])
    if not deleted:
        raise NotFound(f"No {entity_type} named {entity_name!r} has memories in this project.")
    return {"message": "Entity deleted successfully.", "deleted_count": len(deleted)}
