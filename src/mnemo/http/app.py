"""The ASGI application: routes, error handlers, and the services they use."""

from __future__ import annotations

from fastapi import FastAPI

from mnemo import __version__
from mnemo.http.body_limit import BodySizeLimit
from mnemo.http.errors import install_error_handlers
from mnemo.http.openapi import install_openapi
from mnemo.http.ratelimit import RateLimiter
from mnemo.http.routes import account, entities, events, exports, health, memories_read, memories_write, projects
from mnemo.mcp import install as install_mcp
from mnemo.services import Services
from mnemo.ui import install_ui


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
    )
    app.state.services = services
    app.state.rate_limiter = RateLimiter(services.settings.rate_limit_per_minute)
    app.add_middleware(BodySizeLimit, max_bytes=services.settings.max_body_bytes)
    install_error_handlers(app)
    for module in (health, account, memories_write, memories_read, events, entities, projects, exports):
        app.include_router(module.router)
    install_openapi(app)
    install_mcp(app, default_user_id=services.settings.mcp_default_user_id)
    install_ui(app)
    return app
