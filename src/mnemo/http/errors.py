"""Every error leaves as JSON with a string ``detail`` and the status the official client maps.

Request bodies are decoded and validated by FastAPI; what it reports is answered here as a 400 (never
FastAPI's 422): a body that is not JSON, not a JSON object, or empty where one is required, and each
field's problem in one sentence. On the add route a 400 also carries the hosted API's shape
(``error: "400 Bad Request"``, ``details.message``).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, MutableMapping, Sequence
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import ValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException

from mnemo.domain.requests import describe_errors, describe_validation_error
from mnemo.errors import MnemoError
from mnemo.http.ratelimit import RateLimited
from mnemo.observability import current
from mnemo.observability.context import UNMATCHED, route_template
from mnemo.providers.embedding.base import EmbedderUnavailable

logger = logging.getLogger(__name__)


def error_response(status: int, detail: str, *, add_shape: bool = False) -> JSONResponse:
    body: dict[str, object] = {"detail": detail, "error": detail}
    if add_shape and status == 400:
        body["error"] = "400 Bad Request"
        body["details"] = {"message": detail}
    return JSONResponse(body, status_code=status)


INTERNAL_ERROR = "Internal server error; the service log has the details."


def log_unexpected(scope: MutableMapping[str, Any]) -> None:
    """Log the exception being handled with the request it broke: its method, its route (the template, which
    names no entity; the raw path when no route matched) and its request id (``X-Request-ID``)."""
    work = current()
    route = route_template(scope)
    logger.exception(
        "unhandled error on %s %s (request id %s)",
        scope.get("method"),
        scope.get("path") if route == UNMATCHED else route,
        work.request_id if work is not None else None,
    )


def _add_shape(request: Request) -> bool:
    return request.url.path.endswith("/memories/add/")


#: What pydantic says when the whole body is not an object (a list, a string, null, or undecoded bytes).
_NOT_AN_OBJECT = frozenset({"model_type", "model_attributes_type", "dict_type"})


def describe_request_errors(errors: Sequence[Mapping[str, Any]]) -> str:
    """FastAPI's validation errors in one ``detail``; problems with the body as a whole said plainly."""
    first = errors[0] if errors else None
    if first is not None and first["loc"][:1] == ("body",):
        if first["type"] == "json_invalid":
            reason = first.get("ctx", {}).get("error", "")
            return f"The request body is not valid JSON: {reason} (at character {first['loc'][-1]})."
        if len(first["loc"]) == 1 and first["type"] == "missing":
            return "The request body is empty: send a JSON object."
        if len(first["loc"]) == 1 and first["type"] in _NOT_AN_OBJECT:
            if isinstance(first.get("input"), bytes):
                return "The request body must be a JSON object, sent with Content-Type: application/json."
            return "The request body must be a JSON object."
    return describe_errors(errors)


def install_error_handlers(app: FastAPI) -> None:
    async def on_mnemo_error(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, MnemoError)
        response = error_response(exc.status_code, exc.detail, add_shape=_add_shape(request))
        if isinstance(exc, RateLimited):
            response.headers["Retry-After"] = str(exc.retry_after)
        return response

    async def on_validation(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, RequestValidationError | ValidationError)
        if isinstance(exc, ValidationError):
            detail = describe_validation_error(exc)
        else:
            detail = describe_request_errors(exc.errors())
        return error_response(400, detail, add_shape=_add_shape(request))

    async def on_http(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, StarletteHTTPException)
        detail = exc.detail if isinstance(exc.detail, str) else str(exc.detail)
        if exc.status_code == 400 and isinstance(exc.__cause__, ValueError | RecursionError):
            # FastAPI could not decode the body (bytes that are not UTF-8, nesting deeper than json can go).
            detail = f"The request body is not valid JSON: {exc.__cause__}."
        if exc.status_code == 404 and detail == "Not Found":
            detail = f"No route {request.method} {request.url.path}; paths end with '/' as the Mem0 API's do."
        if exc.status_code == 405:
            detail = f"Method {request.method} is not allowed on {request.url.path}."
        return error_response(exc.status_code, detail, add_shape=_add_shape(request))

    async def on_embedder(request: Request, exc: Exception) -> JSONResponse:
        return error_response(503, f"The embedding model is unavailable: {exc}")

    async def on_unexpected(request: Request, exc: Exception) -> JSONResponse:
        log_unexpected(request.scope)
        return error_response(500, INTERNAL_ERROR)

    app.add_exception_handler(MnemoError, on_mnemo_error)
    app.add_exception_handler(RequestValidationError, on_validation)
    app.add_exception_handler(ValidationError, on_validation)
    app.add_exception_handler(StarletteHTTPException, on_http)
    app.add_exception_handler(EmbedderUnavailable, on_embedder)
    app.add_exception_handler(Exception, on_unexpected)
