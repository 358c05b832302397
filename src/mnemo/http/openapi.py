"""What ``/openapi.json`` says: request bodies (FastAPI, from the routes' body models), each route's
success response (:func:`responds`, with the models of ``mnemo.http.wire``) and every error mnemo answers."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi


def responds(model: Any, *, status: int = 200, others: dict[int, Any] | None = None) -> dict[str, Any]:
    """Route keywords documenting ``model`` as the JSON of the route's ``status`` response (and the models of
    ``others``, by status, where an error has a body of its own).

    Documentation only: the route still returns a plain dict, and ``response_model=Any`` has FastAPI
    serialise it as it is (in pydantic-core, without validating it against ``model``: that would cost every
    request). ``tests/api/test_wire_models.py`` checks real responses against the models instead.
    """
    responses = {code: {"model": other} for code, other in (others or {}).items()}
    return {"status_code": status, "response_model": Any, "responses": {status: {"model": model}, **responses}}


def install_openapi(app: FastAPI) -> None:
    """Generate the schema once, with the error responses every route can give."""

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is not None:
            return app.openapi_schema
        schema = get_openapi(title=app.title, version=app.version, description=app.description, routes=app.routes)
        components = schema.setdefault("components", {}).setdefault("schemas", {})
        components["Error"] = _ERROR_SCHEMA
        for components_name in ("HTTPValidationError", "ValidationError"):
            components.pop(components_name, None)
        for route, path in schema.get("paths", {}).items():
            for operation in path.values():
                _document_errors(operation, public=route in _PUBLIC)
        app.openapi_schema = schema
        return schema

    app.openapi = openapi  # type: ignore[method-assign]


#: Routes that need no API key: they answer only 200 or 503.
_PUBLIC = frozenset({"/healthz", "/readyz"})

_ERROR_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["detail"],
    "properties": {"detail": {"type": "string"}, "error": {"type": "string"}, "details": {"type": "object"}},
}

_ERRORS = {
    "400": "The request is invalid; detail says how.",
    "401": "Missing, malformed or revoked API key.",
    "403": "The key may not do this (read-only key).",
    "404": "Unknown id, or an id of another project.",
    "405": "Method not allowed on this path.",
    "409": "Conflict (an Idempotency-Key reused with a different request).",
    "413": "Request body or message too large.",
    "429": "Rate limit exceeded; see Retry-After.",
    "503": "A dependency (embedder, LLM) is unavailable.",
}


def _document_errors(operation: dict[str, Any], *, public: bool) -> None:
    """Every error mnemo can answer, with its JSON shape; FastAPI's 422 never happens here (we answer 400)."""
    responses = operation.setdefault("responses", {})
    responses.pop("422", None)
    for status, description in _ERRORS.items():
        if public and status != "503":
            continue
        responses.setdefault(
            status,
            {
                "description": description,
                "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}},
            },
        )
