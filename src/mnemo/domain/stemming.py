"""The one stemmer of mnemo's own text heuristics (categories, the offline extractor's word overlap).

Keyword search uses PostgreSQL's English stemmer instead (``to_tsvector('english', ...)``): that one
runs in the database, where the index is.
"""

from __future__ import annotations

from collections.abc import Mapping

_VOWELS = frozenset("aeiouy")
# Forms whose stem would be another word: "booked a flight" is not about books, "people's lives" not
# about where anyone lives.
_STEM_EXCEPTIONS: Mapping[str, str] = {
    **dict.fromkeys(("booked", "booking", "bookings"), "booked"),
    **dict.fromkeys(("hate", "hates", "hated", "hating"), "hate"),
    **dict.fromkeys(("plane", "planes"), "plane"),
    **dict.fromkeys(("wine", "wines"), "wine"),
    **dict.fromkeys(("meeting", "meetings"), "meeting"),
    "kidding": "kidding",
    "lives": "lives",
    "boxing": "boxing",
    "programming": "programming",
}


def stem(word: str) -> str:
    """A crude, deterministic stem: "painting", "painted", "paints" → "paint"; "dancing", "dance" → "danc";
    "families", "family" → "famili"."""
    word = word.lower().removesuffix("'s").removesuffix("'")
    if word in _STEM_EXCEPTIONS:
        return _STEM_EXCEPTIONS[word]
    if len(word) > 4 and word.endswith("ies"):
        word = word[:-2]
    elif len(word) > 5 and word.endswith("ing"):
        word = word[:-3]
    elif len(word) > 4 and word.endswith("ed") and not word.endswith("eed"):
        word = word[:-2]
    elif len(word) > 3 and word.endswith("s") and not word.endswith(("ss", "us", "is")):
        word = word[:-1]
    if len(word) > 3 and word[-1] == word[-2] and word[-1] not in _VOWELS:
        word = word[:-1]
    if len(word) > 3 and word.endswith("e"):
        word = word[:-1]
    if len(word) > 3 and word.endswith("y"):
        word = word[:-1] + "i"
    return word
