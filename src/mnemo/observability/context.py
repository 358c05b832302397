"""What a log line is about: the request (its id, route, project) or the job (its event, project) being handled.

One :class:`WorkContext` per HTTP request or background job, held in a :mod:`contextvars` variable, so every log
line written while handling it (in its task, or in a thread it started with a copied context) carries its ids.
The object is mutable on purpose: what is learnt during the request (the project, once the key is checked;
the route, once the router matched) is written into it from wherever that happens, and code that copied the
context (a thread pool, a task) still sees the same object.
"""

from __future__ import annotations

import contextvars
import re
import uuid
from collections.abc import Iterator, MutableMapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

#: An ``X-Request-ID`` is kept to at most this many characters.
MAX_REQUEST_ID = 128
#: What a request id may hold: what trace ids and UUIDs are made of. Anything else is dropped.
_UNSAFE = re.compile(r"[^A-Za-z0-9._:@+=/-]")

#: The route label of a request no route matched (its raw path is never used: it could hold anything).
UNMATCHED = "unmatched"


@dataclass(slots=True)
class WorkContext:
    """The request or job being handled. ``scope`` is the ASGI scope, read lazily for the matched route."""

    request_id: str | None = None
    method: str | None = None
    project: str | None = None
    event_id: str | None = None
    scope: MutableMapping[str, Any] | None = field(default=None, repr=False)

    @property
    def route(self) -> str | None:
        """The matched route's template (``/v1/memories/{memory_id}/``), never the raw path."""
        if self.scope is None:
            return None
        return route_template(self.scope)


_current: contextvars.ContextVar[WorkContext | None] = contextvars.ContextVar("mnemo_work", default=None)


def current() -> WorkContext | None:
    return _current.get()


@contextmanager
def bound(work: WorkContext) -> Iterator[WorkContext]:
    """``work`` is the current context for the block (restored after, also when blocks nest)."""
    token = _current.set(work)
    try:
        yield work
    finally:
        _current.reset(token)


def annotate(*, project: str | None = None) -> None:
    """Record what was learnt about the current request or job (no-op outside one)."""
    work = _current.get()
    if work is not None and project is not None:
        work.project = project


def sanitize_request_id(value: str | None) -> str | None:
    """A client's ``X-Request-ID`` made safe to echo and log: characters outside ``[A-Za-z0-9._:@+=/-]`` dropped,
    at most :data:`MAX_REQUEST_ID` kept; None when nothing usable is left."""
    if not value:
        return None
    cleaned = _UNSAFE.sub("", value[: MAX_REQUEST_ID * 4])[:MAX_REQUEST_ID]
    return cleaned or None


def new_request_id() -> str:
    return uuid.uuid4().hex


#: Where the HTTP layer leaves, in each request's scope, the templates of routes known by their endpoint
#: (``{id(endpoint): path}``): FastAPI records the matched route in the scope for its own routes only, a plain
#: Starlette route or mount (``/mcp``, ``/metrics``, static files) leaves just its endpoint.
ENDPOINT_PATHS = "mnemo.endpoint_paths"


def route_template(scope: MutableMapping[str, Any]) -> str:
    """The template of the route the router matched (``/v1/memories/{memory_id}/``; a mount's prefix), else
    :data:`UNMATCHED`."""
    path = getattr(scope.get("route"), "path", None)
    if isinstance(path, str) and path:
        return path
    endpoint = scope.get("endpoint")
    if endpoint is not None:
        known = scope.get(ENDPOINT_PATHS)
        if isinstance(known, dict):
            found = known.get(id(endpoint))
            if isinstance(found, str):
                return found
    return UNMATCHED
