"""The search playground: a query, its filters, and each result's score and score breakdown."""

from __future__ import annotations

from fastapi import APIRouter, Request
from starlette.responses import Response

from mnemo.ui.api import ApiError
from mnemo.ui.forms import FormError, search_request
from mnemo.ui.pages.common import failure
from mnemo.ui.render import render
from mnemo.ui.session import SessionDep

router = APIRouter()


@router.get("/search")
async def search(request: Request, session: SessionDep) -> Response:
    params = dict(request.query_params)
    status, error = 200, None
    body = answer = None
    try:
        body = search_request(params)
        if body is not None:
            answer = await session.api.post("/v3/memories/search/", body)
    except (ApiError, FormError) as problem:
        status, error = failure(problem)
    return render(
        request,
        "search.html",
        session=session,
        active="search",
        status=status,
        error=error,
        params=params,
        body=body,
        answer=answer,
    )
