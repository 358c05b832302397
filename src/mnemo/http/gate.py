"""Authentication and the rate limit, decided on the request's headers alone.

FastAPI reads and parses a route's body before any dependency runs, so a key checked by a dependency comes too
late: an unauthenticated client could make the server read a body (and get a 400 for bad JSON instead of a
401). :class:`Gate` is pure ASGI middleware placed before the body-size cap: it looks at the path and the
``Authorization`` header, and answers 401 or 429 (JSON ``detail``; ``Retry-After`` on a 429) without ever
calling ``receive()``. A refused request that announced a body is answered with ``Connection: close``, so the
server does not go on reading (and discarding) what the client keeps sending.

What passes gets its :class:`~mnemo.storage.Principal` in the ASGI scope (``mnemo.http.access.PRINCIPAL``),
where the routes' dependency reads it, and where the routes' class reads it to refuse a read-only key on a
route that writes, still before the body (:mod:`mnemo.http.routing`). Paths under ``public`` pass untouched:
health, the schema, and ``/mcp`` and ``/ui``, which authenticate their callers themselves through in-process
calls that come back through this gate.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from mnemo.errors import MnemoError, Unauthorized
from mnemo.http.access import MISSING_KEY, PRINCIPAL, is_public
from mnemo.http.errors import error_response
from mnemo.http.ratelimit import RateLimited, RateLimiter
from mnemo.observability import annotate
from mnemo.storage import Principal

_SCHEMES = ("token", "bearer")


class Authenticator(Protocol):
    """What the gate asks about a key (:class:`mnemo.storage.AccountStore`)."""

    async def authenticate(self, key: str) -> Principal | None: ...


class Gate:
    def __init__(
        self,
        app: ASGIApp,
        *,
        accounts: Authenticator,
        limiter: RateLimiter,
        public: Sequence[str],
    ) -> None:
        self.app = app
        self.accounts = accounts
        self.limiter = limiter
        self.public = tuple(public)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or is_public(scope["path"], self.public):
            await self.app(scope, receive, send)
            return
        try:
            caller = await self._admit(scope)
        except MnemoError as refusal:
            await _refuse(scope, send, refusal)
            return
        scope[PRINCIPAL] = caller
        await self.app(scope, receive, send)

    async def _admit(self, scope: Scope) -> Principal:
        key = _api_key(_header(scope, b"authorization"))
        caller = await self.accounts.authenticate(key)
        if caller is None:
            raise Unauthorized("Invalid API key: it is unknown or has been revoked.")
        annotate(project=caller.project_id)  # the request's log lines (and its access line) name its project
        self.limiter.check(caller.key_id)
        return caller


def _api_key(header: str | None) -> str:
    if not header:
        raise Unauthorized(MISSING_KEY)
    scheme, _, key = header.strip().partition(" ")
    if scheme.lower() not in _SCHEMES or not key.strip():
        raise Unauthorized("Malformed Authorization header: expected 'Token <your key>'.")
    return key.strip()


def _header(scope: Scope, name: bytes) -> str | None:
    for key, value in scope["headers"]:
        if key == name:
            return bytes(value).decode("latin-1")
    return None


def has_pending_body(scope: Scope) -> bool:
    """The request announced a body (chunked, or a Content-Length above 0) that nobody has read."""
    for key, value in scope["headers"]:
        if key == b"transfer-encoding" or (key == b"content-length" and value.strip() not in (b"", b"0")):
            return True
    return False


async def _no_body() -> Message:
    raise RuntimeError("the gate answers on the headers alone: it never reads the request body")


async def _refuse(scope: Scope, send: Send, refusal: MnemoError) -> None:
    response = error_response(refusal.status_code, refusal.detail)
    if isinstance(refusal, RateLimited):
        response.headers["Retry-After"] = str(refusal.retry_after)
    if isinstance(refusal, Unauthorized):
        response.headers["WWW-Authenticate"] = "Token"
    if has_pending_body(scope):
        response.headers["Connection"] = "close"
    await response(scope, _no_body, send)
