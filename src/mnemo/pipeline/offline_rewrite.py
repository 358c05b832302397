"""The offline extractor's rewriting: a kept sentence made into a fact that names its speaker.

"I'm moving" → "Alice is moving", "my" → "Alice's"; a subject-less fragment gets the name as its subject
("Just finished a marathon" → "Alice just finished a marathon"); with no first-person-singular pronoun to
rewrite, "Alice: " is prefixed. Relative dates are resolved against the observation time, and the fact
ends with one full stop. Otherwise the wording is the speaker's own.
"""

from __future__ import annotations

import re
from datetime import datetime

from mnemo.domain.relative_dates import resolve_relative_dates
from mnemo.pipeline.offline_rules import ELIDED_START, FIRST_SINGULAR, STATE_WORDS, Sentence

__all__ = ["TERMINAL", "fact_text", "lower_first", "normalise_i"]

_LOWERCASE_I = re.compile(r"(?<![\w'-])i(?=(?:'m|'ve|'ll|'d)?\s)")
_QUOTED_END = re.compile(r"[.!?][\"')]+$")
# Trailing punctuation and whitespace. Tried from the first character of a run only (the lookbehind): a
# match starting inside a run also starts at its first character, and "," * 400 + "x" took 400²/2 steps.
TERMINAL = re.compile(r"(?<![\s.!,;:…-])[\s.!,;:…-]+$")


def normalise_i(text: str) -> str:
    """Chat-style lowercase "i" / "i'm" as the pronoun."""
    return _LOWERCASE_I.sub("I", text)


#: Verbs a speaker says of themself in the present ("I work as …"): they take the third person when "I" becomes a
#: name ("User works as …"). Only these: a past form ("I went") or a modal ("I can") stays as it is.
_PRESENT_VERBS = frozenset(
    "adore agree appreciate attend bake believe belong build camp care climb coach collect commute cook dance do"
    " draw drink drive eat enjoy exercise feel fish garden go grow guess hate help hike hope keep knit know lead"
    " like listen live love manage meditate mentor miss need own paint plan play practice practise prefer raise"
    " read remember rent ride run see sew share shop ski sing sleep speak spend stay struggle study support surf"
    " swim teach think train travel try understand use visit volunteer wake walk want watch wish wonder work"
    " worry write".split()
)
#: "I", the adverbs between it and its verb, and the verb ("I really love", "I don't").
_I_VERB = re.compile(
    r"(?<![\w'-])I\s+((?:(?:really|also|just|still|usually|often|always|never|now|currently|actually|mostly|"
    r"sometimes|totally|absolutely|definitely|mainly|only|even)\s+)*)([a-z]+(?:n't)?)\b(?!')"
)


def third_person(verb: str) -> str:
    """``verb`` as it agrees with "she" or a name, when it is one of :data:`_PRESENT_VERBS` (else unchanged)."""
    if verb == "don't":
        return "doesn't"
    if verb not in _PRESENT_VERBS:
        return verb
    if verb in ("do", "go") or verb.endswith(("s", "sh", "ch", "x", "z")):
        return verb + "es"
    if len(verb) > 1 and verb.endswith("y") and verb[-2] not in "aeiou":
        return verb[:-1] + "ies"
    return verb + "s"


def _rewrite_first_person(text: str, name: str) -> tuple[str, int]:
    # The verb after "I" first takes the third person ("I love" → "I loves"), then "I" becomes the name; once the
    # name is written, "my" becomes "their" ("Sam broke their wrist").
    text = _I_VERB.sub(lambda match: f"I {match[1]}{third_person(match[2])}", text)
    named = False

    def replace(match: re.Match[str]) -> str:
        nonlocal named
        group = match.lastgroup
        if group == "poss" and named and match[0].lower() == "my":
            return "their"
        named = True
        if group == "am":
            return f"{name} is"
        if group == "have":
            return f"{name} has"
        if group == "will":
            return f"{name} will"
        if group == "would":
            return f"{name} would"
        if group == "poss":
            return f"{name}'s"
        return name

    return FIRST_SINGULAR.subn(replace, text)


def lower_first(text: str) -> str:
    first = text.split(" ", 1)[0]
    if first.isupper() and len(first) > 1:
        return text
    return text[:1].lower() + text[1:]


def _elided_auxiliary(verb: str) -> str:
    """What goes between the inserted name and a subject-less fragment: "is excited", "has been"."""
    verb = verb.lower()
    if verb == "been":
        return "has "
    if verb in STATE_WORDS or verb.endswith("ing"):
        return "is "
    return ""


def _with_subject(sentence: Sentence, name: str) -> str:
    """The sentence naming its speaker: as subject of a fragment, in place of "I"/"my", or as a prefix."""
    if sentence.elided:
        match = ELIDED_START.match(sentence.text)
        fragment = lower_first(sentence.text)
        if match is not None:  # its verb agrees with the name put before it ("Love hiking" → "… loves hiking")
            verb = third_person(match["verb"].lower())
            if verb != match["verb"].lower():
                fragment = fragment[: match.start("verb")] + verb + fragment[match.end("verb") :]
        text, _ = _rewrite_first_person(fragment, name)
        return f"{name} {_elided_auxiliary(match['verb'] if match else '')}{text}"
    text, count = _rewrite_first_person(sentence.text[:1].upper() + sentence.text[1:], name)
    return text if count else f"{name}: {text}"


def _finish(text: str) -> str:
    text = TERMINAL.sub("", text)
    return text if _QUOTED_END.search(text) else text + "."


def fact_text(sentence: Sentence, name: str, observed_at: datetime) -> str:
    """The fact a kept sentence states, naming ``name`` and with its relative dates resolved."""
    return _finish(resolve_relative_dates(_with_subject(sentence, name), observed_at))
