"""The class of every API route: what must be settled before FastAPI reads the body.

FastAPI reads and decodes a route's body before its dependencies run. :class:`ApiRoute` wraps that handler so
that, first, a read-only key is refused (403) on a route declaring :data:`mnemo.http.access.Writes`, without the
body being read, and then the body is decoded by :class:`mnemo.http.json_body.StrictJsonRequest` (finite
numbers, bounded integers).
"""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from typing import Any

from fastapi import Request, Response
from fastapi.routing import APIRoute

from mnemo.errors import Forbidden
from mnemo.http.access import READ_ONLY, Access, access_of, principal_in
from mnemo.http.json_body import StrictJsonRequest


class ApiRoute(APIRoute):
    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()
        reads = access_of(self) is Access.READ

        async def guarded(request: Request) -> Response:
            caller = principal_in(request.scope)
            if not reads and caller is not None and caller.read_only:
                raise Forbidden(READ_ONLY)
            return await handler(StrictJsonRequest(request.scope, request.receive))

        return guarded
