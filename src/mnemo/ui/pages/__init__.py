"""The dashboard's routes, one module per page family; all under ``/ui`` and out of the OpenAPI schema."""

from __future__ import annotations

from fastapi import APIRouter

from mnemo.ui.pages import auth, events, memories, project, search

router = APIRouter(prefix="/ui", include_in_schema=False)
for _module in (auth, memories, search, events, project):
    router.include_router(_module.router)
