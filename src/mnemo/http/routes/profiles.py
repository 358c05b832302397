"""User profiles (spec §1.4): read one, generate (trigger one user, or sample a few), read a job, settings.

A job runs inside its request (profiles are built from at most a few hundred memories each, by one LLM call
or offline): the answer comes when it is done, and its ``status_url`` reads the same job afterwards. The
``Idempotency-Key`` the clients always send makes a retried request answer the first one (``replayed``)
without generating again.
"""

from __future__ import annotations

import dataclasses
import uuid
from typing import Any

from fastapi import APIRouter, Request

from mnemo.domain.entity_requests import MAX_SAMPLE, ProfileJobBody, ProfileSettingsBody
from mnemo.errors import BadRequest, NotFound
from mnemo.filters import EntityCondition
from mnemo.http.access import Reads, Writes
from mnemo.http.deps import DataDep, ServicesDep, idempotency_key, parse_uuid, remember_response, replay_or_claim
from mnemo.http.openapi import responds
from mnemo.http.routing import ApiRoute
from mnemo.http.wire import profiles as profile_wire
from mnemo.services import Services
from mnemo.storage import ProjectData, ReadOptions
from mnemo.storage.profiles import ProfileSettingsRecord

router = APIRouter(tags=["profiles"], route_class=ApiRoute)

JOBS = "/v2/profiles/jobs/"
#: A profile is written from at most this many current memories of its user (the newest).
PROFILE_MEMORIES = 500
DEFAULT_SAMPLE = 3
NOT_ENABLED = (
    'Profiles are not enabled for this project: turn them on with POST /v2/profiles/settings/ {"enabled": true}.'
)


def _unknown_user(user_id: str) -> str:
    return f"No user named {user_id!r} in this project (never written to, or deleted)."


@router.get("/v2/entities/user/{entity_id:path}/profile/", **responds(profile_wire.Profile), dependencies=[Reads])
async def get_profile(entity_id: str, data: DataDep) -> dict[str, Any]:
    async with data.reading() as tables:
        stored = await tables.profiles.profile(entity_id)
        if stored is None:
            raise NotFound(_unknown_user(entity_id))
        settings = await tables.profiles.settings()
        current, _ = await tables.memories.page(_of_user(entity_id), ReadOptions(latest_only=True), offset=0, limit=0)
    if stored.profile is not None:
        status = "succeeded"
    elif not settings.enabled:
        status = "not_enabled"
    else:
        status = "pending" if current else "insufficient_data"
    return {
        "profile": stored.profile or {},
        "status": status,
        "entity_type": "user",
        "entity_id": entity_id,
        "updated_at": stored.updated_at.isoformat() if stored.updated_at else None,
        "generation_count": stored.generations,
        "generated_by": stored.by,
        "error": stored.error,
    }


@router.post(JOBS, **responds(profile_wire.ProfileJobCreated), dependencies=[Writes])
async def create_job(request: Request, body: ProfileJobBody, data: DataDep, svc: ServicesDep) -> dict[str, Any]:
    key = idempotency_key(request)
    async with data.transaction() as tables:
        replay = await replay_or_claim(tables, key, "profile_job", body.as_sent())
        if replay is not None:
            return {**replay, "replayed": True}
        settings = await tables.profiles.settings()
        if not settings.enabled:
            raise BadRequest(NOT_ENABLED)
        if body.operation == "trigger" and body.entity_id is not None:
            if await tables.profiles.profile(body.entity_id) is None:
                raise NotFound(_unknown_user(body.entity_id))
            users = [body.entity_id]
        else:
            users = await tables.profiles.sample_users(body.limit or DEFAULT_SAMPLE)
        job_id = await tables.profiles.create_job(body.operation, "user", users)
        response: dict[str, Any] = {
            "job_id": str(job_id),
            "status": "running",
            "status_url": f"{JOBS}{job_id}/",
            "operation": body.operation,
            "entity_type": "user",
            "entity_count_reserved": len(users),
            "sampled": len(users),
            "entity_ids": users,
            "event_id": None,
            "replayed": False,
        }
        await remember_response(tables, key, response)
    status = await _run(data, svc, job_id, users, settings)
    response["status"] = status
    async with data.transaction() as tables:
        await remember_response(tables, key, response)
    return response


async def _run(
    data: ProjectData, svc: Services, job_id: uuid.UUID, users: list[str], settings: ProfileSettingsRecord
) -> str:
    """Profile each user, then record how the job went; returns its final status."""
    counts = {"succeeded": 0, "failed": 0, "skipped": 0}
    error: str | None = None
    project_settings = await data.settings()
    try:
        for user in users:
            async with data.reading() as tables:
                _, records = await tables.memories.page(
                    _of_user(user), ReadOptions(latest_only=True), offset=0, limit=PROFILE_MEMORIES
                )
            if not records:
                counts["skipped"] += 1
                continue
            written = await svc.digests.profile(
                project_settings, records, schema=settings.schema, instructions=settings.custom_instructions
            )
            async with data.transaction() as tables:
                stored = await tables.profiles.write(user, written.content, by=written.by, error=written.detail)
            counts["succeeded" if stored else "skipped"] += 1
    except Exception as exc:
        counts["failed"] = len(users) - counts["succeeded"] - counts["skipped"]
        error = f"{type(exc).__name__}: {exc}"
        raise
    finally:
        async with data.transaction() as tables:
            await tables.profiles.finish_job(job_id, error=error, **counts)
    return "failed" if counts["failed"] and not counts["succeeded"] else "succeeded"


@router.get(JOBS + "{job_id}/", **responds(profile_wire.ProfileJobStatus), dependencies=[Reads])
async def get_job(job_id: str, data: DataDep) -> dict[str, Any]:
    async with data.reading() as tables:
        job = await tables.profiles.job(parse_uuid(job_id, "job_id"))
    if job is None:
        raise NotFound(f"No profile job {job_id} in this project.")
    total = len(job.entity_ids)
    return {
        "job": {
            "id": str(job.id),
            "operation": job.operation,
            "entity_type": job.entity_type,
            "status": job.status,
            "total": total,
            "enumeration_complete": True,
            "completed": job.succeeded + job.failed + job.skipped,
            "succeeded": job.succeeded,
            "failed": job.failed,
            "skipped": job.skipped,
            "entity_ids": job.entity_ids,
            "error": job.error,
            "created_at": job.created_at.isoformat(),
            "completed_at": job.completed_at.isoformat() if job.completed_at else None,
        }
    }


@router.get("/v2/profiles/settings/", **responds(profile_wire.ProfileSettings), dependencies=[Reads])
async def get_settings(data: DataDep, svc: ServicesDep) -> dict[str, Any]:
    async with data.reading() as tables:
        settings = await tables.profiles.settings()
    return await _settings(data, svc, settings)


@router.post("/v2/profiles/settings/", **responds(profile_wire.ProfileSettings), dependencies=[Writes])
async def update_settings(body: ProfileSettingsBody, data: DataDep, svc: ServicesDep) -> dict[str, Any]:
    """Writes what the body names: ``enabled``, and under ``entities.user`` the ``schema`` and
    ``custom_instructions`` (null clears one; a key left out keeps it)."""
    async with data.transaction() as tables:
        settings = await tables.profiles.settings()
        if body.enabled is not None:
            settings = dataclasses.replace(settings, enabled=body.enabled)
        user = (body.entities or {}).get("user")
        if user is not None:
            if "profile_schema" in user.model_fields_set:
                settings = dataclasses.replace(settings, schema=user.profile_schema)
            if "custom_instructions" in user.model_fields_set:
                settings = dataclasses.replace(settings, custom_instructions=user.custom_instructions)
        await tables.profiles.save_settings(settings)
    return await _settings(data, svc, settings)


async def _settings(data: ProjectData, svc: Services, settings: ProfileSettingsRecord) -> dict[str, Any]:
    return {
        "enabled": settings.enabled,
        "capabilities": {
            "entity_types": ["user"],
            "operations": ["trigger", "sample"],
            "max_sample": MAX_SAMPLE,
            "generator": svc.digests.generator(await data.settings()),
        },
        "entities": {"user": {"schema": settings.schema, "custom_instructions": settings.custom_instructions}},
    }


def _of_user(user_id: str) -> EntityCondition:
    return EntityCondition("user_id", "eq", (user_id,))
