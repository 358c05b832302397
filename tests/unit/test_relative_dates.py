from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from mnemo.domain.relative_dates import DateSpan, find_dates, resolve_relative_dates

# Monday 8 May 2023, early afternoon.
MONDAY = datetime(2023, 5, 8, 13, 56, tzinfo=UTC)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("I went hiking yesterday", "I went hiking yesterday (2023-05-07)"),
        ("I'm seeing her today", "I'm seeing her today (2023-05-08)"),
        ("We fly out tomorrow morning", "We fly out tomorrow morning (2023-05-09)"),
        ("The show last night was great", "The show last night (2023-05-07) was great"),
        ("I ran 5k this morning", "I ran 5k this morning (2023-05-08)"),
        ("I moved last month", "I moved last month (April 2023)"),
        ("I graduated last year", "I graduated last year (2022)"),
        ("We're going to Hawaii next month", "We're going to Hawaii next month (June 2023)"),
        ("I retire next year", "I retire next year (2024)"),
        ("I started last week", "I started last week (week of 2023-05-01)"),
        ("The exam is next week", "The exam is next week (week of 2023-05-15)"),
        ("We camped last weekend", "We camped last weekend (weekend of 2023-05-06)"),
        ("the day before yesterday", "the day before yesterday (2023-05-06)"),
    ],
)
def test_fixed_expressions(text: str, expected: str) -> None:
    assert resolve_relative_dates(text, MONDAY) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("I saw him last Friday", "I saw him last Friday (2023-05-05)"),
        ("I saw him last Monday", "I saw him last Monday (2023-05-01)"),
        ("We meet next Monday", "We meet next Monday (2023-05-15)"),
        ("We meet next Wednesday", "We meet next Wednesday (2023-05-10)"),
        ("Dinner this Thursday", "Dinner this Thursday (2023-05-11)"),
        ("I ran a race on Sunday", "I ran a race on Sunday (2023-05-07)"),
        ("I will run a race on Sunday", "I will run a race on Sunday (2023-05-14)"),
        ("I took my kids out last Fri", "I took my kids out last Fri (2023-05-05)"),
    ],
)
def test_weekdays(text: str, expected: str) -> None:
    assert resolve_relative_dates(text, MONDAY) == expected


@pytest.mark.parametrize(
    "text", ["I usually cook on Saturday evenings.", "We run on Monday mornings and Fridays.", "I swim on Sundays."]
)
def test_habitual_weekdays_get_no_date(text: str) -> None:
    assert resolve_relative_dates(text, MONDAY) == text


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("I got back 3 days ago", "I got back 3 days ago (2023-05-05)"),
        ("I adopted him two weeks ago", "I adopted him two weeks ago (week of 2023-04-24)"),
        ("a couple of months ago I quit", "a couple of months ago (March 2023) I quit"),
        ("I moved here 5 years ago", "I moved here 5 years ago (2018)"),
        ("The wedding is in 2 weeks", "The wedding is in 2 weeks (week of 2023-05-22)"),
        ("I'll know in 10 days", "I'll know in 10 days (2023-05-18)"),
    ],
)
def test_counted_offsets(text: str, expected: str) -> None:
    assert resolve_relative_dates(text, MONDAY) == expected


def test_durations_in_past_sentences_are_not_dates() -> None:
    assert resolve_relative_dates("I finished the puzzle in 3 days", MONDAY) == "I finished the puzzle in 3 days"


def test_possessive_keeps_the_annotation_after_it() -> None:
    assert resolve_relative_dates("last year's trip", MONDAY) == "last year's (2022) trip"


def test_resolving_twice_changes_nothing() -> None:
    once = resolve_relative_dates("I went hiking yesterday and moved last month", MONDAY)
    assert once == "I went hiking yesterday (2023-05-07) and moved last month (April 2023)"
    assert resolve_relative_dates(once, MONDAY) == once


def test_month_and_year_boundaries() -> None:
    new_year = datetime(2024, 1, 2, 9, 0)
    assert resolve_relative_dates("last month", new_year) == "last month (December 2023)"
    assert resolve_relative_dates("yesterday", datetime(2024, 3, 1)) == "yesterday (2024-02-29)"
    assert resolve_relative_dates("next month", datetime(2023, 12, 31)) == "next month (January 2024)"


def test_text_without_expressions_is_unchanged() -> None:
    text = "My sister lives in Paris. Todays and yesterdays are words; Mondays are busy."
    assert resolve_relative_dates(text, MONDAY) == text


def test_accepts_a_plain_date() -> None:
    assert resolve_relative_dates("yesterday", date(2023, 5, 8)) == "yesterday (2023-05-07)"


def _day(value: str) -> date:
    return date.fromisoformat(value)


@pytest.mark.parametrize(
    ("text", "start", "end"),
    [
        ("It happened on May 7, 2023.", "2023-05-07", "2023-05-07"),
        ("It happened on May 7th 2023.", "2023-05-07", "2023-05-07"),
        ("It happened on 7 May 2023.", "2023-05-07", "2023-05-07"),
        ("It happened on the 7th of May, 2023.", "2023-05-07", "2023-05-07"),
        ("It happened on 2023-05-07.", "2023-05-07", "2023-05-07"),
        ("We met in May 2023.", "2023-05-01", "2023-05-31"),
        ("We met in February of 2024.", "2024-02-01", "2024-02-29"),
        ("I have lived here since 2019.", "2019-01-01", "2019-12-31"),
        ("Her birthday is on June 3.", "2023-06-03", "2023-06-03"),
        ("I went hiking yesterday.", "2023-05-07", "2023-05-07"),
        ("I moved last month.", "2023-04-01", "2023-04-30"),
        ("We camped last weekend.", "2023-05-06", "2023-05-07"),
    ],
)
def test_find_dates_single_span(text: str, start: str, end: str) -> None:
    (span,) = find_dates(text, MONDAY)
    assert (span.start, span.end) == (_day(start), _day(end))


def test_find_dates_reports_expressions_in_order() -> None:
    spans = find_dates("I moved on March 3, 2021 and went hiking yesterday.", MONDAY)
    assert spans == [
        DateSpan(_day("2021-03-03"), _day("2021-03-03"), "March 3, 2021"),
        DateSpan(_day("2023-05-07"), _day("2023-05-07"), "yesterday"),
    ]


def test_find_dates_on_a_resolved_text_gives_each_span_once() -> None:
    for text in ("I went hiking yesterday", "I started last week", "I moved last month", "last winter"):
        resolved = resolve_relative_dates(text, MONDAY)
        assert find_dates(resolved, MONDAY) == find_dates(text, MONDAY), resolved


def test_find_dates_ignores_numbers_that_are_not_dates() -> None:
    assert find_dates("I ran 5 miles in 40 minutes with 2023 other runners; may 5 people come?", MONDAY) == []
    assert find_dates("It was February 30, 2023.", MONDAY) == []


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("SEE YOU TONIGHT", [(date(2023, 5, 8), date(2023, 5, 8))]),
        ("We met last Tues.", [(date(2023, 5, 2), date(2023, 5, 2))]),
        ("I moved here a couple of weeks ago", [(date(2023, 4, 24), date(2023, 4, 30))]),
        ("Back in 2019 I lived in Leeds", [(date(2019, 1, 1), date(2019, 12, 31))]),
        ("We marry next spring", [(date(2024, 3, 1), date(2024, 5, 31))]),
        ("I like tea and long walks.", []),
    ],
)
def test_each_kind_of_expression_is_found_and_a_text_with_none_has_no_dates(
    text: str, expected: list[tuple[date, date]]
) -> None:
    """Texts without a digit or a word of a time expression skip the rules altogether; each kind of word still
    leads to its rule (a digit, "night", a weekday's abbreviation, a unit, a season)."""
    assert [(span.start, span.end) for span in find_dates(text, MONDAY)] == expected
