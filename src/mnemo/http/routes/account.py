"""Ping: the caller's project (spec §1.2)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from mnemo.http import wire
from mnemo.http.access import Reads
from mnemo.http.deps import PrincipalDep
from mnemo.http.openapi import responds
from mnemo.http.routing import ApiRoute

router = APIRouter(tags=["account"], route_class=ApiRoute)


@router.get("/v1/ping/", **responds(wire.Ping), dependencies=[Reads])
async def ping(caller: PrincipalDep) -> dict[str, Any]:
    """Who the key is: its organisation and project, the member it was issued to (``user_email``; null for a key
    of no member) and (a mnemo addition) whether it may only read."""
    return {
        "status": "ok",
        "org_id": caller.org_id,
        "project_id": caller.project_id,
        "user_email": caller.member_email,
        "read_only": caller.read_only,
    }
