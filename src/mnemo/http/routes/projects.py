"""Projects (spec §1.2 rows 18–21, §2.6): create one in the caller's organisation, read, change and delete the
caller's own.

A key addresses only its own project (another id is a 404). Creating a project answers, besides its id, a key
of the new project (a mnemo addition): the way a client then reaches it.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request

from mnemo.domain.members import MemberRole
from mnemo.domain.project_requests import ProjectCreateBody, ProjectUpdateBody
from mnemo.domain.projects import LLMSetting, ProjectSettings
from mnemo.domain.requests import LLMChoiceBody
from mnemo.errors import BadRequest, NotFound
from mnemo.http import wire
from mnemo.http.access import Reads, Writes
from mnemo.http.deps import DataDep, PrincipalDep, ServicesDep
from mnemo.http.openapi import responds
from mnemo.http.routing import ApiRoute
from mnemo.http.wire import projects as project_wire
from mnemo.pipeline.commands import parse_categories
from mnemo.pipeline.llm_extractor import DEFAULT_CATEGORIES
from mnemo.providers.llm.profiles import LLMChoice, LLMProfile, unknown_profile
from mnemo.storage import Principal, ProjectRecord

router = APIRouter(tags=["projects"], route_class=ApiRoute)

PROJECTS = "/api/v1/orgs/organizations/{org_id}/projects/"
PATH = PROJECTS + "{project_id}/"
#: The project settings PATCH sets as given (null included).
_PLAIN_SETTINGS = (
    "custom_instructions",
    "agent_custom_instructions",
    "multilingual",
    "decay",
    "memory_depth",
    "usecase_setting",
    "version",
    "enable_graph",
)
_NOTHING = "Nothing to update: send at least one of " + ", ".join(
    name for name in ProjectUpdateBody.model_fields if name not in ("org_id", "project_id")
)


def own_project(caller: Principal, org_id: str, project_id: str) -> None:
    """A key addresses only its own project: any other organisation or project id is a 404."""
    if org_id != caller.org_id or project_id != caller.project_id:
        raise NotFound("Organization or project not found")


def _llm_choice(body: LLMChoiceBody | None, profiles: dict[str, LLMProfile]) -> LLMSetting | None:
    """What PATCH stores for ``llm``: a profile the deployment defines (and a model), or None (the default)."""
    if body is None:
        return None
    profile = profiles.get(body.profile)
    if profile is None:
        raise BadRequest(unknown_profile(body.profile, profiles))
    if profile.provider == "none" and body.model is not None:
        raise BadRequest(f"LLM profile {body.profile!r} runs the offline extractor (no LLM): it takes no model.")
    return LLMSetting(profile=body.profile, model=body.model)


def _requested_fields(request: Request) -> list[str] | None:
    """``fields`` of the query (repeated, or comma-separated): the keys to answer; an unknown one is a 400."""
    names = [
        item.strip() for value in request.query_params.getlist("fields") for item in value.split(",") if item.strip()
    ]
    if not names:
        return None
    known = wire.Project.model_fields
    unknown = [name for name in names if name not in known]
    if unknown:
        raise BadRequest(f"fields: {unknown[0]!r} is not a project field; the fields are {', '.join(known)}.")
    return names


@router.post(PROJECTS, **responds(project_wire.ProjectCreated), dependencies=[Writes])
async def create_project(
    org_id: str, body: ProjectCreateBody, caller: PrincipalDep, svc: ServicesDep
) -> dict[str, Any]:
    """A new, empty project in the caller's organisation, with a key of it (shown once)."""
    if org_id != caller.org_id:
        raise NotFound("Organization not found")
    project_id = await svc.accounts.create_project(caller.org_id, body.name, body.description)
    key = await svc.accounts.create_key(project_id, name=f"created by key {caller.key_id}")
    return {"message": "Project created successfully.", "project_id": project_id, "api_key": key}


def _shown(
    project: ProjectRecord, members: list[dict[str, str]], caller: Principal, profiles: dict[str, LLMProfile]
) -> dict[str, Any]:
    settings = project.settings
    categories = settings.custom_categories or [{c.name: c.description} for c in DEFAULT_CATEGORIES]
    return {
        "project_id": project.id,
        "org_id": project.org_id,
        "name": project.name,
        "description": project.description,
        "created_at": project.created_at.isoformat(),
        "updated_at": project.updated_at.isoformat(),
        "members": members,
        "user_role": (caller.role or MemberRole.OWNER).value,
        "custom_instructions": settings.custom_instructions,
        "agent_custom_instructions": settings.agent_custom_instructions,
        "custom_categories": categories,
        "multilingual": settings.multilingual,
        "llm": LLMChoice.of_project(settings).describe(profiles),
        "is_default": project.is_default,
        "enable_graph": settings.enable_graph,
        "version": settings.version or "v3",
        "decay": settings.decay,
        "memory_depth": settings.memory_depth,
        "usecase_setting": settings.usecase_setting,
    }


def member_to_wire(email: str, role: MemberRole) -> dict[str, str]:
    return {"username": email, "email": email, "role": role.value}


@router.get(PATH, **responds(project_wire.ProjectFields), dependencies=[Reads])
async def get_project(
    org_id: str, project_id: str, request: Request, caller: PrincipalDep, data: DataDep, svc: ServicesDep
) -> dict[str, Any]:
    """The project; with ``fields`` (repeated or comma-separated), only those keys."""
    own_project(caller, org_id, project_id)
    fields = _requested_fields(request)
    async with data.reading() as tables:
        project = await tables.project.get()
        members = [member_to_wire(m.email, m.role) for m in await tables.members.all()]
    shown = _shown(project, members, caller, svc.settings.llm_profile_table())
    return shown if fields is None else {name: shown[name] for name in fields}


@router.patch(PATH, **responds(wire.Message), dependencies=[Writes])
async def update_project(
    org_id: str, project_id: str, update: ProjectUpdateBody, caller: PrincipalDep, data: DataDep, svc: ServicesDep
) -> dict[str, Any]:
    own_project(caller, org_id, project_id)
    if update.org_id not in (None, org_id) or update.project_id not in (None, project_id):
        raise BadRequest("org_id and project_id in the body, when sent, must be those of the path.")
    sent = update.settings_sent()
    if not sent:
        raise BadRequest(_NOTHING + ".")
    changes: dict[str, Any] = {name: sent[name] for name in _PLAIN_SETTINGS if name in sent}
    if "custom_categories" in sent:
        categories = parse_categories(update.custom_categories)
        if update.custom_categories is not None and not categories:
            raise BadRequest("custom_categories must name at least one category (or be null to reset).")
        changes["custom_categories"] = [{c.name: c.description} for c in categories] or None
    if "llm" in sent:
        changes["llm"] = _llm_choice(update.llm, svc.settings.llm_profile_table())
    # Only the keys set here are stored (merged into the project's settings).
    settings = ProjectSettings(**changes)
    async with data.transaction() as tables:
        await tables.project.update(name=update.name, description=update.description, settings=settings)
    return {"message": "Project updated successfully"}


@router.delete(PATH, **responds(wire.Message), dependencies=[Writes])
async def delete_project(org_id: str, project_id: str, caller: PrincipalDep, data: DataDep) -> dict[str, Any]:
    """The project and everything it owns, its keys included: the caller's key stops working (401)."""
    own_project(caller, org_id, project_id)
    async with data.transaction() as tables:
        await tables.project.delete()
    return {"message": "Project and related data deleted successfully."}
