"""What may follow a whole claim: time words ("Alice moved to Berlin last month (May 2024).").

A claim is whole when the rest of its fact matches :data:`WHOLE_TAIL_DEFINITION`, time words separated by
whitespace and commas, then "." or "!" (ignoring case). As one backtracking regex that took exponential
time: a time word can end in several places ("since" takes one to three words, any of which may be a time
word itself; "for 2 years now" is one time word or two, "in May 5, 2023" may stop after "May" or "5"), and
after a failure every way of cutting the tail was tried again: " for 2 years now" eight times and then "#"
took 4 s, ten times more than a minute.

:func:`is_whole_tail` answers the same question by reading the tail once: it finds where time words start
(one scan), then visits each of those positions at most once and lists every place the time word
starting there can end, with patterns that can each end in one place only (the variants below).
"""

from __future__ import annotations

import heapq
import re
from bisect import bisect_left, bisect_right
from collections.abc import Iterable, Sequence

__all__ = ["WHOLE_TAIL_DEFINITION", "is_whole_tail"]

_MONTH = (
    r"(?:January|February|March|April|May|June|July|August|September|October|November|December|"
    r"Jan|Feb|Mar|Apr|Jun|Jul|Aug|Sept?|Oct|Nov|Dec)"
)
_WEEKDAY = r"(?:Monday|Tuesday|Wednesday|Thursday|Friday|Saturday|Sunday)"
_COUNT_WORD = r"(?:a|an|one|two|three|four|five|six|seven|eight|nine|ten|a\s+few|a\s+couple\s+of|several|many)"
_COUNT = rf"(?:\d+|{_COUNT_WORD})"
_UNIT = r"(?:days?|weeks?|months?|years?|decades?)"
# The one time word that starts with a digit ("2 days ago"): from inside a run of digits it is the same
# time word as from the run's first digit, so it is looked for from there only (see is_whole_tail).
_AGO_DIGITS = rf"\d+\s+{_UNIT}\s+ago"
# The time words: dates, time words, resolved dates in parentheses (the definition; the variants below
# split it into patterns that each end in one place).
_LETTER_LED_TIME_WORD = (
    r"\([^()]*\)|now|currently|today|tonight|these\s+days|nowadays|at\s+the\s+moment|right\s+now|"
    r"yesterday|recently|lately|finally|officially|again|already|still|for\s+work|"
    rf"(?:last|this|next|past)\s+(?:week|weekend|month|year|spring|summer|fall|autumn|winter|{_WEEKDAY}|{_MONTH})|"
    rf"since\s+(?:\w+\s+){{0,2}}\w+|for\s+(?:the\s+(?:last|past)\s+)?{_COUNT}\s+{_UNIT}(?:\s+now)?|"
    rf"{_COUNT_WORD}\s+{_UNIT}\s+ago|(?:in|on|as\s+of)\s+(?:(?:early|late|mid)\s+)?(?:{_MONTH}(?:\s+\d{{1,2}}(?:st|nd|rd|th)?)?"
    rf"(?:,?\s+\d{{4}})?|\d{{4}}(?:-\d{{2}}-\d{{2}})?|{_WEEKDAY})|years?\s+old"
)
_TIME_WORD = rf"{_LETTER_LED_TIME_WORD}|{_AGO_DIGITS}"
#: What is_whole_tail decides, as a regex (exponential on some tails: tests compare the two on short ones).
WHOLE_TAIL_DEFINITION = rf"(?:\s*,?\s*(?:{_TIME_WORD}))*\s*[.!]*\s*"
# Where a time word starts (found once for the whole tail; digits from the start of their run only).
_TIME_WORD_AT = re.compile(rf"(?=(?:{_LETTER_LED_TIME_WORD}))|(?<!\d)(?={_AGO_DIGITS})", re.IGNORECASE)
_AGO_DIGITS_AT = re.compile(_AGO_DIGITS, re.IGNORECASE)
_DIGITS = re.compile(r"\d+")
_END = re.compile(r"\s*[.!]*\s*")
_SEPARATOR = re.compile(r"\s*(?:,\s*)?")  # `\s*,?\s*` at its longest: no time word starts with either

# The variants. Time words of different variants never start alike, except for a word and its longer form
# ("now" / "nowadays", "week" / "weekend", "Sep" / "Sept" / "September", "day" / "days"), which are in
# different variants: so each variant matches in one way at most. The first word says which may match.
_FIRST_WORD = re.compile(
    r"(?P<since>since\s)|(?P<period>(?:last|this|next|past)\s)|(?P<on>(?:in|on|as\s+of)\s)", re.IGNORECASE
)
_ONE_END = re.compile(
    r"\([^()]*\)|now|currently|today|tonight|these\s+days|at\s+the\s+moment|right\s+now|yesterday|recently|"
    rf"lately|finally|officially|again|already|still|for\s+work|{_COUNT_WORD}\s+{_UNIT}\s+ago|years?\s+old",
    re.IGNORECASE,
)
_NOWADAYS = re.compile("nowadays", re.IGNORECASE)
_MONTH_PARTS = (
    "Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec",
    "January|February|March|April|June|July|August|Sept|October|November|December",
    "September",
)
_PERIOD_PARTS = (
    f"week|month|year|spring|summer|fall|autumn|winter|{_WEEKDAY}|{_MONTH_PARTS[0]}",
    f"weekend|{_MONTH_PARTS[1]}",
    _MONTH_PARTS[2],
)


def _variants(prefix: str, parts: Sequence[str]) -> tuple[re.Pattern[str], ...]:
    return tuple(re.compile(rf"{prefix}(?:{part})", re.IGNORECASE) for part in parts)


_PERIOD = _variants(r"(?:last|this|next|past)\s+", _PERIOD_PARTS)
# "for 3 day" / "for 3 days"; the optional " now" after them is the time word "now" on its own.
_FOR = _variants(
    rf"for\s+(?:the\s+(?:last|past)\s+)?{_COUNT}\s+", ("day|week|month|year|decade", "days|weeks|months|years|decades")
)
# "in", "on", "as of" and a date: a weekday, a year, an ISO date, or a month with an optional day and year.
_ON = re.compile(r"(?:in|on|as\s+of)\s+(?:(?:early|late|mid)\s+)?", re.IGNORECASE)
_ON_DAY = _variants("", (_WEEKDAY, r"\d{4}", r"\d{4}-\d{2}-\d{2}"))
_ON_MONTH = _variants("", _MONTH_PARTS)
_DAY_OF_MONTH = (re.compile(r"\s+\d"), re.compile(r"\s+\d\d"))
_DAY_SUFFIX = re.compile(r"st|nd|rd|th", re.IGNORECASE)
_YEAR = re.compile(r",?\s+\d{4}")
_SINCE = re.compile(r"since\s+", re.IGNORECASE)
_WORD = re.compile(r"\w+")
_SPACES = re.compile(r"\s+")


def is_whole_tail(text: str, start: int) -> bool:
    """Whether ``text[start:]`` is only time words, separated by whitespace and commas, and a final "."
    or "!": the regex above, read once. Positions are visited in order, each at most once."""
    starts: list[int] = []
    ago_ends: dict[int, int] = {}  # where "<digits> <unit> ago" ends, from each digit of its run
    for found in _TIME_WORD_AT.finditer(text, start):
        starts.append(found.start())
        ago = _AGO_DIGITS_AT.match(text, found.start())
        digits = _DIGITS.match(text, found.start())
        if ago is not None and digits is not None:
            run = range(found.start(), digits.end())
            starts += run[1:]
            ago_ends.update(dict.fromkeys(run, ago.end()))
    time_word_at = set(starts)
    pending, seen = [start], {start}
    while pending:
        position = heapq.heappop(pending)
        if _END.fullmatch(text, position):
            return True
        separator = _SEPARATOR.match(text, position)
        position = separator.end() if separator else position
        if position not in time_word_at:
            continue
        ends = [ago_ends[position]] if position in ago_ends else _time_word_ends(text, position, starts)
        for end in ends:
            if end not in seen:
                seen.add(end)
                heapq.heappush(pending, end)
    return False


def _time_word_ends(text: str, position: int, starts: Sequence[int]) -> list[int]:
    """Every position where a time word starting with a letter or "(" at ``position`` can end (``starts``:
    where time words start)."""
    first = _FIRST_WORD.match(text, position)
    variant = first.lastgroup if first else None
    if variant == "since":
        return _since_ends(text, _SINCE.match(text, position), starts)
    if variant == "period":
        return _ends(_PERIOD, text, [position])
    if variant == "on":
        on = _ON.match(text, position)
        if on is None:
            return []
        ends = _ends(_ON_DAY, text, [on.end()])
        for month in _ends(_ON_MONTH, text, [on.end()]):
            days = _ends(_DAY_OF_MONTH, text, [month])
            dated = [month, *days, *_ends([_DAY_SUFFIX], text, days)]
            ends += dated + _ends([_YEAR], text, dated)
        return ends
    return _ends((_ONE_END, _NOWADAYS, *_FOR), text, [position])


def _ends(patterns: Iterable[re.Pattern[str]], text: str, positions: Sequence[int]) -> list[int]:
    """Where each pattern ends when it matches at one of the positions."""
    return [match.end() for pattern in patterns for at in positions if (match := pattern.match(text, at))]


def _since_ends(text: str, since: re.Match[str] | None, starts: Sequence[int]) -> list[int]:
    r"""Where ``since\s+(?:\w+\s+){0,2}\w+`` can end: anywhere in the three words after "since". Inside a
    word, only where another time word starts counts (nothing else can follow a time word there), so the
    positions of a long word are not visited one by one."""
    ends: list[int] = []
    position = since.end() if since else len(text) + 1
    for _ in range(3):
        word = _WORD.match(text, position)
        if word is None:
            break
        ends += starts[bisect_right(starts, word.start()) : bisect_left(starts, word.end())]
        ends.append(word.end())
        gap = _SPACES.match(text, word.end())
        if gap is None:
            break
        position = gap.end()
    return ends
