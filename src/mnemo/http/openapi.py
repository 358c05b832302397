"""OpenAPI descriptions for routes that read their JSON body themselves (to control error shapes)."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi
from pydantic import BaseModel

_REF = "#/components/schemas/{model}"


def body_schema(model: type[BaseModel]) -> dict[str, Any]:
    """``openapi_extra`` declaring ``model`` as the route's JSON request body."""
    return {
        "requestBody": {
            "required": True,
            "content": {"application/json": {"schema": model.model_json_schema(ref_template=_REF)}},
        }
    }


def install_openapi(app: FastAPI) -> None:
    """Generate the schema once, moving nested request-body models into ``components.schemas``."""

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
                content = operation.get("requestBody", {}).get("content", {}).get("application/json", {})
                components.update(content.get("schema", {}).pop("$defs", {}))
                _document_errors(operation, public=route == "/healthz")
        app.openapi_schema = schema
        return schema

    app.openapi = openapi  # type: ignore[method-assign]


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
