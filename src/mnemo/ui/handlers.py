"""What a page does when it cannot be drawn: no key, a cross-site post, an error of the API."""

from __future__ import annotations

from fastapi import FastAPI, Request
from starlette.responses import RedirectResponse, Response

from mnemo.ui.api import ApiError
from mnemo.ui.render import render
from mnemo.ui.session import CrossSiteRequest, Session, SignInRequired, forget


def signed_out(target: str) -> RedirectResponse:
    response = RedirectResponse(target, status_code=303)
    forget(response)
    return response


def install_handlers(app: FastAPI) -> None:
    async def on_sign_in_required(request: Request, exc: Exception) -> Response:
        return RedirectResponse("/ui/signin", status_code=303)

    async def on_cross_site(request: Request, exc: Exception) -> Response:
        detail = "Refused: this form was not sent from a page of this dashboard (its Origin is another site)."
        return render(request, "error.html", session=None, status=403, error=detail)

    async def on_api_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, ApiError)
        if exc.status == 401:
            return signed_out("/ui/signin?msg=expired")
        session = getattr(request.state, "ui_session", None)
        return render(
            request,
            "error.html",
            session=session if isinstance(session, Session) else None,
            status=exc.status,
            error=f"{exc.status}: {exc.detail}",
        )

    app.add_exception_handler(SignInRequired, on_sign_in_required)
    app.add_exception_handler(CrossSiteRequest, on_cross_site)
    app.add_exception_handler(ApiError, on_api_error)
