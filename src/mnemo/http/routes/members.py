"""Project members (spec §1.2 rows 22–25): list, add, change the role of, remove.

Roles act through the keys issued to members (``mnemo keys create --member EMAIL``): a READER's key only reads,
an OWNER's reads and writes. Managing members writes, so a READER's key is refused (403) here like on every
route that writes. Removing a member revokes their keys in the same transaction.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from mnemo.domain.members import email_problem, normal_email
from mnemo.domain.project_requests import MemberBody, NewMemberBody
from mnemo.errors import BadRequest, Conflict, NotFound
from mnemo.http import wire
from mnemo.http.access import Reads, Writes
from mnemo.http.deps import DataDep, PrincipalDep
from mnemo.http.openapi import responds
from mnemo.http.routes.projects import PATH, member_to_wire, own_project
from mnemo.http.routing import ApiRoute
from mnemo.http.wire import projects as project_wire
from mnemo.storage import Principal, ProjectData

router = APIRouter(tags=["projects"], route_class=ApiRoute)

MEMBERS = PATH + "members/"


@router.get(MEMBERS, **responds(project_wire.Members), dependencies=[Reads])
async def list_members(org_id: str, project_id: str, caller: PrincipalDep, data: DataDep) -> dict[str, Any]:
    own_project(caller, org_id, project_id)
    async with data.reading() as tables:
        members = await tables.members.all()
    return {"members": [member_to_wire(m.email, m.role) for m in members]}


@router.post(MEMBERS, **responds(wire.Message), dependencies=[Writes])
async def add_member(
    org_id: str, project_id: str, body: NewMemberBody, caller: PrincipalDep, data: DataDep
) -> dict[str, Any]:
    return await _write_member(org_id, project_id, body, caller, data, adding=True)


@router.put(MEMBERS, **responds(wire.Message), dependencies=[Writes])
async def update_member(
    org_id: str, project_id: str, body: MemberBody, caller: PrincipalDep, data: DataDep
) -> dict[str, Any]:
    return await _write_member(org_id, project_id, body, caller, data, adding=False)


async def _write_member(
    org_id: str, project_id: str, body: MemberBody, caller: Principal, data: ProjectData, *, adding: bool
) -> dict[str, Any]:
    """Add a member (409 when the email already is one) or change a member's role (404 when it is not)."""
    own_project(caller, org_id, project_id)
    async with data.transaction() as tables:
        write = tables.members.add if adding else tables.members.set_role
        done = await write(body.email, body.member_role)
    if adding and not done:
        raise Conflict(f"{body.email} is already a member of this project; change the role with PUT.")
    if not done:
        raise NotFound(f"{body.email} is not a member of this project; add them with POST.")
    return {"message": f"Member {body.email} {'added as' if adding else 'is now'} {body.role}."}


@router.delete(MEMBERS, **responds(wire.Message), dependencies=[Writes])
async def remove_member(
    org_id: str, project_id: str, caller: PrincipalDep, data: DataDep, email: str | None = None
) -> dict[str, Any]:
    """Remove the member ``?email=`` and revoke the keys issued to them."""
    own_project(caller, org_id, project_id)
    if email is None or not email.strip():
        raise BadRequest("Name the member to remove: ?email=<address>.")
    problem = email_problem(email.strip())
    if problem is not None:
        raise BadRequest(f"email: {problem}")
    address = normal_email(email)
    async with data.transaction() as tables:
        revoked = await tables.members.remove(address)
    if revoked is None:
        raise NotFound(f"{address} is not a member of this project.")
    keys = f"; {revoked} API key{'s' if revoked != 1 else ''} revoked" if revoked else ""
    return {"message": f"Member {address} removed{keys}."}
