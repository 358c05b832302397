"""Resolving time expressions ("yesterday", "last month", "May 7, 2023") against an observation date.

Pure, deterministic and English-only. Two entry points:

* :func:`resolve_relative_dates` rewrites a text so each relative expression carries its explicit date
  ("I went hiking yesterday" observed 2023-05-08 → "I went hiking yesterday (2023-05-07)").
* :func:`find_dates` lists every explicit date and every relative expression as a :class:`DateSpan`
  (an inclusive ``start``..``end`` range of days), for time-aware ranking.

Conventions (kept simple and predictable rather than clever):

* Weeks run Monday to Sunday. "last week" is the whole previous week, "week of <Monday>".
* "last <weekday>" is the most recent such day strictly before the observation day, "next <weekday>" the
  first one strictly after it, "this <weekday>" the one in the observation day's week.
* "on <weekday>" is the most recent past one when its sentence reads as past tense, else the next one.
* "in N days/weeks/months/years" is resolved unless its sentence reads as past tense
  ("finished it in 3 days" is a duration, not a date).
* "last/this/next weekend": the Saturday and Sunday of the previous/current/next week.

Linear in the text (a memory or a search query, up to 32,000 characters): each pattern is one scan of it,
starting only at a word boundary with bounded alternatives, and the tense of the sentences around the
expressions that need it comes from one index of the text (:mod:`mnemo.domain.tense`), not from searching
each sentence again.
"""

from __future__ import annotations

import calendar
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import NamedTuple

from mnemo.domain.tense import Tense

__all__ = ["DateSpan", "find_dates", "resolve_relative_dates"]


@dataclass(frozen=True, slots=True)
class DateSpan:
    """An inclusive range of days that a time expression in a text refers to."""

    start: date
    end: date
    expression: str


# (start, end, label): what a matched expression resolves to, and how it is written back into the text.
_Resolved = tuple[date, date, str]
_Resolver = Callable[[re.Match[str], date, "_Text"], _Resolved | None]

MONTH_NAMES = (
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
)
_MONTH_PREFIXES = [name[:3].lower() for name in MONTH_NAMES]
_WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
_WEEKDAY_PREFIXES = [name[:3] for name in _WEEKDAYS]
_NUMBER_WORDS = {
    "a": 1,
    "an": 1,
    "one": 1,
    "two": 2,
    "three": 3,
    "four": 4,
    "five": 5,
    "six": 6,
    "seven": 7,
    "eight": 8,
    "nine": 9,
    "ten": 10,
    "eleven": 11,
    "twelve": 12,
}
# Season name → (first month, length in months). Winter starts in December and runs into the next year.
_SEASONS = {"spring": 3, "summer": 6, "fall": 9, "autumn": 9, "winter": 12}

_WEEKDAY_RE = r"(?P<wd>" + "|".join(_WEEKDAYS) + r"|mon|tues?|wed|thu(?:rs?)?|fri|sat|sun)\b\.?"
_NUMBER_RE = r"(?P<n>\d{1,3}|a\s+couple(?:\s+of)?|couple\s+of|" + "|".join(_NUMBER_WORDS) + ")"
_UNIT_RE = r"(?P<unit>day|week|month|year)s?"
_PERIOD_SUFFIX = r"(?:\s+(?:morning|afternoon|evening|night))?"
_POSSESSIVE = r"(?:'s|’s)?"

_DAY_BEFORE_YESTERDAY = re.compile(r"\b(?:the\s+)?day\s+before\s+yesterday\b" + _POSSESSIVE, re.IGNORECASE)
_DAY_AFTER_TOMORROW = re.compile(r"\b(?:the\s+)?day\s+after\s+tomorrow\b" + _POSSESSIVE, re.IGNORECASE)
_YESTERDAY = re.compile(r"\byesterday" + _PERIOD_SUFFIX + r"\b" + _POSSESSIVE, re.IGNORECASE)
_LAST_NIGHT = re.compile(r"\blast\s+night\b" + _POSSESSIVE, re.IGNORECASE)
_TODAY = re.compile(r"\b(?:today|tonight|this\s+(?:morning|afternoon|evening))\b" + _POSSESSIVE, re.IGNORECASE)
_TOMORROW = re.compile(r"\btomorrow" + _PERIOD_SUFFIX + r"\b" + _POSSESSIVE, re.IGNORECASE)
_RELATIVE_PERIOD = re.compile(
    r"\b(?P<rel>last|next|this\s+past|this\s+coming|this)\s+(?P<unit>weekend|week|month|year)\b" + _POSSESSIVE,
    re.IGNORECASE,
)
_RELATIVE_SEASON = re.compile(
    r"\b(?P<rel>last|next|this\s+past|this\s+coming|this)\s+(?P<season>spring|summer|fall|autumn|winter)\b"
    + _POSSESSIVE,
    re.IGNORECASE,
)
_RELATIVE_WEEKDAY = re.compile(
    # "on Saturday evenings" is a habit, not a date
    r"\b(?P<rel>last|next|this\s+past|this\s+coming|this|on)\s+"
    + _WEEKDAY_RE
    + r"(?!\s+(?:morning|afternoon|evening|night)s\b)"
    + _PERIOD_SUFFIX
    + r"\b",
    re.IGNORECASE,
)
_AGO = re.compile(r"\b" + _NUMBER_RE + r"\s+" + _UNIT_RE + r"\s+ago\b", re.IGNORECASE)
_IN_N = re.compile(r"\bin\s+" + _NUMBER_RE + r"\s+" + _UNIT_RE + r"\b(?:['’]s\s+time\b)?", re.IGNORECASE)

_ALREADY_RESOLVED = re.compile(r"\s*\(")

#: What every rule's match contains: a digit (every explicit date has a day or a year), or a word of a relative
#: expression ("yesterday", "today" and weekday names hold "day"; "tonight" and "last night" hold "night"; "this
#: morning"; a unit; a season; a weekday's abbreviation). Compiled with the same flag as the rules, so a text
#: without any of these has no date to find, and the twenty rules are not run on it.
_MAY_NAME_A_DATE = re.compile(
    r"\d|day|tomorrow|night|this|week|month|year|spring|summer|fall|autumn|winter|mon|tue|wed|thu|fri|sat|sun",
    re.IGNORECASE,
)

# Explicit dates.
_MONTH_ANYCASE = (
    r"(?P<mon>jan(?:uary)?|feb(?:ruary)?|mar(?:ch)?|apr(?:il)?|may|june?|july?|aug(?:ust)?|"
    r"sep(?:t(?:ember)?)?|oct(?:ober)?|nov(?:ember)?|dec(?:ember)?)\.?"
)
_MONTH_CAPITALISED = (
    r"(?P<mon>Jan(?:uary)?|Feb(?:ruary)?|Mar(?:ch)?|Apr(?:il)?|May|June?|July?|Aug(?:ust)?|"
    r"Sep(?:t(?:ember)?)?|Oct(?:ober)?|Nov(?:ember)?|Dec(?:ember)?)\.?"
)
_DAY = r"(?P<day>\d{1,2})(?:st|nd|rd|th)?"
_YEAR = r"(?P<year>(?:19|20)\d{2})"
_ISO_DATE = re.compile(r"\b(?P<year>\d{4})-(?P<mon>\d{1,2})-(?P<day>\d{1,2})\b")
_MONTH_DAY_YEAR = re.compile(r"\b" + _MONTH_ANYCASE + r"\s+" + _DAY + r",?\s+" + _YEAR + r"\b", re.IGNORECASE)
_DAY_MONTH_YEAR = re.compile(r"\b" + _DAY + r"\s+(?:of\s+)?" + _MONTH_ANYCASE + r",?\s+" + _YEAR + r"\b", re.IGNORECASE)
_MONTH_YEAR = re.compile(r"\b" + _MONTH_ANYCASE + r",?\s+(?:of\s+)?" + _YEAR + r"\b", re.IGNORECASE)
_MONTH_DAY = re.compile(r"\b" + _MONTH_CAPITALISED + r"\s+" + _DAY + r"\b(?!:|\.\d)")
_DAY_MONTH = re.compile(r"\b(?:the\s+)?" + _DAY + r"\s+(?:of\s+)?" + _MONTH_CAPITALISED + r"(?!\w)")
# "week of 2023-05-01" is also how resolve_relative_dates writes weeks, so the annotation finds the same span.
_WEEK_OF = re.compile(
    r"\b(?P<kind>week|weekend)\s+of\s+(?P<year>\d{4})-(?P<mon>\d{1,2})-(?P<day>\d{1,2})\b", re.IGNORECASE
)
_SEASON_YEAR = re.compile(r"\b(?P<season>spring|summer|fall|autumn|winter)\s+(?:of\s+)?" + _YEAR + r"\b", re.IGNORECASE)
_PREPOSITION_YEAR = re.compile(r"\b(?:in|since|during|from|back\s+in)\s+" + _YEAR + r"\b", re.IGNORECASE)


# ---------------------------------------------------------------- calendar helpers


def _as_day(observed_at: date) -> date:
    return observed_at.date() if isinstance(observed_at, datetime) else observed_at


def _iso(day: date) -> str:
    return day.isoformat()


def _shift_month(year: int, month: int, delta: int) -> tuple[int, int]:
    index = year * 12 + (month - 1) + delta
    return index // 12, index % 12 + 1


def _month_span(year: int, month: int) -> _Resolved:
    last = calendar.monthrange(year, month)[1]
    return date(year, month, 1), date(year, month, last), f"{MONTH_NAMES[month - 1]} {year}"


def _year_span(year: int) -> _Resolved:
    return date(year, 1, 1), date(year, 12, 31), str(year)


def _week_span(day: date) -> _Resolved:
    monday = day - timedelta(days=day.weekday())
    return monday, monday + timedelta(days=6), f"week of {_iso(monday)}"


def _weekend_span(day: date, weeks: int) -> _Resolved:
    saturday = day - timedelta(days=day.weekday()) + timedelta(days=5 + 7 * weeks)
    return saturday, saturday + timedelta(days=1), f"weekend of {_iso(saturday)}"


def _day_span(day: date) -> _Resolved:
    return day, day, _iso(day)


def _season_span(season: str, year: int) -> _Resolved:
    first = _SEASONS[season]
    end_year, end_month = _shift_month(year, first, 2)
    start = date(year, first, 1)
    end = date(end_year, end_month, calendar.monthrange(end_year, end_month)[1])
    label = f"{season} {year}" if end_year == year else f"{season} {year}/{end_year}"
    return start, end, label


def _safe_date(year: int, month: int, day: int) -> date | None:
    try:
        return date(year, month, day)
    except ValueError:
        return None


def _month_number(name: str) -> int:
    prefix = name.rstrip(".")[:3].lower()
    return _MONTH_PREFIXES.index(prefix) + 1


def _direction(rel: str) -> int:
    """-1 for last / this past, +1 for next / this coming, 0 for this."""
    words = rel.lower().split()
    if words[0] == "last" or words[-1] == "past":
        return -1
    if words[0] == "next" or words[-1] == "coming":
        return 1
    return 0


def _number(raw: str) -> int:
    text = " ".join(raw.lower().split())
    if text.isdigit():
        return int(text)
    if "couple" in text:
        return 2
    return _NUMBER_WORDS[text]


class _Text:
    """The text whose expressions are resolved; the tense of its sentences is computed on first use."""

    def __init__(self, text: str) -> None:
        self.text = text
        self._tense: Tense | None = None

    def reads_as_past(self, match: re.Match[str]) -> bool:
        """Whether the sentence around the match reads as past tense (see :mod:`mnemo.domain.tense`)."""
        if self._tense is None:
            self._tense = Tense(self.text)
        return self._tense.reads_as_past(match.start(), match.end())


# ---------------------------------------------------------------- relative resolvers


def _fixed_offset(days: int) -> _Resolver:
    def resolve(match: re.Match[str], today: date, context: _Text) -> _Resolved | None:
        return _day_span(today + timedelta(days=days))

    return resolve


def _resolve_period(match: re.Match[str], today: date, context: _Text) -> _Resolved | None:
    direction = _direction(match["rel"])
    unit = match["unit"].lower()
    if unit == "week":
        return _week_span(today + timedelta(weeks=direction))
    if unit == "weekend":
        return _weekend_span(today, direction)
    if unit == "month":
        return _month_span(*_shift_month(today.year, today.month, direction))
    return _year_span(today.year + direction)


def _resolve_season(match: re.Match[str], today: date, context: _Text) -> _Resolved | None:
    season = match["season"].lower()
    direction = _direction(match["rel"])
    # The season "of" a year is the one starting in that year; in Jan/Feb the current winter began last year.
    current_year = today.year - 1 if season == "winter" and today.month < 3 else today.year
    if direction == 0:
        return _season_span(season, current_year)
    year = current_year
    start, end, _ = _season_span(season, year)
    if direction < 0:
        return _season_span(season, year if end < today else year - 1)
    return _season_span(season, year if start > today else year + 1)


def _resolve_weekday(match: re.Match[str], today: date, context: _Text) -> _Resolved | None:
    weekday = _WEEKDAY_PREFIXES.index(match["wd"][:3].lower())
    rel = match["rel"].lower()
    if rel == "on":
        direction = -1 if context.reads_as_past(match) else 1
    else:
        direction = _direction(rel)
    if direction < 0:
        return _day_span(today - timedelta(days=(today.weekday() - weekday - 1) % 7 + 1))
    if direction > 0:
        return _day_span(today + timedelta(days=(weekday - today.weekday() - 1) % 7 + 1))
    return _day_span(today + timedelta(days=weekday - today.weekday()))


def _offset_span(today: date, amount: int, unit: str) -> _Resolved:
    if unit == "day":
        return _day_span(today + timedelta(days=amount))
    if unit == "week":
        return _week_span(today + timedelta(weeks=amount))
    if unit == "month":
        return _month_span(*_shift_month(today.year, today.month, amount))
    return _year_span(today.year + amount)


def _resolve_ago(match: re.Match[str], today: date, context: _Text) -> _Resolved | None:
    return _offset_span(today, -_number(match["n"]), match["unit"].lower())


def _resolve_in_n(match: re.Match[str], today: date, context: _Text) -> _Resolved | None:
    if context.reads_as_past(match):
        return None
    return _offset_span(today, _number(match["n"]), match["unit"].lower())


_RELATIVE_RULES: tuple[tuple[re.Pattern[str], _Resolver], ...] = (
    (_DAY_BEFORE_YESTERDAY, _fixed_offset(-2)),
    (_DAY_AFTER_TOMORROW, _fixed_offset(2)),
    (_YESTERDAY, _fixed_offset(-1)),
    (_LAST_NIGHT, _fixed_offset(-1)),
    (_TODAY, _fixed_offset(0)),
    (_TOMORROW, _fixed_offset(1)),
    (_RELATIVE_PERIOD, _resolve_period),
    (_RELATIVE_SEASON, _resolve_season),
    (_RELATIVE_WEEKDAY, _resolve_weekday),
    (_AGO, _resolve_ago),
    (_IN_N, _resolve_in_n),
)


# ---------------------------------------------------------------- explicit resolvers


def _explicit_day(match: re.Match[str], today: date, context: _Text) -> _Resolved | None:
    month = int(match["mon"]) if match["mon"].isdigit() else _month_number(match["mon"])
    day = _safe_date(int(match["year"]), month, int(match["day"]))
    return None if day is None else _day_span(day)


def _explicit_day_this_year(match: re.Match[str], today: date, context: _Text) -> _Resolved | None:
    day = _safe_date(today.year, _month_number(match["mon"]), int(match["day"]))
    return None if day is None else _day_span(day)


def _explicit_week(match: re.Match[str], today: date, context: _Text) -> _Resolved | None:
    start = _safe_date(int(match["year"]), int(match["mon"]), int(match["day"]))
    if start is None:
        return None
    length = 2 if match["kind"].lower() == "weekend" else 7
    return start, start + timedelta(days=length - 1), match.group()


def _explicit_season(match: re.Match[str], today: date, context: _Text) -> _Resolved | None:
    return _season_span(match["season"].lower(), int(match["year"]))


def _explicit_month(match: re.Match[str], today: date, context: _Text) -> _Resolved | None:
    return _month_span(int(match["year"]), _month_number(match["mon"]))


def _explicit_year(match: re.Match[str], today: date, context: _Text) -> _Resolved | None:
    return _year_span(int(match["year"]))


_EXPLICIT_RULES: tuple[tuple[re.Pattern[str], _Resolver], ...] = (
    (_WEEK_OF, _explicit_week),
    (_ISO_DATE, _explicit_day),
    (_MONTH_DAY_YEAR, _explicit_day),
    (_DAY_MONTH_YEAR, _explicit_day),
    (_MONTH_YEAR, _explicit_month),
    (_SEASON_YEAR, _explicit_season),
    (_MONTH_DAY, _explicit_day_this_year),
    (_DAY_MONTH, _explicit_day_this_year),
    (_PREPOSITION_YEAR, _explicit_year),
)


# ---------------------------------------------------------------- matching


class _Found(NamedTuple):  # a tuple: a long text may have thousands
    start: int
    end: int
    resolved: _Resolved


def _matches(text: str, today: date, rules: tuple[tuple[re.Pattern[str], _Resolver], ...]) -> list[_Found]:
    """All resolvable matches of the rules, without overlaps: earliest first, then longest."""
    if not _MAY_NAME_A_DATE.search(text):
        return []
    candidates: list[_Found] = []
    context = _Text(text)
    for pattern, resolver in rules:
        for match in pattern.finditer(text):
            try:
                resolved = resolver(match, today, context)
            except (OverflowError, ValueError, KeyError):
                # Past the calendar's end (the week of 9999-12-31, tomorrow on 9999-12-31), or a character that
                # only matches case-insensitively ("ſep", "frıday"): not a date this module can name.
                continue
            if resolved is not None:
                candidates.append(_Found(match.start(), match.end(), resolved))
    candidates.sort(key=lambda found: (found.start, found.start - found.end))
    kept: list[_Found] = []
    for found in candidates:
        if not kept or found.start >= kept[-1].end:
            kept.append(found)
    return kept


def resolve_relative_dates(text: str, observed_at: date) -> str:
    """The text with each relative time expression followed by its explicit date in parentheses.

    ``observed_at`` (a datetime or a date) is when the text was said. Expressions already followed by a
    parenthesis are left alone, so resolving twice changes nothing.
    """
    today = _as_day(observed_at)
    pieces: list[str] = []
    position = 0
    for found in _matches(text, today, _RELATIVE_RULES):
        if _ALREADY_RESOLVED.match(text, found.end):
            continue
        pieces.append(text[position : found.end])
        pieces.append(f" ({found.resolved[2]})")
        position = found.end
    pieces.append(text[position:])
    return "".join(pieces)


def find_dates(text: str, observed_at: date) -> list[DateSpan]:
    """Every explicit date and every relative time expression in the text, in order of appearance.

    Spans covering the same days are reported once (the first one), so a resolved text such as
    "yesterday (2023-05-07)" yields a single span.
    """
    today = _as_day(observed_at)
    found = _matches(text, today, _EXPLICIT_RULES + _RELATIVE_RULES)
    spans: list[DateSpan] = []
    seen: set[tuple[date, date]] = set()
    for item in found:
        start, end, _ = item.resolved
        if (start, end) not in seen:
            seen.add((start, end))
            spans.append(DateSpan(start, end, text[item.start : item.end]))
    return spans
