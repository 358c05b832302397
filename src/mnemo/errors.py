"""Domain errors. The HTTP layer maps each to a status code once, in ``mnemo.http.errors``.

MnemoError
├── BadRequest          (400) the input is wrong; ``detail`` says how
├── PayloadTooLarge     (413)
├── Unauthorized        (401) missing, malformed or revoked API key
├── Forbidden           (403) key valid but not allowed (read-only key writing)
├── NotFound            (404) unknown id, or an id of another project
├── Conflict            (409)
└── Unavailable         (503) a dependency (embedder, LLM) is down
"""

from __future__ import annotations


class MnemoError(Exception):
    """Base of every error mnemo turns into an HTTP response."""

    status_code = 500

    def __init__(self, detail: str) -> None:
        super().__init__(detail)
        self.detail = detail


class BadRequest(MnemoError):
    status_code = 400


class PayloadTooLarge(MnemoError):
    status_code = 413


class Unauthorized(MnemoError):
    status_code = 401


class Forbidden(MnemoError):
    status_code = 403


class NotFound(MnemoError):
    status_code = 404


class Conflict(MnemoError):
    status_code = 409


class Unavailable(MnemoError):
    status_code = 503
