"""Moments as the API takes them: unix seconds, or an ISO 8601 date or datetime. The one parser."""

from __future__ import annotations

import math
from datetime import UTC, date, datetime, time
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

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


def check_timezone(name: str) -> str:
    """``name`` when it is an IANA time zone this machine knows (``"Europe/Berlin"``, ``"UTC"``); ValueError else."""
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"{name[:64]!r} is not an IANA time zone (e.g. 'UTC', 'Europe/Berlin')") from None
    return name


def observation(
    *,
    timestamp: float | None,
    observation_date: date | None,
    observation_datetime: datetime | None,
    timezone: str | None,
) -> tuple[datetime, datetime]:
    """When an add's messages were written, and the ``created_at`` of what it stores.

    The first is the moment relative dates ("yesterday") resolve against, in ``timezone`` (default UTC) so its
    calendar day is the writer's: ``observation_datetime`` (naive means in ``timezone``), else noon of
    ``observation_date`` in ``timezone`` (noon keeps the day the same in UTC for every zone within ±12 h), else
    ``timestamp``, else now. ``created_at`` is ``timestamp`` when given, else that observation moment.
    """
    zone = ZoneInfo(timezone) if timezone else UTC
    stamped = parse_moment(timestamp, "timestamp") if timestamp is not None else None
    if observation_datetime is not None:
        observed = observation_datetime if observation_datetime.tzinfo else observation_datetime.replace(tzinfo=zone)
    elif observation_date is not None:
        observed = datetime.combine(observation_date, time(12), tzinfo=zone)
    else:
        observed = stamped or datetime.now(UTC)
    observed = observed.astimezone(zone)
    if not (datetime(1970, 1, 1, tzinfo=UTC) <= observed < LATEST):
        raise BadRequest(f"The observation moment {observed.isoformat()} is outside 1970-2099.")
    return observed, stamped or observed
