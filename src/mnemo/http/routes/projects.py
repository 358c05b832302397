"""The caller's project (spec §1.2 rows 18–19, §2.6): settings that shape extraction."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from mnemo.domain.projects import LLMSetting, ProjectSettings
from mnemo.domain.requests import LLMChoiceBody, ProjectUpdateBody
from mnemo.errors import BadRequest, NotFound
from mnemo.http import wire
from mnemo.http.access import Reads, Writes
from mnemo.http.deps import DataDep, PrincipalDep, ServicesDep
from mnemo.http.openapi import responds
from mnemo.http.routing import ApiRoute
from mnemo.pipeline.commands import parse_categories
from mnemo.pipeline.llm_extractor import DEFAULT_CATEGORIES
from mnemo.providers.llm.profiles import LLMChoice, LLMProfile, unknown_profile
from mnemo.storage import Principal

router = APIRouter(tags=["projects"], route_class=ApiRoute)

PATH = "/api/v1/orgs/organizations/{org_id}/projects/{project_id}/"
#: The project settings PATCH sets as given (null included).
_PLAIN_SETTINGS = ("custom_instructions", "agent_custom_instructions", "multilingual")


def _own(caller: Principal, org_id: str, project_id: str) -> None:
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


@router.get(PATH, **responds(wire.Project), dependencies=[Reads])
async def get_project(
    org_id: str, project_id: str, caller: PrincipalDep, data: DataDep, svc: ServicesDep
) -> dict[str, Any]:
    _own(caller, org_id, project_id)
    async with data.reading() as tables:
        project = await tables.project.get()
    settings = project.settings
    categories = settings.custom_categories or [{c.name: c.description} for c in DEFAULT_CATEGORIES]
    return {
        "project_id": project.id,
        "org_id": project.org_id,
        "name": project.name,
        "description": project.description,
        "created_at": project.created_at.isoformat(),
        "updated_at": project.updated_at.isoformat(),
        "members": [],
        "custom_instructions": settings.custom_instructions,
        "agent_custom_instructions": settings.agent_custom_instructions,
        "custom_categories": categories,
        "multilingual": settings.multilingual,
        "llm": LLMChoice.of_project(settings).describe(svc.settings.llm_profile_table()),
        "is_default": project.is_default,
        "enable_graph": False,
        "version": "v3",
    }


@router.patch(PATH, **responds(wire.Message), dependencies=[Writes])
async def update_project(
    org_id: str, project_id: str, update: ProjectUpdateBody, caller: PrincipalDep, data: DataDep, svc: ServicesDep
) -> dict[str, Any]:
    _own(caller, org_id, project_id)
    changes: dict[str, Any] = {
        name: getattr(update, name) for name in _PLAIN_SETTINGS if name in update.model_fields_set
    }
    if "custom_categories" in update.model_fields_set:
        categories = parse_categories(update.custom_categories)
        if update.custom_categories is not None and not categories:
            raise BadRequest("custom_categories must name at least one category (or be null to reset).")
        changes["custom_categories"] = [{c.name: c.description} for c in categories] or None
    if "llm" in update.model_fields_set:
        changes["llm"] = _llm_choice(update.llm, svc.settings.llm_profile_table())
    if not changes and update.name is None and update.description is None:
        raise BadRequest("Nothing to update: send custom_instructions, custom_categories, llm, name or description.")
    # Only the keys set here are stored (merged into the project's settings).
    settings = ProjectSettings(**changes)
    async with data.transaction() as tables:
        await tables.project.update(name=update.name, description=update.description, settings=settings)
    return {"message": "Project updated successfully"}
