"""The ASGI application: routes, error handlers, and the services they use."""

from __future__ import annotations

from fastapi import FastAPI

from mnemo import __version__
from mnemo.http.errors import install_error_handlers
from mnemo.http.openapi import install_openapi
from mnemo.http.ratelimit import RateLimiter
from mnemo.http.routes import account, entities, events, exports, health, memories_read, memories_write, projects
from mnemo.services import Services


def create_app(services: Services) -> FastAPI:
    app = FastAPI(
        title="mnemo",
        version=__version__,
        description="Self-hosted long-term memory for AI agents, wire-compatible with the Mem0 Platform API.",
        redirect_slashes=False,
    )
    app.state.services = services
    app.state.rate_limiter = RateLimiter(services.settings.rate_limit_per_minute)
    install_error_handlers(app)
    for module in (health, account, memories_write, memories_read, events, entities, projects, exports):
        app.include_router(module.router)
    install_openapi(app)
    return app
