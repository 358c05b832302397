"""Pages from Jinja2 templates (autoescaped), with headers that keep every request on this origin."""

from __future__ import annotations

from datetime import date, datetime
from pathlib import Path
from typing import Any

import jinja2
from fastapi import Request
from fastapi.responses import HTMLResponse

from mnemo import __version__
from mnemo.ui.forms import ENTITY_KINDS, pretty
from mnemo.ui.session import Session

HERE = Path(__file__).parent

#: No script, style, font, image or connection from anywhere but this origin; no framing; forms post here.
HEADERS = {
    "Content-Security-Policy": (
        "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self';"
        " form-action 'self'; base-uri 'none'; frame-ancestors 'none'"
    ),
    "Referrer-Policy": "same-origin",
    "X-Content-Type-Options": "nosniff",
    "Cache-Control": "no-store",
}

#: Messages a redirect may ask the next page to show (``?msg=``), so no text travels in a URL.
NOTICES = {
    "signed_out": "Signed out.",
    "expired": "The API no longer accepts this key: sign in again.",
    "updated": "Saved.",
    "unchanged": "Nothing changed.",
    "deleted": "Deleted.",
    "retried": "The event is queued again.",
}


def when(value: str | None) -> str:
    """An ISO timestamp as ``2024-05-01 12:34 UTC`` (the full value stays in the ``datetime`` attribute)."""
    if not value:
        return "—"
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        return value
    if moment.tzinfo is None:
        return moment.strftime("%Y-%m-%d %H:%M")
    return moment.strftime("%Y-%m-%d %H:%M %Z").replace("UTC+00:00", "UTC")


_env = jinja2.Environment(
    loader=jinja2.FileSystemLoader(HERE / "templates"),
    autoescape=True,
    undefined=jinja2.StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
)
_env.filters["pretty"] = pretty
_env.filters["when"] = when
_env.globals["entity_kinds"] = ENTITY_KINDS
_env.globals["version"] = __version__


def render(
    request: Request,
    template: str,
    *,
    session: Session | None,
    status: int = 200,
    error: str | None = None,
    **context: Any,
) -> HTMLResponse:
    context.setdefault("active", None)
    context.setdefault("refresh", None)
    notice = NOTICES.get(request.query_params.get("msg", ""))
    html = _env.get_template(template).render(
        request=request, session=session, notice=notice, error=error, today=date.today().isoformat(), **context
    )
    return HTMLResponse(html, status_code=status, headers=HEADERS)
