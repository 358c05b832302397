"""The project: its extraction settings (instructions, categories, LLM profile) and what there is to know
about its keys."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from starlette.responses import Response

from mnemo.ui.api import ApiError
from mnemo.ui.forms import FormError, categories_text, project_changes
from mnemo.ui.pages.common import failure, form_fields, see_other, segment
from mnemo.ui.render import render
from mnemo.ui.session import SAME_ORIGIN, Session, SessionDep

router = APIRouter()


async def _project_path(session: Session) -> str:
    ping = await session.api.get("/v1/ping/")
    return f"/api/v1/orgs/organizations/{segment(ping['org_id'])}/projects/{segment(ping['project_id'])}/"


def _form_of(project: dict[str, Any]) -> dict[str, str]:
    return {
        "custom_instructions": project.get("custom_instructions") or "",
        "agent_custom_instructions": project.get("agent_custom_instructions") or "",
        "custom_categories": categories_text(project.get("custom_categories")),
        "llm_profile": (project.get("llm") or {}).get("profile") or "default",
        "llm_model": "",
    }


async def _page(
    request: Request,
    session: Session,
    *,
    form: dict[str, str] | None = None,
    refused: ApiError | FormError | None = None,
) -> Response:
    status, error = failure(refused) if refused else (200, None)
    project = await session.api.get(await _project_path(session))
    return render(
        request,
        "project.html",
        session=session,
        active="project",
        status=status,
        error=error,
        project=project,
        form=form if form is not None else _form_of(project),
    )


@router.get("/project")
async def project_page(request: Request, session: SessionDep) -> Response:
    return await _page(request, session)


@router.post("/project", dependencies=SAME_ORIGIN)
async def save_project(request: Request, session: SessionDep) -> Response:
    form = await form_fields(request)
    try:
        path = await _project_path(session)
        changes = project_changes(await session.api.get(path), form)
        if not changes:
            return see_other("/ui/project?msg=unchanged")
        await session.api.call("PATCH", path, body=changes)
    except (ApiError, FormError) as error:
        return await _page(request, session, form=form, refused=error)
    return see_other("/ui/project?msg=updated")
