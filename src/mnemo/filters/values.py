"""Checks of the values a filter holds (ids, dates, strings, JSON), for ``parser``: each returns the value
as the AST stores it or raises ``FilterError`` naming the offending value and what is allowed."""

from __future__ import annotations

import json
import math
import re
from datetime import UTC, date, datetime
from typing import Literal
from uuid import UUID

from mnemo.filters.ast import MAX_DEPTH, MAX_LIST_ITEMS, FilterError, JsonValue


def describe(value: object) -> str:
    """``value`` as it appears in a message: JSON (or repr), cut to about 60 characters."""
    if isinstance(value, str):
        return repr(value) if len(value) <= 60 else repr(value[:57]) + "..."
    try:
        text = json.dumps(value)
    except (TypeError, ValueError):
        text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def type_name(value: object) -> str:
    """The JSON kind of ``value``, with its article: "a string", "an object", "null", ..."""
    names = {bool: "a boolean", int: "a number", float: "a number", str: "a string", list: "a list"}
    if value is None:
        return "null"
    if isinstance(value, dict):
        return "an object"
    return names.get(type(value), type(value).__name__)


def unstorable(text: str) -> Literal["nul", "surrogate"] | None:
    """Why PostgreSQL could not store ``text`` (a NUL character, a lone surrogate), or None: the one rule, for
    filters and request bodies alike."""
    if "\x00" in text:
        return "nul"
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return "surrogate"
    return None


def storable(where: str, text: str) -> str:
    """``text``, if PostgreSQL can store it: no NUL character, no lone surrogate."""
    problem = unstorable(text)
    if problem == "nul":
        raise FilterError(f"{where}: strings must not contain the NUL character (\\u0000).")
    if problem == "surrogate":
        raise FilterError(f"{where}: strings must be valid Unicode (no lone surrogates).")
    return text


def check_list(value: object, where: str) -> list[object]:
    """``value``, if it is a list of at most ``MAX_LIST_ITEMS`` items."""
    if not isinstance(value, list):
        raise FilterError(f"{where} takes a list, got {type_name(value)}: {describe(value)}.")
    if len(value) > MAX_LIST_ITEMS:
        raise FilterError(f"{where} has {len(value)} items; at most {MAX_LIST_ITEMS} are allowed.")
    return value


def string(where: str, value: object) -> str:
    """``value``, if it is a storable string."""
    if not isinstance(value, str):
        raise FilterError(f"{where} takes a string, got {type_name(value)}: {describe(value)}.")
    return storable(where, value)


def entity_value(fld: str, value: object) -> str:
    """An entity id: a non-empty storable string."""
    if not isinstance(value, str) or not value:
        raise FilterError(f"{fld} must be a non-empty string, got {type_name(value)}: {describe(value)}.")
    return storable(fld, value)


_DAY_FORMAT = re.compile(r"\d{4}-\d{2}-\d{2}")
_DATETIME_FORMAT = re.compile(r"\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}.*", re.DOTALL)


def date_value(fld: str, value: object) -> date:
    """A ``date`` for a YYYY-MM-DD value, an aware UTC ``datetime`` for a datetime value (naive = UTC);
    for ``expiration_date`` always a ``date`` (a datetime's UTC date)."""
    if not isinstance(value, str):
        raise FilterError(
            f"{fld} takes a date 'YYYY-MM-DD' or an ISO 8601 datetime, got {type_name(value)}: {describe(value)}."
        )
    try:
        parsed = _parse_date_text(value)
    except (ValueError, OverflowError) as exc:
        raise FilterError(f"Invalid date {value!r} for {fld}: {exc}.") from None
    if fld == "expiration_date" and isinstance(parsed, datetime):
        return parsed.date()
    return parsed


def _parse_date_text(value: str) -> date:
    if _DAY_FORMAT.fullmatch(value):
        day = date.fromisoformat(value)
        if day.year > 9998:
            raise ValueError("year must be at most 9998")
        return day
    if not _DATETIME_FORMAT.fullmatch(value):
        raise ValueError("expected 'YYYY-MM-DD' or an ISO 8601 datetime such as '2024-07-01T12:00:00Z'")
    moment = datetime.fromisoformat(value)
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC)


def json_value(where: str, value: object, depth: int = 0) -> JsonValue:
    """Check that ``value`` is plain, finite, reasonably sized JSON; return it unchanged."""
    if depth > MAX_DEPTH:
        raise FilterError(f"{where}: value is nested too deeply (more than {MAX_DEPTH} levels).")
    if isinstance(value, float) and not math.isfinite(value):
        raise FilterError(f"{where}: numbers must be finite, got {value!r}.")
    if isinstance(value, str):
        storable(where, value)
    elif isinstance(value, list):
        for item in check_list(value, where):
            json_value(where, item, depth + 1)
    elif isinstance(value, dict):
        if len(value) > MAX_LIST_ITEMS:
            raise FilterError(f"{where}: an object has {len(value)} keys; at most {MAX_LIST_ITEMS} are allowed.")
        for key, item in value.items():
            if not isinstance(key, str):
                raise FilterError(f"{where}: object keys must be strings, got {describe(key)}.")
            storable(where, key)
            json_value(where, item, depth + 1)
    elif value is not None and not isinstance(value, int | float):
        raise FilterError(f"{where}: not a JSON value: {describe(value)}.")
    return value


def metadata_scalar(where: str, value: object) -> JsonValue:
    """The operand of metadata ``contains``: a JSON scalar."""
    if isinstance(value, list | dict):
        raise FilterError(f"{where} takes a string (substring match) or a single list element, got {type_name(value)}.")
    return json_value(where, value)


def memory_id(value: object) -> str:
    """A memory id as the canonical lowercase UUID string."""
    try:
        if not isinstance(value, str):
            raise ValueError
        return str(UUID(value))
    except ValueError:
        raise FilterError(f"memory_ids must be UUID strings, got {describe(value)}.") from None
