"""Every error leaves as JSON with a string ``detail`` and the status the official client maps."""

from __future__ import annotations

import logging

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import ValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException

from mnemo.domain.requests import describe_validation_error
from mnemo.errors import BadRequest, MnemoError
from mnemo.http.ratelimit import RateLimited
from mnemo.providers.embedding.base import EmbedderUnavailable

logger = logging.getLogger(__name__)


def error_response(status: int, detail: str, *, add_shape: bool = False) -> JSONResponse:
    body: dict[str, object] = {"detail": detail, "error": detail}
    if add_shape and status == 400:
        body["error"] = "400 Bad Request"
        body["details"] = {"message": detail}
    return JSONResponse(body, status_code=status)


def install_error_handlers(app: FastAPI) -> None:
    async def on_mnemo_error(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, MnemoError)
        add_shape = isinstance(exc, BadRequest) and request.url.path.endswith("/memories/add/")
        response = error_response(exc.status_code, exc.detail, add_shape=add_shape)
        if isinstance(exc, RateLimited):
            response.headers["Retry-After"] = str(exc.retry_after)
        return response

    async def on_validation(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, RequestValidationError | ValidationError)
        if isinstance(exc, ValidationError):
            return error_response(400, describe_validation_error(exc))
        problems = "; ".join(".".join(str(p) for p in err["loc"]) + ": " + str(err["msg"]) for err in exc.errors()[:5])
        return error_response(400, f"Invalid request: {problems}")

    async def on_http(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, StarletteHTTPException)
        detail = exc.detail if isinstance(exc.detail, str) else str(exc.detail)
        if exc.status_code == 404 and detail == "Not Found":
            detail = f"No route {request.method} {request.url.path}; paths end with '/' as the Mem0 API's do."
        if exc.status_code == 405:
            detail = f"Method {request.method} is not allowed on {request.url.path}."
        return error_response(exc.status_code, detail)

    async def on_embedder(request: Request, exc: Exception) -> JSONResponse:
        return error_response(503, f"The embedding model is unavailable: {exc}")

    async def on_unexpected(request: Request, exc: Exception) -> JSONResponse:
        logger.exception("unhandled error on %s %s", request.method, request.url.path)
        return error_response(500, "Internal server error; the service log has the details.")

    app.add_exception_handler(MnemoError, on_mnemo_error)
    app.add_exception_handler(RequestValidationError, on_validation)
    app.add_exception_handler(ValidationError, on_validation)
    app.add_exception_handler(StarletteHTTPException, on_http)
    app.add_exception_handler(EmbedderUnavailable, on_embedder)
    app.add_exception_handler(Exception, on_unexpected)
