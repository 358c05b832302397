"""Domain errors. The HTTP layer maps each to a status code once, in ``mnemo.http.errors``; the
worker decides from the same tree whether a failed job is retried (``mnemo.worker.retry``).

MnemoError
├── BadRequest          (400) the input is wrong; ``detail`` says how
│   └── ValueRejected         the database refused a value (too large for an index, out of range)
├── PayloadTooLarge     (413)
├── Unauthorized        (401) missing, malformed or revoked API key
├── Forbidden           (403) key valid but not allowed (read-only key writing)
├── NotFound            (404) unknown id, or an id of another project
├── Conflict            (409)
├── Unavailable         (503) a dependency is down or busy: the same request may succeed later
│   └── DatabaseUnavailable   the database is unreachable, or a statement lost a lock race
└── StorageFault        (500) a statement failed for a reason that is a bug in mnemo

``mnemo.storage`` translates every database driver error into one of these; nothing else sees the
driver's exceptions.
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


class ValueRejected(BadRequest):
    pass


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


class DatabaseUnavailable(Unavailable):
    pass


class StorageFault(MnemoError):
    status_code = 500
