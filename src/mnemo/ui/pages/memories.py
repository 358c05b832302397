"""Entities, an entity's memories, one memory (history, edit, delete)."""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from fastapi import APIRouter, Request
from starlette.responses import Response

from mnemo.ui.api import Api, ApiError
from mnemo.ui.forms import ENTITY_KINDS, FormError, memory_changes, pretty
from mnemo.ui.pages.common import failure, form_fields, page_number, see_other, segment
from mnemo.ui.render import render
from mnemo.ui.session import SAME_ORIGIN, Session, SessionDep

router = APIRouter()

PAGE_SIZE = 50
#: How many ``replaced_by`` links a memory's page follows.
CHAIN_LIMIT = 20


@router.get("/")
async def entities(request: Request, session: SessionDep) -> Response:
    found = await session.api.get("/v1/entities/")
    groups: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for entity in found["results"]:
        groups[entity["type"]].append(entity)
    return render(request, "entities.html", session=session, active="entities", found=found, groups=groups)


@router.get("/entities/{kind}/{name:path}")
async def entity_memories(request: Request, kind: str, name: str, session: SessionDep) -> Response:
    if kind not in ENTITY_KINDS:
        raise ApiError(404, f"Unknown entity type {kind!r}; expected one of: {', '.join(ENTITY_KINDS)}.")
    page = page_number(request)
    options = {flag: True for flag in ("show_expired", "latest_only") if request.query_params.get(flag)}
    body = {"filters": {f"{kind}_id": name}, "page": page, "page_size": PAGE_SIZE, **options}
    found = await session.api.post("/v3/memories/", body)
    replaces: dict[str, list[str]] = defaultdict(list)
    for memory in found["results"]:
        if memory.get("replaced_by"):
            replaces[memory["replaced_by"]].append(memory["id"])
    return render(
        request,
        "memories.html",
        session=session,
        active="entities",
        kind=kind,
        name=name,
        found=found,
        page=page,
        pages=max(1, -(-found["count"] // PAGE_SIZE)),
        options=options,
        replaces=replaces,
    )


async def _memory_view(api: Api, memory_id: str) -> dict[str, Any]:
    """The memory (None once deleted), its history and the memories that replaced it, newest last."""
    path = f"/v1/memories/{segment(memory_id)}/"
    try:
        memory = await api.get(path)
    except ApiError as error:
        if error.status != 404:
            raise
        memory = None
    history = await api.get(f"{path}history/")  # answers after a delete too; 404 when it never existed
    chain: list[dict[str, Any]] = []
    successor = memory.get("replaced_by") if memory else None
    while successor and len(chain) < CHAIN_LIMIT:
        try:
            newer = await api.get(f"/v1/memories/{segment(successor)}/")
        except ApiError:
            chain.append({"id": successor, "memory": None})
            break
        chain.append(newer)
        successor = newer.get("replaced_by")
    return {"memory_id": memory_id, "memory": memory, "history": history, "chain": chain}


def _form_of(memory: dict[str, Any] | None) -> dict[str, str]:
    if memory is None:
        return {}
    return {
        "text": memory.get("memory") or "",
        "metadata": pretty(memory["metadata"]) if memory.get("metadata") else "",
        "expiration_date": (memory.get("expiration_date") or "")[:10],
    }


async def _memory_page(
    request: Request,
    session: Session,
    memory_id: str,
    *,
    form: dict[str, str] | None = None,
    refused: ApiError | FormError | None = None,
) -> Response:
    status, error = failure(refused) if refused else (200, None)
    view = await _memory_view(session.api, memory_id)
    linked = request.query_params.get("linked", "")
    return render(
        request,
        "memory.html",
        session=session,
        active="entities",
        status=status,
        error=error,
        form=form if form is not None else _form_of(view["memory"]),
        linked=int(linked) if linked.isdigit() else None,
        **view,
    )


@router.get("/memories/{memory_id}")
async def memory_page(request: Request, memory_id: str, session: SessionDep) -> Response:
    return await _memory_page(request, session, memory_id)


@router.post("/memories/{memory_id}/edit", dependencies=SAME_ORIGIN)
async def edit_memory(request: Request, memory_id: str, session: SessionDep) -> Response:
    form = await form_fields(request)
    path = f"/v1/memories/{segment(memory_id)}/"
    try:
        changes = memory_changes(await session.api.get(path), form)
        if not changes:
            return see_other(f"/ui/memories/{segment(memory_id)}?msg=unchanged")
        await session.api.call("PUT", path, body=changes)
    except (ApiError, FormError) as error:
        return await _memory_page(request, session, memory_id, form=form, refused=error)
    return see_other(f"/ui/memories/{segment(memory_id)}?msg=updated")


@router.post("/memories/{memory_id}/delete", dependencies=SAME_ORIGIN)
async def delete_memory(request: Request, memory_id: str, session: SessionDep) -> Response:
    cascade = bool((await form_fields(request)).get("delete_linked"))
    params = {"delete_linked": "true"} if cascade else None
    try:
        answer = await session.api.call("DELETE", f"/v1/memories/{segment(memory_id)}/", params=params)
    except ApiError as error:
        return await _memory_page(request, session, memory_id, refused=error)
    target = f"/ui/memories/{segment(memory_id)}?msg=deleted"
    if cascade:
        target += f"&linked={int(answer.get('cascade_count') or 0)}"
    return see_other(target)
