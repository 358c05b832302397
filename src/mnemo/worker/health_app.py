"""The small HTTP app a ``mnemo worker`` serves on ``MNEMO_WORKER_HEALTH_PORT``: ``/healthz`` and ``/readyz``,
with the same meaning and bodies as the API's, and the process's Prometheus metrics at ``/metrics`` (unless
``MNEMO_METRICS=false``). ``serve`` also answers with it on ``MNEMO_METRICS_PORT``."""

from __future__ import annotations

from datetime import timedelta

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from mnemo.observability import metrics
from mnemo.settings import Settings
from mnemo.storage import Database
from mnemo.storage.health import assess, queue_stats_within

#: A scrape waits at most this long for the queue's figures (they read NaN after it).
_SCRAPE_TIMEOUT_SECONDS = 2.0


def health_app(db: Database, settings: Settings) -> Starlette:
    worker_timeout = timedelta(seconds=settings.job_lease_seconds)

    async def healthz(request: Request) -> JSONResponse:
        return JSONResponse({"status": "ok"})

    async def readyz(request: Request) -> JSONResponse:
        ready, body = await assess(
            db, max_pending_age_seconds=settings.ready_max_pending_age_seconds, worker_timeout=worker_timeout
        )
        return JSONResponse(body, status_code=200 if ready else 503)

    async def scrape(request: Request) -> Response:
        metrics.observe_queue(
            await queue_stats_within(db, worker_timeout=worker_timeout, seconds=_SCRAPE_TIMEOUT_SECONDS)
        )
        pool = db.pool_stats()
        metrics.observe_pool(size=pool.size, in_use=pool.in_use, waiting=pool.waiting, max_size=pool.max_size)
        return Response(metrics.exposition(), media_type=metrics.CONTENT_TYPE)

    routes = [Route("/healthz", healthz), Route("/readyz", readyz)]
    if settings.metrics:
        routes.append(Route("/metrics", scrape))
    return Starlette(routes=routes)
