"""The small HTTP app a ``mnemo worker`` serves on ``MNEMO_WORKER_HEALTH_PORT``: ``/healthz`` and ``/readyz``,
with the same meaning and bodies as the API's."""

from __future__ import annotations

from datetime import timedelta

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from mnemo.settings import Settings
from mnemo.storage import Database
from mnemo.storage.health import assess


def health_app(db: Database, settings: Settings) -> Starlette:
    async def healthz(request: Request) -> JSONResponse:
        return JSONResponse({"status": "ok"})

    async def readyz(request: Request) -> JSONResponse:
        ready, body = await assess(
            db,
            max_pending_age_seconds=settings.ready_max_pending_age_seconds,
            worker_timeout=timedelta(seconds=settings.job_lease_seconds),
        )
        return JSONResponse(body, status_code=200 if ready else 503)

    return Starlette(routes=[Route("/healthz", healthz), Route("/readyz", readyz)])
