"""The offline extractor's text handling: a chat message cut into sentences, each sentence cleaned of
emoji, emoticons, fillers and trailing laughter or question tags.

Every pattern here sees user text of any length (a message is up to 32,000 characters), so each one runs
in linear time: no pattern is retried at every position of a long run of the characters it starts with,
and the ``$``-anchored tails are matched from a run's first character only (or found from the end).
"""

from __future__ import annotations

import re
from collections.abc import Iterator

__all__ = ["LONG_SENTENCE", "clean", "split_sentences"]

# Sentences longer than this are broken at ';', ',' and dashes; pieces still longer are not facts.
LONG_SENTENCE = 400

# ---------------------------------------------------------------- sentence splitting

_EMOJI_CHARS = (
    "\U0001f000-\U0001faff\u2300-\u23ff\u2600-\u27bf\u2b00-\u2bff\u3030\u303d\u3297\u3299\ufe0e\ufe0f\u200d\u20e3"
)
_EMOJI = re.compile(f"[{_EMOJI_CHARS}]+")
_EMOTICON = re.compile(r"(?<!\w)(?:[:;=]-?[()DPpO3/\\|]+|<3+|\^_*\^)(?!\w)")
# A candidate sentence end: terminal punctuation (plus closing quotes/brackets), or an emoji run,
# followed by whitespace or the end of the text. A match always takes a whole run (the lookahead fails
# anywhere inside one), so the lookbehinds only stop the search from starting again inside a run that
# did not end a sentence: without them "!" * 16000 + "x" took 16000²/2 steps.
_BOUNDARY = re.compile(f"(?:(?<![.!?…])[.!?…]+[\"'”’)\\]]*|(?<![{_EMOJI_CHARS}])[{_EMOJI_CHARS}]+)(?=\\s|$)")
# The whitespace before a separator is taken from the first character of its run only (an attempt from
# inside the run could have started at its first character, which came first): with a plain leading \s*,
# "A" + " " * 31998 + "a" was quadratic.
_LONG_SENTENCE_BREAK = re.compile(r"(?:(?<!\s)\s+)?(?:[;,]|\s[-–—]\s)\s*")
# Never the end of a sentence ("Mr. Smith", "e.g. painting").
_TITLE_ABBREVIATIONS = frozenset(
    {"mr", "mrs", "ms", "dr", "prof", "st", "sr", "jr", "vs", "e.g", "i.e", "eg", "ie", "approx", "cf", "mt"}
)
# The end of a sentence only when a capital letter follows ("at 7 a.m. then" vs "at 7 a.m. Then").
_OTHER_ABBREVIATIONS = frozenset({"etc", "a.m", "p.m", "am", "pm", "u.s", "u.k", "inc", "ltd", "co"})
# A token longer than every abbreviation is none, so the token before a dot is looked for this far back.
_ABBREVIATION_REACH = max(len(word) for word in _TITLE_ABBREVIATIONS | _OTHER_ABBREVIATIONS) + 1


def _is_false_boundary(text: str, segment_start: int, match: re.Match[str]) -> bool:
    if match.group()[0] != "." or len(match.group().rstrip("\"'”’)]")) != 1:
        return False
    # The token is what follows the last space or "(" of the segment (with neither, everything before the
    # dot, from the start of the text). Only a token shorter than _ABBREVIATION_REACH characters can be an
    # abbreviation or a single letter, so the separator is looked for within that reach only, and a longer
    # token is not copied: "a.\t" repeated 10,000 times searched and lower-cased the whole text at each dot.
    reach = max(segment_start, match.start() - _ABBREVIATION_REACH)
    token_start = max(text.rfind(" ", reach, match.start()), text.rfind("(", reach, match.start()))
    if token_start < 0 and match.start() >= _ABBREVIATION_REACH:
        return False  # the token is longer than any abbreviation
    token = text[token_start + 1 : match.start()].lower()
    if token in _TITLE_ABBREVIATIONS or (len(token) == 1 and token.isalpha()):
        return True
    following = text[match.end() : match.end() + 2].strip()
    return token in _OTHER_ABBREVIATIONS and (not following or not following[0].isupper())


def _raw_sentences(text: str) -> Iterator[str]:
    start = 0
    for match in _BOUNDARY.finditer(text):
        if _is_false_boundary(text, start, match):
            continue
        yield text[start : match.end()]
        start = match.end()
    yield text[start:]


def split_sentences(text: str) -> list[str]:
    """The sentences of a chat message, stripped; very long ones are broken at ';', ',' and dashes.

    A piece still longer than LONG_SENTENCE characters (a run-on paste, not a statement) is left out.
    """
    sentences: list[str] = []
    for raw in _raw_sentences(text):
        sentence = raw.strip()
        if len(sentence) > LONG_SENTENCE:
            pieces = _LONG_SENTENCE_BREAK.split(sentence)
            sentences.extend(piece for piece in pieces if piece and len(piece) <= LONG_SENTENCE)
        elif sentence:
            sentences.append(sentence)
    return sentences


# ---------------------------------------------------------------- cleaning

_TYPOGRAPHIC = str.maketrans({"’": "'", "‘": "'", "“": '"', "”": '"', "…": "...", "\u00a0": " "})
_WHITESPACE = re.compile(r"\s+")
_LEADING_FILLER = re.compile(
    r"^(?:thank(?:s|\s+you)(?:\s+(?:so|very)\s+much)?\s+for\s+[^,.!?]{1,40}[,!.]+\s*|"
    r"(?:oh+|ah+|aw+|hey+|hi+|hello|yeah+|yes+|yep|yup|nope|no|ok(?:ay)?|well|haha+|hah|lol|wow+|"
    r"hmm+|um+|uh+|sure|totally|absolutely|definitely|exactly|true|right|cool|great|awesome|nice|omg|"
    r"gosh|man|dude|thanks|thank\s+you|got\s+it|i\s+see|anyway|anyways|btw|by\s+the\s+way|so|and|but|"
    r"also|plus|honestly|guess\s+what|you\s+know)(?:\s+[A-Za-z]+)?\s*[,!.:;–—-]+\s*|"
    r"(?:oh|so|and|but|well|also|plus|anyway|btw)\s+(?=(?:i|i'm|i've|i'll|i'd|my|me|we|we're|we've|our|"
    r"it|it's|the|this|that|just|last|yesterday|today)\b))+",
    re.IGNORECASE,
)
# Trailing laughter, `[\s,]*(?:\b(?:lol|haha+|hehe+|xd)\b[\s!.]*)+$`, is found from the end of the text
# (see _strip_trailing_noise): as a regex it was tried at every position of a run of commas.
_NOISE_WORD = re.compile(r"lol|haha+|hehe+|xd", re.IGNORECASE)
_WORD_RUN = re.compile(r"\w+")
# "..., how about you?" after a statement: the statement stays a statement. The lookbehinds keep the
# search from starting inside a run of whitespace or of separators (a match starting there starts at
# the run's first character too, which is tried first).
_TRAILING_QUESTION_TAG = re.compile(
    r"(?<!\s)\s*(?<![,;:–—-])[,;:–—-]+\s*(?:(?:how|what)\s+about\s+you|and\s+you|you|right|isn't\s+it)\s*\?+$",
    re.IGNORECASE,
)


def _strip_trailing_noise(text: str) -> str:
    """``text`` without trailing laughter: the result of ``re.sub(r"[\\s,]*(?:\\b(?:lol|haha+|hehe+|xd)\\b
    [\\s!.]*)+$", "", text, flags=re.IGNORECASE)``, in one pass from the end.

    Each laughter word is a whole word (``\\b`` both sides) and only whitespace, "!" and "." may follow it,
    so the match is the longest run of such words ending the text, with the whitespace and commas before
    it.
    """
    chain_start = -1
    end = len(text)
    for word in reversed(list(_WORD_RUN.finditer(text))):
        after = text[word.end() : end]
        if not _NOISE_WORD.fullmatch(word.group()) or not all(c.isspace() or c in "!." for c in after):
            break
        chain_start = end = word.start()
    if chain_start < 0:
        return text
    while chain_start > 0 and (text[chain_start - 1].isspace() or text[chain_start - 1] == ","):
        chain_start -= 1
    return text[:chain_start]


def clean(sentence: str) -> str:
    """A sentence without emoji, emoticons, extra whitespace, leading fillers ("Oh wow,"), trailing
    laughter and trailing question tags ("..., how about you?")."""
    text = sentence.translate(_TYPOGRAPHIC)
    text = _EMOTICON.sub(" ", _EMOJI.sub(" ", text))
    text = _WHITESPACE.sub(" ", text).strip()
    text = _TRAILING_QUESTION_TAG.sub("", _strip_trailing_noise(text))
    return _LEADING_FILLER.sub("", text).strip()
