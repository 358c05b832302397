"""Health, ping, and the caller's project (spec §0.1, §1.2)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from fastapi.responses import JSONResponse

from mnemo.http.deps import PrincipalDep, ServicesDep

router = APIRouter(tags=["account"])


@router.get("/healthz", include_in_schema=True)
async def healthz(svc: ServicesDep) -> JSONResponse:
    await svc.db.ping()
    return JSONResponse({"status": "ok"})


@router.get("/v1/ping/")
async def ping(caller: PrincipalDep) -> dict[str, Any]:
    return {
        "status": "ok",
        "org_id": caller.org_id,
        "project_id": caller.project_id,
        "user_email": None,
    }
