"""Where ``mnemo import`` reads memories: a Mem0 Platform-compatible API, or a JSON file.

Both yield pages of raw memory objects as the Platform returns them (``/v3/memories/`` get-all items, or an
export's); :mod:`mnemo.pipeline.importer` reads and writes them.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any, Protocol

import httpx

#: Memories asked for per get-all page (the hosted Platform serves up to 100).
PAGE_SIZE = 100
#: Attempts per request when the source answers 429 or 5xx, or the connection fails.
_ATTEMPTS = 4


class SourceError(Exception):
    """The source could not be read; the message says why and what to do."""


class Source(Protocol):
    """Pages of raw memories, and how many to expect (``None`` if the source does not say)."""

    async def total(self) -> int | None: ...

    def pages(self) -> AsyncIterator[list[Any]]: ...

    async def aclose(self) -> None: ...


def memories_in(document: Any, where: str) -> list[Any]:
    """The memories of a JSON document shaped as the Platform's get-all or export answers: ``{"results":
    [...]}``, ``{"memories": [...]}`` or a bare list."""
    if isinstance(document, list):
        return document
    if isinstance(document, dict):
        for key in ("results", "memories"):
            if isinstance(document.get(key), list):
                return list(document[key])
    raise SourceError(
        f'{where} holds no memories: expected a list, {{"results": [...]}} or {{"memories": [...]}}'
        " (what the Platform's get-all or export returns)"
    )


class FileSource:
    """A JSON file, read whole."""

    def __init__(self, path: Path) -> None:
        try:
            document = json.loads(path.read_text(encoding="utf-8"))
        except OSError as exc:
            raise SourceError(f"cannot read {path}: {exc.strerror or exc}") from None
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise SourceError(f"{path} is not JSON ({exc}): give a file of the Platform's get-all or export") from None
        self.items = memories_in(document, str(path))

    async def total(self) -> int | None:
        return len(self.items)

    async def pages(self) -> AsyncIterator[list[Any]]:
        for start in range(0, len(self.items), PAGE_SIZE):
            yield self.items[start : start + PAGE_SIZE]

    async def aclose(self) -> None:
        return None


class ApiSource:
    """A running Mem0 Platform-compatible API: its entities (``GET /v1/entities/``), then each entity's
    memories page by page (``POST /v3/memories/`` with ``filters`` and ``page``/``page_size``), as the official
    client asks for them (with the org and project ids ``/v1/ping/`` names, when it names them)."""

    def __init__(self, url: str, api_key: str) -> None:
        self.url = url.rstrip("/")
        self._http = httpx.AsyncClient(
            base_url=self.url,
            headers={"Authorization": f"Token {api_key}", "User-Agent": "mnemo-import"},
            timeout=60,
        )
        self._scope: dict[str, str] = {}
        self._entities: list[tuple[str, str, int | None]] | None = None

    async def aclose(self) -> None:
        await self._http.aclose()

    async def _request(self, method: str, path: str, **options: Any) -> Any:
        for attempt in range(_ATTEMPTS):
            last = attempt == _ATTEMPTS - 1
            try:
                response = await self._http.request(method, path, **options)
            except httpx.HTTPError as exc:
                if last:
                    raise SourceError(f"cannot reach {self.url} ({exc or type(exc).__name__}): check the URL") from None
                await asyncio.sleep(2**attempt)
                continue
            if (response.status_code == 429 or response.status_code >= 500) and not last:
                await asyncio.sleep(_retry_after(response, 2**attempt))
                continue
            if response.status_code in (401, 403):
                raise SourceError(f"{self.url} refused the API key ({response.status_code}): check --api-key")
            if response.status_code >= 400:
                raise SourceError(
                    f"{method} {path} on {self.url} answered {response.status_code}: {response.text[:200]}"
                )
            try:
                return response.json()
            except ValueError:
                raise SourceError(f"{method} {path} on {self.url} did not answer JSON: is it a Mem0 API?") from None
        raise AssertionError("unreachable")

    async def _load_entities(self) -> list[tuple[str, str, int | None]]:
        if self._entities is None:
            ping = await self._request("GET", "/v1/ping/")
            if isinstance(ping, dict) and ping.get("org_id") and ping.get("project_id"):
                self._scope = {"org_id": str(ping["org_id"]), "project_id": str(ping["project_id"])}
            entities: list[tuple[str, str, int | None]] = []
            body = await self._request("GET", "/v1/entities/", params=self._scope)
            while True:
                for entity in memories_in(body, f"{self.url}/v1/entities/"):
                    if isinstance(entity, dict) and entity.get("type") and entity.get("name"):
                        count = entity.get("total_memories")
                        total = count if isinstance(count, int) else None
                        entities.append((str(entity["type"]), str(entity["name"]), total))
                following = body.get("next") if isinstance(body, dict) else None
                if not following:
                    break
                body = await self._request("GET", str(following))
            self._entities = entities
        return self._entities

    async def total(self) -> int | None:
        counts = [count for _, _, count in await self._load_entities()]
        return sum(c for c in counts if c is not None) if all(c is not None for c in counts) else None

    async def pages(self) -> AsyncIterator[list[Any]]:
        for kind, name, _ in await self._load_entities():
            page, fetched, first = 1, 0, None
            while True:
                body = await self._request(
                    "POST",
                    "/v3/memories/",
                    params={"page": page, "page_size": PAGE_SIZE},
                    json={"filters": {f"{kind}_id": name}, "show_expired": True, **self._scope},
                )
                results = memories_in(body, f"{self.url}/v3/memories/")
                head = results[0].get("id") if results and isinstance(results[0], dict) else None
                if not results or (head is not None and head == first):
                    break  # the end, or a server that ignores `page`
                yield results
                fetched, first = fetched + len(results), head
                if _last_page(body, fetched):
                    break
                page += 1


def _last_page(body: Any, fetched: int) -> bool:
    """Whether a get-all answer says no page follows (by ``next``, else by ``count``; else ask on)."""
    if not isinstance(body, dict):
        return False
    if "next" in body:
        return not body["next"]
    count = body.get("count")
    return isinstance(count, int) and fetched >= count


def _retry_after(response: httpx.Response, default: float) -> float:
    try:
        return min(float(response.headers.get("Retry-After", default)), 60.0)
    except ValueError:
        return default
