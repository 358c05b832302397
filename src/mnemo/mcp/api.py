"""mnemo's own HTTP API as the MCP tools call it: one caller's key, JSON in and out, errors as :class:`ApiError`.

The tools never reach past the API: over stdio the client speaks to a running ``mnemo serve`` over the
network; behind ``/mcp`` it speaks to the same FastAPI app in-process (``httpx.ASGITransport``). Either way
authentication, project scoping, read-only keys, validation and errors are exactly the API's.
"""

from __future__ import annotations

import hashlib
import logging
import time
from collections import OrderedDict
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any

import httpx

#: What a tool waits for one API call (a search embeds its query; an add may wait on the database).
TIMEOUT = httpx.Timeout(120.0, connect=10.0)


#: The API's base URL while a tool calls it. httpx logs every request at INFO, which would put a line per tool
#: call (ids in its query string) in logs where the API's own requests appear nowhere (no access log).
_CALLING: ContextVar[str | None] = ContextVar("mnemo_mcp_calling", default=None)


class _QuietToolCalls(logging.Filter):
    """Drops httpx's line for a tool's own request (not those the API makes meanwhile, e.g. to an LLM)."""

    def filter(self, record: logging.LogRecord) -> bool:
        base = _CALLING.get()
        args = record.args
        if base is None or not isinstance(args, tuple) or len(args) < 2:
            return True
        return not str(args[1]).startswith(base + "/")


_quiet = _QuietToolCalls()


class ApiError(Exception):
    """The API refused or failed a call: its status (None when it could not be reached) and its ``detail``."""

    def __init__(self, status: int | None, detail: str, body: Any = None, headers: dict[str, str] | None = None):
        super().__init__(detail)
        self.status = status
        self.detail = detail
        self.body = body
        self.headers = headers or {}

    def as_dict(self) -> dict[str, Any]:
        shown: dict[str, Any] = {"error": True, "status": self.status, "detail": self.detail}
        if isinstance(self.body, dict):
            shown.update({k: v for k, v in self.body.items() if k not in shown})
        return shown


@dataclass(frozen=True)
class MnemoApi:
    """One caller's view of the API: the client, where the API is, and the caller's ``Authorization`` header."""

    client: httpx.AsyncClient
    base_url: str
    authorization: str | None

    async def call(self, method: str, path: str, *, json: Any = None, params: dict[str, str] | None = None) -> Any:
        """The decoded JSON body of a 2xx answer; anything else raises :class:`ApiError` with the API's detail."""
        headers = {"Authorization": self.authorization} if self.authorization else {}
        if _quiet not in logging.getLogger("httpx").filters:
            logging.getLogger("httpx").addFilter(_quiet)
        token = _CALLING.set(self.base_url)
        try:
            response = await self.client.request(
                method, self.base_url + path, json=json, params=params, headers=headers, timeout=TIMEOUT
            )
        except httpx.HTTPError as exc:
            raise ApiError(None, f"Cannot reach mnemo at {self.base_url}: {exc or type(exc).__name__}") from None
        finally:
            _CALLING.reset(token)
        try:
            body: Any = response.json()
        except ValueError:
            body = response.text
        if response.is_success:
            return body
        detail = body.get("detail") if isinstance(body, dict) else None
        if not isinstance(detail, str):
            detail = str(detail or body or response.reason_phrase)
        kept = {
            name: response.headers[name] for name in ("retry-after", "www-authenticate") if name in response.headers
        }
        raise ApiError(response.status_code, detail, body, kept)

    async def read_only(self) -> bool:
        """Whether the key may only read, as ``GET /v1/ping/`` says. Also checks it: a missing, unknown or revoked
        key (401) or a rate-limited one (429) raises :class:`ApiError`, as any call would."""
        body = await self.call("GET", "/v1/ping/")
        return bool(body.get("read_only")) if isinstance(body, dict) else False


class AccessCache:
    """Which keys are read-only, remembered for a short while (per ``Authorization`` header, hashed), so the
    ``/mcp`` endpoint checks a key once per ``ttl`` rather than on every message of a session. Only the
    listing of tools relies on it: every tool call is the API's own request, authenticated again."""

    def __init__(self, ttl: float = 30.0, size: int = 1024) -> None:
        self._ttl = ttl
        self._size = size
        self._entries: OrderedDict[str, tuple[float, bool]] = OrderedDict()

    async def read_only(self, api: MnemoApi) -> bool:
        if not api.authorization:
            return await api.read_only()  # raises the API's 401
        digest = hashlib.sha256(api.authorization.encode("utf-8", "replace")).hexdigest()
        now = time.monotonic()
        hit = self._entries.get(digest)
        if hit is not None and now - hit[0] < self._ttl:
            return hit[1]
        value = await api.read_only()
        self._entries[digest] = (now, value)
        self._entries.move_to_end(digest)
        while len(self._entries) > self._size:
            self._entries.popitem(last=False)
        return value
