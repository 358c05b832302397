"""mnemo's own HTTP API, called in-process with the signed-in key.

The dashboard never touches storage: each page is one or a few calls of the public API through
``httpx.ASGITransport`` on the same FastAPI application, so authentication, read-only keys, validation,
rate limits and error messages are exactly the API's."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import httpx
from starlette.types import ASGIApp

#: The host name in-process calls carry (nothing resolves it: the transport is the application itself).
_BASE_URL = "http://mnemo.internal"
_TIMEOUT = 120.0


class ApiError(Exception):
    """The API answered with an error: its status and its ``detail``, shown to the person as they are."""

    def __init__(self, status: int, detail: str) -> None:
        super().__init__(f"{status}: {detail}")
        self.status = status
        self.detail = detail


class Api:
    """One signed-in key's view of the API."""

    def __init__(self, app: ASGIApp, key: str) -> None:
        self._app = app
        self._key = key

    async def call(
        self,
        method: str,
        path: str,
        *,
        body: Any = None,
        params: Mapping[str, str] | None = None,
    ) -> Any:
        """The decoded JSON answer of ``method path``; an error status raises :class:`ApiError`."""
        transport = httpx.ASGITransport(app=self._app)
        async with httpx.AsyncClient(
            transport=transport,
            base_url=_BASE_URL,
            headers={"Authorization": f"Token {self._key}"},
            timeout=_TIMEOUT,
        ) as client:
            response = await client.request(method, path, json=body, params=params)
        if response.status_code >= 400:
            raise ApiError(response.status_code, _detail(response))
        return response.json()

    async def get(self, path: str, params: Mapping[str, str] | None = None) -> Any:
        return await self.call("GET", path, params=params)

    async def post(self, path: str, body: Any = None) -> Any:
        return await self.call("POST", path, body=body)


def _detail(response: httpx.Response) -> str:
    try:
        body = response.json()
    except ValueError:
        return response.text[:500] or response.reason_phrase
    if isinstance(body, dict) and isinstance(body.get("detail"), str):
        return str(body["detail"])
    return str(body)[:500]
