"""Whether the sentence around a time expression reads as past tense ("on Monday", "in 3 days").

The sentence is the text between the sentence ends (".", "!", "?") around the expression, at most
_CONTEXT_CHARS either side of it. It reads as past when it has a past marker ("went", "yesterday", a word
in "-ed") and no future marker ("will", "going to", "next"): future markers win.

A text may hold thousands of such expressions (one every ten characters in 32,000), each with its own
window of up to ~330 characters, so searching every window costs ~330 regex positions per expression.
:class:`Tense` instead finds every marker of the text once and answers each window from those, exactly as
a search of the window's own text would (see :meth:`_Markers.found_in` for the window's two edges).
"""

from __future__ import annotations

import re
from bisect import bisect_left
from collections.abc import Sequence

__all__ = ["Tense"]

_FUTURE_MARKERS = re.compile(
    r"\b(?:will|won't|shall|gonna|going\s+to|plan(?:s|ning)?\s+(?:to|on)|hop(?:e|ing)\s+to|about\s+to|"
    r"want\s+to|can't\s+wait|upcoming|coming\s+up|next|tomorrow)\b|['’]ll\b",
    re.IGNORECASE,
)
_PAST_MARKERS = re.compile(
    r"\b(?:was|were|did|had|went|got|took|made|ran|met|saw|came|gave|found|won|lost|bought|spent|left|"
    r"began|built|wrote|learnt|ago|yesterday|last)\b|\b\w{2,}[^e\W]ed\b",
    re.IGNORECASE,
)
# Where a marker may be: each marker holds one of these words (its first; "ed" for a word in "-ed"). The
# first lookahead only tests a character (their first letters), which halves the time of the scan.
_FUTURE_WORDS = re.compile(
    r"(?=[wsgphacunt'’])(?=will|won't|shall|gonna|going|plan|hop|about|want|can't|upcoming|coming|next|tomorrow|"
    r"['’]ll)",
    re.IGNORECASE,
)
_PAST_WORDS = re.compile(
    r"(?=[wdhgtmrscfbleay])(?=was|were|did|had|went|got|took|made|ran|met|saw|came|gave|found|won|lost|bought|"
    r"spent|left|began|built|wrote|learnt|ago|yesterday|last|ed)",
    re.IGNORECASE,
)
# A marker spans at most this many words ("can't wait": "can", "t", "wait"); see _Markers.found_in.
_MARKER_WORDS = 3
_SENTENCE_END = re.compile(r"[.!?]")
# How far around an expression its tense is looked for.
_CONTEXT_CHARS = 160
_WORD = re.compile(r"\w+")


class _Markers:
    """Where one marker pattern matches in a text.

    A marker starts at the first character of a word, or at an apostrophe ("'ll"), and from a given start
    it can end in one place only (the end of its last word). So ``starts`` and ``ends`` list every match
    of the whole text, and ``min_end_from[i]`` is the smallest end of the matches from ``starts[i]`` on
    (matches never nest, so that is the next one's end; the minimum does not rely on it).
    """

    def __init__(self, pattern: re.Pattern[str], words: re.Pattern[str], text: str, word_starts: Sequence[int]) -> None:
        self._pattern = pattern
        # Where one of the marker's words starts (overlapping ones too): a window with none has no marker.
        self._words = [match.start() for match in words.finditer(text)]
        self._at_end = re.compile(rf"(?:{pattern.pattern})\Z", pattern.flags)
        self._word_starts = word_starts
        self._starts: list[int] | None = None  # built when a window first has one of the words
        self._min_end_from: list[int] = []

    def _index(self, text: str) -> list[int]:
        """Where the matches start (``_min_end_from``: see the class docstring)."""
        if self._starts is None:
            # No marker starts inside another one, so the non-overlapping matches are all of them.
            matches = list(self._pattern.finditer(text))
            self._starts = [match.start() for match in matches]
            ends = [match.end() for match in matches]
            self._min_end_from = [*ends, len(text) + 1]
            for index in range(len(ends) - 1, -1, -1):
                self._min_end_from[index] = min(ends[index], self._min_end_from[index + 1])
        return self._starts

    def found_in(self, text: str, lo: int, hi: int) -> bool:
        """``pattern.search(text[lo:hi]) is not None``, without searching the window.

        The window's own text differs from the whole text at its edges only, where it cuts a word in two:
        at ``lo`` the cut word starts a word ("xwill|" → "will"), at ``hi`` it ends one ("|will|ow" →
        "will"). Any other match of the window sees the same characters as in the whole text (a marker
        ends with a word character, so one ending at an uncut ``hi`` is a match of the text too), so it is
        in the index. A match starting in a cut word at ``lo`` is looked for in the window itself; one
        ending in a cut word at ``hi`` starts at one of the window's last words (or the apostrophe of "'ll"
        before the last one), and only there is it tried.
        """
        word = bisect_left(self._words, lo)
        if word == len(self._words) or self._words[word] >= hi:
            return False
        first = lo
        if lo > 0 and _is_word(text[lo - 1]) and _is_word(text[lo : lo + 1]):
            # A marker starting in the cut word ends before the fourth word of the window.
            fourth = bisect_left(self._word_starts, lo) + _MARKER_WORDS - 1
            end = min(hi, self._word_starts[fourth]) if fourth < len(self._word_starts) else hi
            if self._pattern.match(text[lo:end]):
                return True
            first = lo + 1
        next_match = bisect_left(self._index(text), first)
        if self._min_end_from[next_match] <= hi:
            return True
        if not (first < hi < len(text) and _is_word(text[hi - 1]) and _is_word(text[hi])):
            return False
        last = bisect_left(self._word_starts, hi)
        candidates = self._word_starts[max(last - _MARKER_WORDS, bisect_left(self._word_starts, first)) : last]
        if candidates and candidates[-1] - 1 >= first and text[candidates[-1] - 1] in "'’":
            candidates = [*candidates, candidates[-1] - 1]
        return any(self._at_end.match(text, start, hi) for start in candidates)


def _is_word(char: str) -> bool:
    """Whether ``char`` is one character that ``\\w`` matches."""
    return char.isalnum() or char == "_"


class Tense:
    """The tense of the sentences of one text, for its time expressions."""

    def __init__(self, text: str) -> None:
        self._text = text
        self._sentence_ends = [match.start() for match in _SENTENCE_END.finditer(text)]
        word_starts = [match.start() for match in _WORD.finditer(text)]
        self._future = _Markers(_FUTURE_MARKERS, _FUTURE_WORDS, text, word_starts)
        self._past = _Markers(_PAST_MARKERS, _PAST_WORDS, text, word_starts)

    def reads_as_past(self, start: int, end: int) -> bool:
        """Whether the sentence holding ``text[start:end]`` reads as past tense (future markers win over
        past ones; a sentence with neither reads as present or future)."""
        lo, hi = self._sentence_around(start, end)
        return not self._future.found_in(self._text, lo, hi) and self._past.found_in(self._text, lo, hi)

    def _sentence_around(self, start: int, end: int) -> tuple[int, int]:
        """Where the sentence holding text[start:end] begins and ends, at most _CONTEXT_CHARS either side:
        after the last ".", "!" or "?" before ``start``, up to the first one from ``end`` on."""
        lower, upper = max(0, start - _CONTEXT_CHARS), min(len(self._text), end + _CONTEXT_CHARS)
        before = bisect_left(self._sentence_ends, start) - 1
        after = bisect_left(self._sentence_ends, end)
        lo = self._sentence_ends[before] + 1 if before >= 0 and self._sentence_ends[before] >= lower else lower
        hi = self._sentence_ends[after] if after < len(self._sentence_ends) else upper
        return lo, min(hi, upper)
