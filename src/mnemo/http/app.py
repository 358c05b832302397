"""The ASGI application: routes, error handlers, and the services they use."""

from __future__ import annotations

import inspect
from typing import Any

from fastapi import FastAPI

from mnemo import __version__
from mnemo.http.access import undeclared
from mnemo.http.body_limit import BodySizeLimit
from mnemo.http.errors import install_error_handlers
from mnemo.http.gate import Gate
from mnemo.http.last_resort import LastResort
from mnemo.http.observe import install_observability
from mnemo.http.openapi import install_openapi
from mnemo.http.ratelimit import RateLimiter
from mnemo.http.routes import account, entities, events, exports, health, memories_read, memories_write, projects
from mnemo.http.routes import legacy as legacy_routes
from mnemo.http.routes import members as member_routes
from mnemo.http.routes import orgs as org_routes
from mnemo.http.routes import profiles as profile_routes
from mnemo.http.routes import summary as summary_routes
from mnemo.http.routes import webhooks as webhook_routes
from mnemo.mcp import install as install_mcp
from mnemo.services import Services
from mnemo.ui import install_ui

#: Paths the gate lets through without a key: health, the schema, the metrics page, and the MCP endpoint and the
#: dashboard, which authenticate their callers by calling the API in-process with the caller's key (those calls
#: come back through the gate).
PUBLIC_PATHS = ("/healthz", "/readyz", "/openapi.json", "/metrics", "/mcp", "/ui")


def create_app(services: Services) -> FastAPI:
    app = FastAPI(
        title="mnemo",
        version=__version__,
        description="Self-hosted long-term memory for AI agents, wire-compatible with the Mem0 Platform API.",
        redirect_slashes=False,
        # FastAPI's /docs and /redoc pages load their scripts from a CDN: mnemo makes no external requests, so
        # it serves the schema alone (/openapi.json), for any OpenAPI viewer.
        docs_url=None,
        redoc_url=None,
        # A body without Content-Type is read as JSON (as before FastAPI 0.132); the API key, not the content
        # type, is what keeps browsers' cross-site requests out.
        strict_content_type=False,
        **_telemetry_off(),
    )
    app.state.services = services
    app.state.rate_limiter = RateLimiter(services.settings.rate_limit_per_minute)
    # Middleware runs outermost last-added: a JSON 500 that keeps the connection (LastResort), then the key and
    # the rate limit on the headers alone (Gate), then the body-size cap, then the routes (ApiRoute: read-only
    # keys refused on routes that write, then the body decoded).
    app.add_middleware(BodySizeLimit, max_bytes=services.settings.max_body_bytes)
    app.add_middleware(
        Gate,
        accounts=services.accounts,
        limiter=app.state.rate_limiter,
        public=PUBLIC_PATHS,
    )
    app.add_middleware(LastResort)
    install_error_handlers(app)
    # Profiles before entities: GET /v2/entities/{type}/{name:path}/ would take .../user/{id}/profile/ too.
    app.include_router(profile_routes.router)
    for module in (health, account, memories_write, memories_read, events, entities, projects, exports):
        app.include_router(module.router)
    app.include_router(webhook_routes.router)
    app.include_router(legacy_routes.router)
    app.include_router(summary_routes.router)
    app.include_router(member_routes.router)
    app.include_router(org_routes.router)
    install_openapi(app)
    install_mcp(app, default_user_id=services.settings.mcp_default_user_id)
    install_ui(app)
    # Last: its middleware is then the outermost, so request ids, metrics and the access log cover every answer.
    install_observability(app)
    _require_declared(app)
    return app


def _telemetry_off() -> dict[str, Any]:
    """FastAPI's own OpenTelemetry (newer releases: spans, metrics and logs per request, exported when a global
    provider or ``FASTAPI_OTEL_AUTO_CONFIGURE`` says so), switched off whatever the environment says: mnemo sends
    nothing anywhere, and its metrics are its own ``/metrics`` page. Releases without it take no such argument."""
    if "telemetry" not in inspect.signature(FastAPI.__init__).parameters:
        return {}
    off = {"tracing": False, "metrics": False, "logs": False, "operation_spans": False, "auto_configure": False}
    return {"telemetry": off}


def _require_declared(app: FastAPI) -> None:
    """Every route outside the public paths says whether it reads or writes (``mnemo.http.access``)."""
    missing = undeclared(app.router.routes, PUBLIC_PATHS)
    if missing:
        raise RuntimeError(f"routes without a Reads/Writes declaration: {', '.join(missing)}")
