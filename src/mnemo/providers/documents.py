"""Reading the bytes of a document a message links to, within bounds.

A ``data:`` URL is decoded (always allowed: its bytes came with the request). An ``http(s)://`` URL is fetched
only when its host is on the deployment's allow list (``document_allowed_hosts``): a server that fetches any
URL it is handed reaches whatever its network reaches (an SSRF hole), so remote fetching is off by default.
Redirects are not followed (nor proxies from the environment), the body is read up to ``max_bytes`` and the
whole fetch is bounded in time.
What cannot be read raises :class:`DocumentRefused` with the reason the add's event records.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
from collections.abc import Iterable
from dataclasses import dataclass
from urllib.parse import unquote_to_bytes, urlsplit

import httpx


class DocumentRefused(Exception):
    """The document was not read; the message says why (recorded as the part's ``reason``)."""


@dataclass(frozen=True, slots=True)
class Fetched:
    data: bytes
    #: the media type the server or the data: URL declared (lower case, no parameters), or ""
    media_type: str


class DocumentFetcher:
    def __init__(self, allowed_hosts: Iterable[str], *, max_bytes: int, timeout_seconds: float) -> None:
        self.allowed_hosts = frozenset(host.strip().lower() for host in allowed_hosts if host.strip())
        self.max_bytes = max_bytes
        self.timeout_seconds = timeout_seconds

    async def fetch(self, url: str) -> Fetched:
        if url.startswith("data:"):
            return self._decode(url)
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise DocumentRefused(f"unsupported URL scheme {parts.scheme!r}: only http(s) and data: URLs are read")
        host = parts.hostname.lower()
        if host not in self.allowed_hosts and f"{host}:{parts.port}" not in self.allowed_hosts:
            raise DocumentRefused(
                f"remote fetching from {host!r} is not allowed on this server (MNEMO_DOCUMENT_ALLOWED_HOSTS)"
            )
        try:
            return await asyncio.wait_for(self._get(url), timeout=self.timeout_seconds)
        except TimeoutError:
            raise DocumentRefused(f"fetching took longer than {self.timeout_seconds:g} s") from None
        except httpx.HTTPError as exc:
            raise DocumentRefused(f"fetching failed: {type(exc).__name__}: {exc}"[:300]) from None

    async def _get(self, url: str) -> Fetched:
        async with (
            httpx.AsyncClient(follow_redirects=False, timeout=self.timeout_seconds, trust_env=False) as client,
            client.stream("GET", url) as response,
        ):
            if response.status_code != 200:
                raise DocumentRefused(f"the server answered {response.status_code} (redirects are not followed)")
            declared = response.headers.get("content-length", "")
            if declared.isdigit() and int(declared) > self.max_bytes:
                raise DocumentRefused(self._too_large(int(declared)))
            body = bytearray()
            async for chunk in response.aiter_bytes():
                body += chunk
                if len(body) > self.max_bytes:
                    raise DocumentRefused(self._too_large(None))
            return Fetched(bytes(body), _media_type(response.headers.get("content-type", "")))

    def _decode(self, url: str) -> Fetched:
        header, comma, payload = url[5:].partition(",")
        if not comma:
            raise DocumentRefused("malformed data: URL (no comma before its data)")
        is_base64 = header.endswith(";base64")
        # A base64 text is 4/3 of its bytes: refuse before decoding what is certainly too large.
        if len(payload) * (3 / 4 if is_base64 else 1 / 3) > self.max_bytes:
            raise DocumentRefused(self._too_large(None))
        try:
            data = base64.b64decode(payload, validate=True) if is_base64 else unquote_to_bytes(payload)
        except (binascii.Error, ValueError):
            raise DocumentRefused("malformed data: URL (its base64 does not decode)") from None
        if len(data) > self.max_bytes:
            raise DocumentRefused(self._too_large(len(data)))
        return Fetched(data, _media_type(header.removesuffix(";base64")))

    def _too_large(self, size: int | None) -> str:
        found = f" ({size} bytes)" if size is not None else ""
        return f"the document is larger than {self.max_bytes} bytes{found} (MNEMO_DOCUMENT_MAX_BYTES)"


def _media_type(value: str) -> str:
    return value.split(";", 1)[0].strip().lower()
