"""Who may call a route: every route of the API declares whether it reads or writes.

A route lists :data:`Reads` or :data:`Writes` in its ``dependencies``; a read-only key is refused (403) on every
route that writes, whatever its URL looks like. The declaration is checked once, when the app is built
(:func:`undeclared`): a route outside the public paths without one stops ``create_app``. The routes' class
(:class:`mnemo.http.routing.ApiRoute`) reads it to refuse a read-only key before the body is read; the
``Writes`` dependency refuses it again, so the rule holds for a route of another class too.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable, MutableMapping, Sequence
from typing import Any

from fastapi import Depends, Request
from fastapi.routing import APIRoute, iter_route_contexts
from starlette.routing import BaseRoute

from mnemo.errors import Forbidden
from mnemo.storage import Principal

#: Where the gate leaves the authenticated caller in the ASGI scope.
PRINCIPAL = "mnemo.principal"
READ_ONLY = "This API key is read-only: it may not call a route that writes."
MISSING_KEY = "Missing API key: send the header 'Authorization: Token <your key>'."


class Access(enum.Enum):
    READ = "read"
    WRITE = "write"


def principal_in(scope: MutableMapping[str, Any]) -> Principal | None:
    found = scope.get(PRINCIPAL)
    return found if isinstance(found, Principal) else None


async def _reads() -> None:
    """The route only reads: any key may call it."""


async def _writes(request: Request) -> None:
    """The route changes something: a read-only key is refused."""
    caller = principal_in(request.scope)
    if caller is not None and caller.read_only:
        raise Forbidden(READ_ONLY)


Reads = Depends(_reads)
Writes = Depends(_writes)
_DECLARATIONS = {_reads: Access.READ, _writes: Access.WRITE}


def access_of(route: BaseRoute) -> Access | None:
    """What ``route`` declared, or None (a plain Starlette route or mount cannot declare; two declarations are
    none)."""
    if not isinstance(route, APIRoute):
        return None
    found = {_DECLARATIONS[d.dependency] for d in route.dependencies if d.dependency in _DECLARATIONS}
    return found.pop() if len(found) == 1 else None


def is_public(path: str, public: Iterable[str]) -> bool:
    """``path`` is one of the ``public`` paths or below one (``/ui`` covers ``/ui/`` and ``/ui/x``, not ``/uix``)."""
    return any(path == prefix or path.startswith(prefix.rstrip("/") + "/") for prefix in public)


def undeclared(routes: Sequence[BaseRoute], public: Iterable[str]) -> list[str]:
    """``METHODS path`` of every route (included routers' routes too) outside the public paths that does not
    declare exactly one access."""
    public = tuple(public)
    missing = []
    for context in iter_route_contexts(routes):
        path = context.path or ""
        if is_public(path, public) or access_of(context.original_route) is not None:
            continue
        methods = ",".join(sorted(context.methods or ())) or "ANY"
        missing.append(f"{methods} {path}")
    return missing
