"""Small helpers the page modules share."""

from __future__ import annotations

from urllib.parse import quote

from fastapi import Request
from starlette.responses import RedirectResponse

from mnemo.ui.api import ApiError
from mnemo.ui.forms import FormError


async def form_fields(request: Request) -> dict[str, str]:
    """The posted form's text fields (a form of the dashboard sends no files)."""
    form = await request.form()
    return {name: value for name, value in form.items() if isinstance(value, str)}


def segment(value: str) -> str:
    """One path segment of an API URL, whatever the person put in the dashboard's URL."""
    return quote(value, safe="")


def see_other(target: str) -> RedirectResponse:
    """After a post: the page to show next (post/redirect/get)."""
    return RedirectResponse(target, status_code=303)


def page_number(request: Request) -> int:
    raw = request.query_params.get("page", "1")
    return int(raw) if raw.isdigit() and int(raw) > 0 else 1


def failure(error: ApiError | FormError) -> tuple[int, str]:
    """The status a page re-drawn after a refused post answers with, and the message it shows: the API's
    status and ``detail`` as they are, or 400 for input the dashboard could not send."""
    if isinstance(error, ApiError):
        return error.status, f"{error.status}: {error.detail}"
    return 400, str(error)
