"""Request bodies decoded as JSON with finite numbers and bounded integers.

Python's ``json`` accepts ``NaN``, ``Infinity`` and ``-Infinity`` (which JSON does not have), turns a number too
large for a double (``1e400``, or a long run of digits with a fraction) into infinity, and converts integers of
any length up to its 4,300-digit guard (in time that grows with the square of the length). None of the
non-finite values can be stored (PostgreSQL's JSON has no NaN or infinity) or read back by most clients, so every
route of the API decodes its body with :func:`loads` (through :class:`StrictJsonRequest`, see
:mod:`mnemo.http.routing`): every number must be finite and written in at most :data:`MAX_NUMBER_CHARS`
characters. That bound holds every finite double as PostgreSQL writes it back (``1e300`` is read back as a
301-digit integer, which the client may send again). Anything else is a 400 saying which number was refused.
"""

from __future__ import annotations

import json
import math
from typing import Any

from fastapi import Request

#: The longest number literal: more than any finite double as PostgreSQL writes it (at most ~330 characters).
MAX_NUMBER_CHARS = 400


class NumberRefused(ValueError):
    """A number JSON allows (or Python's json accepts) that mnemo will not store; its text says which."""


def _shown(text: str) -> str:
    return text if len(text) <= 24 else f"{text[:10]}…{text[-6:]} ({len(text)} characters)"


def _bounded(text: str) -> str:
    if len(text) > MAX_NUMBER_CHARS:
        raise NumberRefused(f"the number {_shown(text)} is longer than {MAX_NUMBER_CHARS} characters")
    return text


def _integer(text: str) -> int:
    return int(_bounded(text))


def _number(text: str) -> float:
    value = float(_bounded(text))
    if not math.isfinite(value):
        raise NumberRefused(f"the number {_shown(text)} is too large (numbers must be finite)")
    return value


def _constant(text: str) -> Any:
    raise NumberRefused(f"{text} is not a JSON number (numbers must be finite)")


def loads(data: bytes | str) -> Any:
    """``json.loads`` with the rules above; raises ValueError (``json.JSONDecodeError`` or :class:`NumberRefused`)."""
    return json.loads(data, parse_int=_integer, parse_float=_number, parse_constant=_constant)


class StrictJsonRequest(Request):
    """A request whose ``json()`` is :func:`loads` (FastAPI turns its ValueError into a 400, which
    :mod:`mnemo.http.errors` words as "The request body is not valid JSON: ...")."""

    async def json(self) -> Any:
        if not hasattr(self, "_json"):
            self._json = loads(await self.body())
        return self._json
