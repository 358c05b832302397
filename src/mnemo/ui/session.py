"""Who is signed in, what their key may do, and where a form post came from.

The API key is the session: it is kept in an HttpOnly, SameSite=Strict cookie scoped to ``/ui`` and sent
to the API with every call; signing out deletes it. Whether the key may write is found once, at sign-in,
by asking the API (``GET /v1/ping/`` says ``read_only``), and kept in a second cookie that only
decides which controls are drawn: the API checks the key on every call anyway.

Cross-site request forgery: every ``POST`` of the dashboard must carry an ``Origin`` (or, failing that, a
``Referer``) naming this host. With SameSite=Strict the cookie does not travel on cross-site requests in
the first place; the origin check is the second lock (and covers sign-in, which has no cookie yet)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated
from urllib.parse import urlsplit

from fastapi import Depends, Request
from starlette.responses import Response

from mnemo.ui.api import Api

KEY_COOKIE = "mnemo_key"
ACCESS_COOKIE = "mnemo_access"
COOKIE_PATH = "/ui"


class SignInRequired(Exception):
    """No key in the request: the page answers with a redirect to the sign-in form."""


class CrossSiteRequest(Exception):
    """A form post whose Origin (or Referer) is another site, or missing."""


@dataclass(frozen=True, slots=True)
class Session:
    api: Api
    writable: bool
    #: the start of the key, enough to tell two keys apart
    key_hint: str


def key_hint(key: str) -> str:
    return f"{key[:8]}…" if len(key) > 12 else "…"


async def probe_writable(api: Api) -> bool:
    """Whether the key may write (``GET /v1/ping/`` says ``read_only``); the API's 401 leaves as :class:`ApiError`."""
    body = await api.get("/v1/ping/")
    return not (isinstance(body, dict) and body.get("read_only"))


async def current_session(request: Request) -> Session:
    key = request.cookies.get(KEY_COOKIE)
    if not key:
        raise SignInRequired
    api = Api(request.app, key)
    access = request.cookies.get(ACCESS_COOKIE)
    writable = access == "rw" if access in ("rw", "ro") else await probe_writable(api)
    session = Session(api, writable, key_hint(key))
    request.state.ui_session = session  # for the error page's navigation
    return session


SessionDep = Annotated[Session, Depends(current_session)]


def check_origin(request: Request) -> None:
    """Refuse a post that does not come from a page of this host (used as a route dependency)."""
    source = request.headers.get("origin") or request.headers.get("referer")
    # A reverse proxy may rewrite Host and say the original in X-Forwarded-Host; a browser cannot set that
    # header on a cross-site form post, so it is as trustworthy here as Host.
    forwarded = request.headers.get("x-forwarded-host", "").split(",")[0]
    hosts = {name.strip().lower() for name in (request.headers.get("host", ""), forwarded)} - {""}
    if not source or source == "null" or urlsplit(source).netloc.lower() not in hosts:
        raise CrossSiteRequest


SAME_ORIGIN = [Depends(check_origin)]


def remember(response: Response, request: Request, key: str, *, writable: bool) -> None:
    secure = request.url.scheme == "https"
    for name, value in ((KEY_COOKIE, key), (ACCESS_COOKIE, "rw" if writable else "ro")):
        response.set_cookie(name, value, path=COOKIE_PATH, httponly=True, samesite="strict", secure=secure)


def forget(response: Response) -> None:
    for name in (KEY_COOKIE, ACCESS_COOKIE):
        response.delete_cookie(name, path=COOKIE_PATH, httponly=True, samesite="strict")
