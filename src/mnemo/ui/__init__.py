"""The dashboard, served by ``mnemo serve`` at ``/ui/``: server-rendered pages over mnemo's own HTTP API.

Every page calls the public API in-process with the signed-in key (:mod:`mnemo.ui.api`), so the dashboard
holds no storage code and can do nothing the key could not do with ``curl``."""

from __future__ import annotations

from fastapi import FastAPI
from starlette.responses import RedirectResponse
from starlette.staticfiles import StaticFiles

from mnemo.ui.handlers import install_handlers
from mnemo.ui.pages import router
from mnemo.ui.render import HERE


def install_ui(app: FastAPI) -> None:
    """Serve the dashboard's pages under ``/ui/`` and its two static files under ``/ui/static/``."""
    app.add_api_route("/ui", _to_dashboard, methods=["GET"], include_in_schema=False)
    app.include_router(router)
    app.mount("/ui/static", StaticFiles(directory=HERE / "static"), name="ui-static")
    install_handlers(app)


async def _to_dashboard() -> RedirectResponse:
    return RedirectResponse("/ui/", status_code=303)
