"""Every HTTP request observed: its ``X-Request-ID``, metrics, the access log line, and ``/metrics``.

:class:`RequestObservation` is the outermost middleware of the API (installed last by
:func:`install_observability`), so it sees every answer, the body limit's 413 and an authentication refusal
included:

- **Request id.** A client's ``X-Request-ID`` is kept (sanitised, at most 128 characters); otherwise one is made
  (32 hex digits). It is echoed on every response (a 500 too) and bound to the request's log lines. A call the
  dashboard or ``/mcp`` makes to the API in-process keeps the id of the request that made it.
- **Metrics** per method, route *template* (``/v1/memories/{memory_id}/``: ids never become labels; a path no
  route matches is ``unmatched``) and status; adds accepted, by ``infer``.
- **Access log**: one line per request (``mnemo.access``, INFO): method, route template, status, duration,
  client address, request id, project. Never the raw path (it may name an entity) nor the query string (it
  may hold entity ids). Health probes, scrapes and in-process calls are logged at DEBUG.
"""

from __future__ import annotations

import asyncio
import inspect
import json
import logging
import re
import time
from collections.abc import Iterable, Sequence
from datetime import timedelta
from typing import Any

from fastapi import FastAPI, Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Mount, Route
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from mnemo.activity import Activity
from mnemo.observability import WorkContext, access_logger, bound, current, metrics
from mnemo.observability.context import ENDPOINT_PATHS, new_request_id, route_template, sanitize_request_id
from mnemo.services import Services
from mnemo.storage.health import queue_stats_within

HEADER = b"x-request-id"
#: The scope key under which the request's :class:`WorkContext` travels (for the 500 handler, outside us).
WORK_KEY = "mnemo.work"
_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
#: Probed often by machines: their access lines are DEBUG.
_QUIET_ROUTES = frozenset({"/healthz", "/readyz", "/metrics"})
_ADD_ROUTE = "/v3/memories/add/"
_ADD_STATUS = re.compile(rb'"status"\s*:\s*"(PENDING|SUCCEEDED)"')
#: A scrape waits at most this long for the queue's figures (they read NaN after it).
SCRAPE_TIMEOUT_SECONDS = 2.0

_log = access_logger()


class RequestObservation:
    def __init__(self, app: ASGIApp, routes: Sequence[BaseRoute], activity: Activity) -> None:
        self.app = app
        self.routes = routes
        #: The process's work in progress, which counts each request while it runs.
        self.activity = activity
        self._endpoint_paths: dict[int, str] | None = None

    def endpoint_paths(self) -> dict[int, str]:
        """The templates of the plain Starlette routes and mounts, by their endpoint (built on first use, when
        every route is in place)."""
        if self._endpoint_paths is None:
            paths: dict[int, str] = {}
            for route in self.routes:
                if isinstance(route, Mount):
                    paths.setdefault(id(route.app), route.path)
                elif isinstance(route, Route):
                    paths.setdefault(id(route.endpoint), route.path)
            self._endpoint_paths = paths
        return self._endpoint_paths

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        outer = current()
        request_id = (
            sanitize_request_id(_header(scope, HEADER))
            or (outer.request_id if outer is not None else None)
            or new_request_id()
        )
        method = scope["method"] if scope["method"] in _METHODS else "OTHER"
        work = WorkContext(request_id=request_id, method=method, scope=scope)
        scope[WORK_KEY] = work
        scope[ENDPOINT_PATHS] = self.endpoint_paths()
        echo = (b"x-request-id", request_id.encode("ascii"))
        answer = _Answer()

        async def observed_send(message: Message) -> None:
            if message["type"] == "http.response.start":
                answer.status = message["status"]
                answer.started = True
                message = {**message, "headers": [*_without(message.get("headers", ()), HEADER), echo]}
                answer.watch_add = (
                    method == "POST"
                    and answer.status == 200
                    and metrics.enabled()
                    and route_template(scope) == _ADD_ROUTE
                )
            elif message["type"] == "http.response.body" and answer.watch_add:
                answer.read_add(message)
            await send(message)

        started = time.perf_counter()
        metrics.request_started()
        with bound(work), self.activity.working():
            try:
                await self.app(scope, receive, observed_send)
            except asyncio.CancelledError:
                if not answer.started:
                    answer.status = 499  # the client went away first (nginx's word for it)
                raise
            except Exception:
                if not answer.started:
                    answer.status = 500
                raise
            finally:
                seconds = time.perf_counter() - started
                metrics.request_ended()
                route = route_template(scope)
                metrics.observe_request(method, route, answer.status, seconds)
                _access_line(scope, work, route, answer.status, seconds, nested=outer is not None)


class _Answer:
    __slots__ = ("body", "started", "status", "watch_add")

    def __init__(self) -> None:
        self.status = 500
        self.started = False
        self.watch_add = False
        self.body = b""

    def read_add(self, message: Message) -> None:
        """An accepted add's answer says PENDING (infer=true: queued) or SUCCEEDED (infer=false: stored)."""
        self.body += message.get("body", b"")
        if message.get("more_body", False) and len(self.body) < 4096:
            return
        self.watch_add = False
        found = _ADD_STATUS.search(self.body[:4096])
        status = found.group(1).decode() if found else _status_of(self.body)
        if status in ("PENDING", "SUCCEEDED"):
            metrics.add_accepted(infer=status == "PENDING")


def _status_of(body: bytes) -> object:
    try:
        parsed = json.loads(body)
    except ValueError:
        return None
    return parsed.get("status") if isinstance(parsed, dict) else None


def _access_line(scope: Scope, work: WorkContext, route: str, status: int, seconds: float, *, nested: bool) -> None:
    level = logging.DEBUG if nested or route in _QUIET_ROUTES else logging.INFO
    if not _log.isEnabledFor(level):
        return
    client = scope.get("client")
    duration_ms = round(seconds * 1000, 2)
    _log.log(
        level,
        "%s %s %d %.1f ms",
        work.method,
        route,
        status,
        duration_ms,
        extra={
            "route": route,
            "status": status,
            "duration_ms": duration_ms,
            "client": client[0] if client else None,
        },
    )


def _header(scope: Scope, name: bytes) -> str | None:
    for key, value in scope["headers"]:
        if key == name:
            return bytes(value).decode("latin-1")
    return None


def _without(headers: Iterable[tuple[bytes, bytes]], name: bytes) -> list[tuple[bytes, bytes]]:
    return [(k, v) for k, v in headers if k.lower() != name]


# --- /metrics ---------------------------------------------------------------------------------------------------


async def _metrics(request: Request) -> Response:
    services: Services = request.app.state.services
    return await scrape(services)


async def scrape(services: Services) -> Response:
    """The process's metrics, with the queue's and the pool's figures read now."""
    settings = services.settings
    queue = await queue_stats_within(
        services.db, worker_timeout=timedelta(seconds=settings.job_lease_seconds), seconds=SCRAPE_TIMEOUT_SECONDS
    )
    metrics.observe_queue(queue)
    pool = services.db.pool_stats()
    metrics.observe_pool(size=pool.size, in_use=pool.in_use, waiting=pool.waiting, max_size=pool.max_size)
    return Response(metrics.exposition(), media_type=metrics.CONTENT_TYPE)


def install_observability(app: FastAPI) -> None:
    """Observe every request (the middleware goes outermost: install this last) and serve ``/metrics`` (unless
    ``MNEMO_METRICS=false``, or ``MNEMO_METRICS_PORT`` moves it to a port of its own)."""
    settings = app.state.services.settings
    if settings.metrics and settings.metrics_port is None:
        app.router.routes.append(Route("/metrics", _metrics, methods=["GET"], include_in_schema=False))
    unexpected = app.exception_handlers.get(Exception)
    if unexpected is not None:
        app.exception_handlers[Exception] = _echoing(unexpected)
    app.add_middleware(RequestObservation, routes=app.router.routes, activity=app.state.services.activity)


def _echoing(handler: Any) -> Any:
    """The 500 handler runs outside the middleware (Starlette's outermost layer): give its answer the request's
    id, and its log line the request's context."""

    async def answer(request: Request, exc: Exception) -> Response:
        work = request.scope.get(WORK_KEY)
        with bound(work if isinstance(work, WorkContext) else WorkContext()):
            response = handler(request, exc)
            if inspect.isawaitable(response):
                response = await response
        if isinstance(work, WorkContext) and work.request_id is not None:
            response.headers["X-Request-ID"] = work.request_id
        assert isinstance(response, Response)
        return response

    return answer
