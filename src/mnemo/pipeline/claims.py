"""Claims: the (subject, attribute, value) a fact states, recognised by a small set of English patterns.

Offline supersede (no LLM) rests on this: "Alice works at Globex" replaces "Alice works at Acme" because
both claim the employer of Alice and the values differ. The rule set favours precision over recall, since a
wrong supersede hides a true memory from ``latest_only`` reads:

* A claim is only recognised at the start of a fact, in the shapes facts take once the speaker is named:
  ``<Subject> [now|currently|still|just...] <verb phrase> <value>`` or ``<Subject>'s <noun> is <value>``.
  Past, future, negated, hedged and "also" statements ("used to live in", "will move to", "no longer works
  at", "also works at") match no pattern, so they claim nothing.
* Values have a kind: places, employers and names must be capitalised ("lives in Paris", not "lives in a
  small flat"); ages are numbers; favourites and occupations are short phrases.
* A claim is ``whole`` when nothing but dates and time words follows it ("Alice moved to Berlin last month
  (May 2024)."). Only a whole claim may be superseded: "Alice lives in Paris with her two cats" also says
  something else that may still be true, so it stays current. Ages and relationship statuses are only
  recognised whole ("Alice is 30 minutes away" is no age).

Attributes: employer, occupation, residence, ``favorite <thing>``, age, name, ``<pet>'s name``, partner and
relationship status. Values compare case-insensitively, and a value that extends another ("Acme" / "Acme
Corp", "New York" / "New York City") counts as the same.

A fact may be a whole message (32,000 characters), so this runs in linear time: the rules match once, at
the start of the text, after its whitespace is collapsed to single spaces (no pattern re-reads a run of
spaces), and whether a claim is whole is read once through its tail (:mod:`mnemo.pipeline.claim_tail`).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from mnemo.pipeline.claim_tail import is_whole_tail

__all__ = ["Claim", "claims_in", "contradicts", "cues_for", "supersedes"]


@dataclass(frozen=True, slots=True)
class Claim:
    """One attribute of one subject, as a fact states it."""

    subject: str
    attribute: str
    value: str
    #: Nothing but dates and time words follow the claim in its fact.
    whole: bool

    @property
    def key(self) -> tuple[str, str]:
        return self.subject.casefold(), self.attribute


# ---------------------------------------------------------------- building blocks

# A subject: one to four capitalised words ("Alice", "User", "Mary Jane"), not a pronoun (a verbatim "I work
# at Acme" names nobody); "Alice's" stops before "'s".
_PRONOUNS = r"I|He|She|They|We|You|It|This|That|There|Everyone|Someone|Nobody"
_NAME_WORD = r"[A-Z][\w-]*(?:'(?!s\b)[\w-]+)?"
_SUBJECT = rf"(?!(?:{_PRONOUNS})\b)(?P<subject>{_NAME_WORD}(?:\s{_NAME_WORD}){{0,3}}?)"
_ADVERBS = r"(?:(?:now|currently|still|just|finally|recently|officially|actually|already)\s+)*"
# A capitalised token; inner dots ("U.S", "St. Mary's") are kept, a sentence's final dot is not.
_CAP = r"[A-Z](?:[\w'&-]|\.(?=\w))*(?:\.(?=\s+[A-Z])|(?<=\.[A-Z])\.)?"
_CONNECTOR = r"(?:of|de|del|da|do|du|la|le|am|y|&)"
_PROPER = rf"(?:the\s+)?{_CAP}(?:\s+(?:{_CONNECTOR}\s+)?{_CAP})*"
# Words that end a short phrase ("a nurse at ...", "a teacher since ...").
_PHRASE_STOP = (
    r"at|for|in|on|with|since|and|but|because|now|who|which|that|where|when|while|as|from|so|after|before|"
    r"until|these|lately|currently|again|too|last|this|next"
)
# "a bakery", "the local hospital": an employer named by a common noun must end in a workplace noun ("works
# at a fast pace" names no employer).
_WORKPLACES = (
    r"company|startup|start-up|firm|bank|hospital|clinic|school|university|college|bakery|restaurant|cafe|café|"
    r"shop|store|factory|agency|lab|laboratory|hotel|bar|pharmacy|library|museum|nonprofit|non-profit|charity|"
    r"warehouse|farm|gym|salon|studio|office|newspaper|magazine|supermarket|daycare|nursery|kindergarten|"
    r"airline|airport|consultancy|corporation|business|brewery|winery|garage|dealership|hospice|shelter|zoo|"
    r"theater|theatre|plant|mill|mine|firehouse|station|court|embassy|ministry|council|publisher|label"
)
_ARTICLE_PHRASE = rf"(?:a|an|the)\s+(?!same\b)(?:[a-z][\w'-]*\s+){{0,2}}(?:{_WORKPLACES})s?(?![\w'-])"
_ORG = rf"(?:{_PROPER}|{_ARTICLE_PHRASE})"
_NAME = rf"{_CAP}(?:\s+{_CAP})?"
# A short phrase (occupation): lower-case words up to a stop word or punctuation.
_SHORT = rf"[a-z][\w'-]*(?:\s+(?!(?:{_PHRASE_STOP})\b)[a-z][\w'-]*){{0,3}}"
# A favourite: anything up to punctuation, a parenthesis or a time word.
_FAVOURITE_VALUE = r"[^\s,;.!?()][^,;!?()]*?(?=\s*(?:[,;!?()]|\.(?:\s|$)|$)|\s+(?:now|these\s+days|lately|because)\b)"
_PARTNERS = r"husband|wife|partner|boyfriend|girlfriend|fianc[eé]e?|spouse"
_PETS = (
    r"dog|cat|puppy|kitten|pet|bird|parrot|hamster|rabbit|bunny|horse|fish|turtle|tortoise|snake|lizard|"
    r"guinea\s+pig|ferret"
)
_STATUSES = r"single|married|engaged|divorced|widowed|separated"


@dataclass(frozen=True, slots=True)
class _Rule:
    """A fact pattern: its named groups become claims (``group name → attribute``)."""

    pattern: re.Pattern[str]
    #: Named group → attribute; "favorite" and "pet" attributes are completed from the text.
    groups: tuple[str, ...]
    #: Lower-case strings one of which every text this rule matches contains (a prefilter, and the
    #: storage lookup of older memories that may state the same attribute).
    cues: tuple[str, ...]
    #: Only recognised when nothing but time words follow (ages, statuses).
    whole_only: bool = False


def _rule(body: str, groups: Sequence[str], cues: Sequence[str], *, whole_only: bool = False) -> _Rule:
    pattern = re.compile(rf"^{_SUBJECT}{body}")
    return _Rule(pattern, tuple(groups), tuple(cues), whole_only)


_WORK_CUES = ("work", "job", "employ", "hired", "joined")
_HOME_CUES = ("live", "living", "based", "reside", "moved", "relocated", "home")
_PARTNER_CUES = (
    "husband", "wife", "partner", "boyfriend", "girlfriend", "fianc", "spouse", "married", "engaged", "dating",
    "relationship",
)  # fmt: skip
_STATUS_CUES = ("single", "married", "engaged", "divorced", "widowed", "separated", "relationship")
_AGE_CUES = ("turned", "age", *(f" is {digit}" for digit in "123456789"))

_RULES: tuple[_Rule, ...] = (
    # employer and occupation
    _rule(
        rf"\s+{_ADVERBS}(?:works?|is\s+{_ADVERBS}working|has\s+been\s+working)"
        rf"(?:\s+as\s+(?:a|an)\s+(?P<occupation>{_SHORT}))?\s+(?:at|for)\s+(?P<employer>{_ORG})"
        rf"(?:\s+as\s+(?:a|an)\s+(?P<occupation2>{_SHORT}))?",
        ("occupation", "employer", "occupation2"),
        _WORK_CUES,
    ),
    _rule(
        rf"\s+{_ADVERBS}(?:works?|is\s+{_ADVERBS}working)\s+as\s+(?:a|an)\s+(?P<occupation>{_SHORT})",
        ("occupation",),
        _WORK_CUES,
    ),
    _rule(
        rf"\s+{_ADVERBS}(?:started\s+(?:working|work|a\s+(?:new\s+)?job|(?:a\s+)?new\s+job)|"
        rf"got\s+(?:a\s+(?:new\s+)?job|hired)|is\s+{_ADVERBS}employed)\s+(?:at|for|with|by)\s+(?P<employer>{_ORG})"
        rf"(?:\s+as\s+(?:a|an)\s+(?P<occupation>{_SHORT}))?",
        ("employer", "occupation"),
        _WORK_CUES,
    ),
    _rule(
        rf"\s+{_ADVERBS}joined\s+(?P<employer>{_PROPER})\s+as\s+(?:a|an)\s+(?P<occupation>{_SHORT})",
        ("employer", "occupation"),
        _WORK_CUES,
    ),
    _rule(
        rf"'s\s+(?:new\s+|current\s+)?(?:employer\s+is|job\s+is\s+at|workplace\s+is)\s+(?P<employer>{_ORG})",
        ("employer",),
        _WORK_CUES,
    ),
    _rule(
        rf"'s\s+(?:new\s+|current\s+)?(?:profession|occupation|job\s+title)\s+is\s+(?:(?:a|an)\s+)?"
        rf"(?P<occupation>{_SHORT})",
        ("occupation",),
        ("profession", "occupation", "job title"),
    ),
    # residence
    _rule(
        rf"\s+{_ADVERBS}(?:lives?|resides?|is\s+{_ADVERBS}(?:living|based)|has\s+been\s+living)\s+in\s+"
        rf"(?P<residence>{_PROPER})",
        ("residence",),
        _HOME_CUES,
    ),
    _rule(
        rf"\s+(?:has\s+)?{_ADVERBS}(?:moved|relocated)\s+(?:back\s+)?(?:from\s+{_PROPER}\s+)?to\s+"
        rf"(?P<residence>{_PROPER})",
        ("residence",),
        _HOME_CUES,
    ),
    _rule(rf"'s\s+(?:new\s+)?home\s+is\s+(?:now\s+)?in\s+(?P<residence>{_PROPER})", ("residence",), _HOME_CUES),
    # favourites
    _rule(
        r"'s\s+(?:(?:new|current|all-time|absolute)\s+)?favou?rite\s+"
        r"(?P<thing>(?!(?:thing|things|part|way|time|moment|memory|day|one|ones)\b)[a-z-]+"
        r"(?:\s+(?!(?:about|of|to|in|for|with|at|on|from|when|is|are)\b)[a-z-]+){0,2})"
        rf"\s+(?:is|are)\s+{_ADVERBS}(?P<favorite>{_FAVOURITE_VALUE})",
        ("favorite",),
        ("favo",),
    ),
    # age
    _rule(
        rf"(?:\s+(?:is|{_ADVERBS}turned)\s+|'s\s+age\s+is\s+)(?P<age>\d{{1,3}})(?!\d|[.,]\d)",
        ("age",),
        _AGE_CUES,
        whole_only=True,
    ),
    # names
    _rule(
        rf"'s\s+(?:(?P<which>first|last|full|middle)\s+)?name\s+is\s+(?P<name>{_NAME})",
        ("name",),
        ("name",),
    ),
    _rule(
        rf"'s\s+(?P<pet>{_PETS})(?:'s\s+name\s+is|\s+is\s+(?:called|named))\s+(?P<pet_name>{_NAME})",
        ("pet_name",),
        tuple(_PETS.replace(r"\s+", " ").split("|")),
    ),
    # partner and relationship status
    _rule(
        rf"'s\s+(?:{_PARTNERS})(?:'s\s+name)?\s+is\s+(?:called\s+|named\s+)?(?P<partner>{_NAME})",
        ("partner",),
        _PARTNER_CUES,
    ),
    _rule(
        rf"\s+(?:is\s+{_ADVERBS}|{_ADVERBS}got\s+)(?P<status>married|engaged)\s+to\s+(?P<partner>{_NAME})",
        ("status", "partner"),
        _PARTNER_CUES,
    ),
    _rule(
        rf"\s+is\s+{_ADVERBS}(?:dating|seeing|(?:in\s+a\s+relationship|together)\s+with)\s+(?P<partner>{_NAME})",
        ("partner",),
        _PARTNER_CUES,
    ),
    _rule(
        rf"\s+(?:is\s+{_ADVERBS}|{_ADVERBS}got\s+)(?P<status>{_STATUSES}|in\s+a\s+relationship)(?![\w-])",
        ("status",),
        _STATUS_CUES,
        whole_only=True,
    ),
)


def _cues_by_family(rules: Sequence[_Rule]) -> dict[str, tuple[str, ...]]:
    cues: dict[str, dict[str, None]] = {}
    for rule in rules:
        for group in rule.groups:
            cues.setdefault(group.removesuffix("2"), {}).update(dict.fromkeys(rule.cues))
    return {family: tuple(found) for family, found in cues.items()}


_CUES_BY_FAMILY = _cues_by_family(_RULES)
_HEDGE = re.compile(
    r"^(?:not|never|no|probably|maybe|perhaps|possibly|kind\s+of|sort\s+of|also|either|neither|one\s+of|among|"
    r"between|hard|too|unknown|unclear)\b",
    re.IGNORECASE,
)
_SPELLINGS = {"colour": "color", "colours": "colors", "flavour": "flavor", "flavours": "flavors"}
_PET_KINDS = {"puppy": "dog", "kitten": "cat", "bunny": "rabbit", "tortoise": "turtle"}
_MAX_AGE = 130


def _attribute(group: str, match: re.Match[str]) -> str:
    if group == "favorite":
        words = [_SPELLINGS.get(word, word) for word in match["thing"].lower().split()]
        return "favorite " + " ".join(words)
    if group == "pet_name":
        kind = " ".join(match["pet"].lower().split())
        return f"{_PET_KINDS.get(kind, kind)}'s name"
    if group == "name" and match["which"]:
        return f"{match['which'].lower()} name"
    return group.removesuffix("2")


def _usable(group: str, value: str) -> bool:
    if not value or _HEDGE.match(value):
        return False
    if group == "age":
        return 0 < int(value) <= _MAX_AGE
    return True


def claims_in(text: str) -> list[Claim]:
    """The claims a fact makes (most facts make none). Deterministic; English only."""
    text = " ".join(text.split())
    lowered = text.lower()
    claims: list[Claim] = []
    for rule in _RULES:
        if not any(cue in lowered for cue in rule.cues):
            continue
        match = rule.pattern.match(text)
        if match is None:
            continue
        whole = is_whole_tail(text, match.end())
        if rule.whole_only and not whole:
            continue
        subject = match["subject"]
        for group in rule.groups:
            value = (match[group] or "").strip()
            if _usable(group, value):
                claims.append(Claim(subject, _attribute(group, match), value, whole))
    return _unique(claims)


def _unique(claims: Iterable[Claim]) -> list[Claim]:
    """One claim per attribute: the first rule that recognised it wins."""
    seen: dict[tuple[str, str], Claim] = {}
    for claim in claims:
        seen.setdefault(claim.key, claim)
    return list(seen.values())


def _tokens(value: str) -> list[str]:
    tokens = re.findall(r"[\w'&]+", value.casefold())
    return tokens[1:] if tokens[:1] in (["the"], ["a"], ["an"]) else tokens


def same_value(one: str, other: str) -> bool:
    """Case-insensitive equality, where a value extending the other ("Acme Corp" / "Acme") is the same."""
    a, b = _tokens(one), _tokens(other)
    shorter, longer = (a, b) if len(a) <= len(b) else (b, a)
    return bool(shorter) and longer[: len(shorter)] == shorter


def _conflicting(newer: Sequence[Claim], older: Sequence[Claim], *, older_whole: bool) -> bool:
    by_key = {claim.key: claim for claim in newer}
    for claim in older:
        if older_whole and not claim.whole:
            continue
        other = by_key.get(claim.key)
        if other is not None and not same_value(other.value, claim.value):
            return True
    return False


def supersedes(newer: str, older: str) -> bool:
    """Whether the fact ``newer`` replaces the fact ``older``: the same subject and attribute with another
    value, where the older fact's claim is the whole of what it says."""
    return _conflicting(claims_in(newer), claims_in(older), older_whole=True)


def contradicts(one: str, other: str) -> bool:
    """Whether two facts give the same attribute of the same subject different values (whole or not)."""
    return _conflicting(claims_in(one), claims_in(other), older_whole=False)


def cues_for(claims: Sequence[Claim]) -> list[str]:
    """Lower-case strings one of which every fact claiming one of these attributes contains."""
    return list(dict.fromkeys(cue for claim in claims for cue in _CUES_BY_FAMILY[_family(claim.attribute)]))


def _family(attribute: str) -> str:
    """The rule group behind an attribute ("favorite color" → "favorite", "dog's name" → "pet_name")."""
    if attribute.startswith("favorite "):
        return "favorite"
    if attribute.endswith("'s name"):
        return "pet_name"
    if attribute.endswith("name"):
        return "name"
    return attribute
