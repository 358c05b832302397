"""Moments as the API takes them: unix seconds, or an ISO 8601 date or datetime. The one parser."""

from __future__ import annotations

import math
from datetime import UTC, date, datetime

from mnemo.errors import BadRequest

#: 2100-01-01T00:00:00Z: no moment mnemo is told about lies at or after it.
LATEST = datetime(2100, 1, 1, tzinfo=UTC)


def parse_moment(value: float | str, what: str) -> datetime:
    """An aware UTC datetime from unix seconds, an ISO date (its midnight, UTC) or an ISO datetime (naive
    means UTC); 400 naming ``what`` for anything else, or for a moment before 1970 given in seconds or at
    or after 2100."""
    if isinstance(value, bool):
        raise BadRequest(f"{what} must be unix seconds or an ISO 8601 date or datetime; got {value!r}.")
    if isinstance(value, int | float):
        if not (math.isfinite(value) and 0 <= value < LATEST.timestamp()):
            raise BadRequest(f"{what} must be unix seconds between 0 and {int(LATEST.timestamp())}; got {value}.")
        return datetime.fromtimestamp(value, UTC)
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        try:
            parsed = datetime.combine(date.fromisoformat(value), datetime.min.time())
        except ValueError:
            raise BadRequest(
                f"{what} must be unix seconds or an ISO 8601 date or datetime; got {value[:64]!r}."
            ) from None
    try:
        moment = (parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)).astimezone(UTC)
    except OverflowError:
        moment = LATEST
    if moment >= LATEST:
        raise BadRequest(f"{what} must be before {LATEST.date().isoformat()}; got {value[:64]!r}.")
    return moment
