"""Organisations, read-only (spec §1.5): the caller's own. mnemo has one organisation per deployment unless
projects were made otherwise; creating, changing or deleting organisations is not offered."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from mnemo.errors import NotFound
from mnemo.http.access import Reads
from mnemo.http.deps import PrincipalDep, ServicesDep
from mnemo.http.openapi import responds
from mnemo.http.routing import ApiRoute
from mnemo.http.wire import projects as project_wire

router = APIRouter(tags=["projects"], route_class=ApiRoute)

ORGS = "/api/v1/orgs/organizations/"


async def _caller_org(caller: PrincipalDep, svc: ServicesDep) -> dict[str, Any]:
    org = await svc.accounts.organization(caller.org_id)
    if org is None:  # deleted since the key was read
        raise NotFound("Organization not found")
    return {"org_id": org.id, "name": org.name, "created_at": org.created_at.isoformat()}


@router.get(ORGS, **responds(project_wire.Organizations), dependencies=[Reads])
async def list_organizations(caller: PrincipalDep, svc: ServicesDep) -> list[dict[str, Any]]:
    """The organisations the key belongs to: its project's one."""
    return [await _caller_org(caller, svc)]


@router.get(ORGS + "{org_id}/", **responds(project_wire.Organization), dependencies=[Reads])
async def get_organization(org_id: str, caller: PrincipalDep, svc: ServicesDep) -> dict[str, Any]:
    if org_id != caller.org_id:
        raise NotFound("Organization not found")
    return await _caller_org(caller, svc)
