"""Health (spec §0.1): ``/healthz`` says the process lives; ``/readyz`` that it can do its work."""

from __future__ import annotations

from datetime import timedelta

from fastapi import APIRouter
from fastapi.responses import JSONResponse

from mnemo.http import wire
from mnemo.http.access import Reads
from mnemo.http.deps import ServicesDep
from mnemo.http.openapi import responds
from mnemo.http.routing import ApiRoute
from mnemo.storage.health import assess

router = APIRouter(tags=["health"], route_class=ApiRoute)


@router.get("/healthz", **responds(wire.Health), dependencies=[Reads])
async def healthz() -> JSONResponse:
    """Liveness: the process answers. It says nothing about the database (that is ``/readyz``)."""
    return JSONResponse({"status": "ok"})


@router.get("/readyz", **responds(wire.Readiness, others={503: wire.Readiness}), dependencies=[Reads])
async def readyz(svc: ServicesDep) -> JSONResponse:
    """Readiness: the database answers, its schema is current, workers drain the queue, and the oldest pending
    job has not waited longer than ``MNEMO_READY_MAX_PENDING_AGE_SECONDS``. 503 with the failed checks
    otherwise; the body shows the queue's depth and age either way."""
    settings = svc.settings
    ready, body = await assess(
        svc.db,
        max_pending_age_seconds=settings.ready_max_pending_age_seconds,
        worker_timeout=timedelta(seconds=settings.job_lease_seconds),
    )
    return JSONResponse(body, status_code=200 if ready else 503)
