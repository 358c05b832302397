"""Signing in with an API key, and out."""

from __future__ import annotations

from fastapi import APIRouter, Request
from starlette.responses import Response

from mnemo.ui.api import Api, ApiError
from mnemo.ui.handlers import signed_out
from mnemo.ui.pages.common import form_fields, see_other
from mnemo.ui.render import render
from mnemo.ui.session import KEY_COOKIE, SAME_ORIGIN, probe_writable, remember

router = APIRouter()


@router.get("/signin")
async def sign_in_form(request: Request) -> Response:
    if request.cookies.get(KEY_COOKIE) and not request.query_params.get("msg"):
        return see_other("/ui/")
    return render(request, "signin.html", session=None)


@router.post("/signin", dependencies=SAME_ORIGIN)
async def sign_in(request: Request) -> Response:
    key = (await form_fields(request)).get("api_key", "").strip()
    if not key:
        return render(request, "signin.html", session=None, status=400, error="Paste an API key.")
    api = Api(request.app, key)
    try:
        await api.get("/v1/ping/")
        writable = await probe_writable(api)
    except ApiError as error:
        return render(request, "signin.html", session=None, status=error.status, error=error.detail)
    response = see_other("/ui/")
    remember(response, request, key, writable=writable)
    return response


@router.post("/signout", dependencies=SAME_ORIGIN)
async def sign_out() -> Response:
    return signed_out("/ui/signin?msg=signed_out")
