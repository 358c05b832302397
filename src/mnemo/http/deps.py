"""Request plumbing shared by the routes: the caller, its project, query integers, idempotency keys.

Nothing here reads a request: the caller was authenticated from the headers by ``mnemo.http.gate``
(which leaves it in the ASGI scope), each route declares its body model (``mnemo.domain.requests``) and
FastAPI parses it; the size cap is ``mnemo.http.body_limit``."""

from __future__ import annotations

import hashlib
import json
import uuid
from typing import Annotated, Any

from fastapi import Depends, Request

from mnemo.errors import BadRequest, Conflict, Unauthorized
from mnemo.http.access import MISSING_KEY, principal_in
from mnemo.services import Services
from mnemo.storage import Principal, ProjectData, ProjectTables


async def services(request: Request) -> Services:
    # async (like every dependency here): FastAPI runs a sync dependency in a worker thread, a hop per request
    found: Services = request.app.state.services
    return found


ServicesDep = Annotated[Services, Depends(services)]


async def principal(request: Request) -> Principal:
    """The caller, as the gate (:mod:`mnemo.http.gate`) authenticated it from the headers, before the body."""
    found = principal_in(request.scope)
    if found is None:
        raise Unauthorized(MISSING_KEY)
    return found


PrincipalDep = Annotated[Principal, Depends(principal)]


async def project_data(caller: PrincipalDep, svc: ServicesDep) -> ProjectData:
    return ProjectData(svc.db, caller.project_id)


DataDep = Annotated[ProjectData, Depends(project_data)]


def parse_uuid(value: str, what: str) -> uuid.UUID:
    try:
        return uuid.UUID(value)
    except ValueError:
        raise BadRequest(f"{what} should be a valid UUID; got {value!r}.") from None


def query_int(request: Request, name: str, default: int, *, low: int, high: int) -> int:
    raw = request.query_params.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise BadRequest(f"{name} must be an integer; got {raw!r}.") from None
    if not low <= value <= high:
        raise BadRequest(f"{name} must be between {low} and {high}; got {value}.")
    return value


_MAX_IDEMPOTENCY_KEY = 255


def idempotency_key(request: Request) -> str | None:
    """The request's ``Idempotency-Key`` header, validated."""
    key = request.headers.get("idempotency-key")
    if key is None:
        return None
    key = key.strip()
    if not key or len(key) > _MAX_IDEMPOTENCY_KEY:
        raise BadRequest(f"Idempotency-Key must be 1 to {_MAX_IDEMPOTENCY_KEY} characters.")
    return key


async def replay_or_claim(
    tables: ProjectTables, key: str | None, route: str, body: dict[str, Any]
) -> dict[str, Any] | None:
    """Inside the write's transaction: the first response to a request with this ``Idempotency-Key`` (the same
    request repeated: the caller returns it and writes nothing), or None to go on (no key, or a new one, now
    reserved until :func:`remember_response`). The same key with another request is a 409."""
    if key is None:
        return None
    digest = hashlib.sha256(f"{route}\0{json.dumps(body, sort_keys=True)}".encode()).hexdigest()
    existing = await tables.idempotency.claim(key, route, digest)
    if existing is None:
        return None
    stored_hash, response = existing
    if stored_hash != digest:
        raise Conflict("This Idempotency-Key was already used with a different request; use a new key.")
    return response


async def remember_response(tables: ProjectTables, key: str | None, response: dict[str, Any]) -> None:
    """Inside the same transaction: store the response a retry with this key will get."""
    if key is not None:
        await tables.idempotency.store_response(key, response)
