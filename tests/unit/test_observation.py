"""When an add's messages were written (mnemo.domain.dates.observation): the moment relative dates resolve
against, in the writer's time zone, and the created_at of what the add stores."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from mnemo.domain.dates import check_timezone, observation
from mnemo.errors import BadRequest


def _observe(**given: object) -> tuple[datetime, datetime]:
    fields: dict[str, object] = {
        "timestamp": None,
        "observation_date": None,
        "observation_datetime": None,
        "timezone": None,
    }
    return observation(**{**fields, **given})  # type: ignore[arg-type]


def test_a_date_is_noon_of_that_day_in_the_zone() -> None:
    observed, created = _observe(observation_date=date(2024, 5, 3), timezone="America/Los_Angeles")
    assert observed.date() == date(2024, 5, 3) and observed.hour == 12
    assert created == observed and created.astimezone(UTC) == datetime(2024, 5, 3, 19, tzinfo=UTC)


def test_a_naive_datetime_is_read_in_the_zone_an_aware_one_kept() -> None:
    naive, _ = _observe(observation_datetime=datetime(2024, 5, 3, 23, 30), timezone="America/New_York")
    assert naive.date() == date(2024, 5, 3) and naive.astimezone(UTC).date() == date(2024, 5, 4)
    aware, _ = _observe(observation_datetime=datetime(2024, 5, 3, 23, 30, tzinfo=UTC), timezone="Asia/Tokyo")
    assert aware.date() == date(2024, 5, 4), "the UTC moment, on Tokyo's calendar"


def test_timestamp_dates_what_is_stored_and_the_observation_the_words() -> None:
    observed, created = _observe(timestamp=1_700_000_000, observation_date=date(2024, 1, 10))
    assert observed.date() == date(2024, 1, 10)
    assert created == datetime(2023, 11, 14, 22, 13, 20, tzinfo=UTC)
    alone, stored = _observe(timestamp=1_700_000_000, timezone="Asia/Tokyo")
    assert alone.date() == date(2023, 11, 15) and stored == alone


def test_out_of_range_moments_and_unknown_zones_are_refused() -> None:
    with pytest.raises(BadRequest, match="1970-2099"):
        _observe(observation_date=date(2150, 1, 1))
    with pytest.raises(ValueError, match="IANA"):
        check_timezone("Mars/Olympus")
    assert check_timezone("UTC") == "UTC"
