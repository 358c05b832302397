"""The offline extractor's fact rules: whether a cleaned sentence says something about its speaker.

A sentence is a fact when it has a first-person anchor ("I", "my", "we" not meant as people in general) or
is a subject-less fragment ("Just finished a marathon!"), is neither a question, a pleasantry nor a reaction
to the other speaker, and has at least one content word beyond small talk (the word lists below).

A plan the speakers make together is a fact when it says when ("Let's paint next Saturday!"); without a time
it stays a suggestion ("Let's do it!").

A user's statement about someone or something else ("It was Matt Patterson.", "The doctor said it's not too
serious.") is a fact too when it names something (a capitalised name inside the sentence, or a number) and
has two content words, or names nothing and has four: what a person tells is what they are later asked about.

The sentences judged here are at most LONG_SENTENCE (400) characters (see ``offline_sentences``); every
pattern is also linear in its input on its own: anchored at the start, or starting only at a word
boundary with bounded alternatives.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date

from mnemo.domain.relative_dates import find_dates
from mnemo.domain.stemming import stem

__all__ = [
    "ELIDED_START",
    "FIRST_SINGULAR",
    "STATE_WORDS",
    "STOP_WORDS",
    "WEAK_WORDS",
    "Sentence",
    "content_words",
    "judge",
]

_QUESTION_START = re.compile(
    r"^(?:(?:what|why|how|when|where|who|whom|which|whose)(?:'s|\s+(?:do|does|did|are|is|was|were|have|has|"
    r"can|could|would|will|should|about|else)\b)|(?:do|does|did|are|is|was|were|have|has|can|could|would|"
    r"will|should|shall|may|might|wanna|want)\s+(?:you|we|they|it|he|she|u|ya|anyone|anybody|there)\b)",
    re.IGNORECASE,
)
_FILLER_START = re.compile(
    r"^(?:thank(?:s|\s+you)\b(?!\s+to\b)|congrat|good\s+luck|best\s+of\s+luck|sounds?\b|"
    r"glad\s+(?:you|to\s+hear|that\s+you|it)|hope\s+(?:you|it|that|all|everything)|"
    r"(?:nice|great|good|so\s+good)\s+to\s+(?:meet|hear|see|chat|talk|know)|let\s+me\s+know|take\s+care|"
    r"see\s+you|talk\s+(?:to\s+you\s+)?(?:soon|later)|have\s+(?:a|an|fun)\b|bye|goodbye|"
    r"good\s+(?:morning|night|evening|afternoon)|keep\s+(?:it\s+up|up|going|me\s+posted)|you\s+got\s+this|"
    r"me\s+too|same\s+here|lucky\s+you|can'?t\s+wait\s+to\s+(?:hear|see)|feel\s+free|my\s+pleasure|"
    r"no\s+problem|you'?re\s+welcome|anytime|what\s+an?\b|how\s+(?:cool|nice|great|awesome|fun|lovely|sweet)|"
    # acknowledgements ("Noted.", "Got it.", "I'll remember that.")
    r"(?:duly\s+)?noted\b|got\s+it\b|understood\b|will\s+do\b|"
    r"i(?:'ll|\s+will|'ve|\s+have)\s+(?:remember(?:ed)?|note[ds]?|made\s+a\s+note\s+of)\s+(?:that|this|it)\s*[.!]*$|"
    # suggestions and advice to the other speaker
    r"let's\b|(?:stay|keep|find|start|try|take|make|go|check|give|let|tell|show|send|remind|don't|remember|"
    r"enjoy|be|hang|stop|consider|focus|embrace|trust|treat|listen|imagine|look\s+at)\b)",
    re.IGNORECASE,
)
_REACTION_TO_OTHER = re.compile(
    r"\b(?:(?:proud|happy|glad|excited|thrilled|sorry|rooting|impressed)\s+(?:of|for|about|by|with)|"
    r"(?:glad|lucky|grateful|thankful|blessed)\s+to\s+have|bet)\s+(?:you|your)\b",
    re.IGNORECASE,
)
_ADDRESSES_OTHER = re.compile(r"^(?:you|your|you're|you've|you'll|you'd|yours)\b", re.IGNORECASE)
FIRST_SINGULAR = re.compile(
    r"(?<![\w'-])(?:(?P<am>I\s+am|I'm)|(?P<have>I\s+have|I've)|(?P<will>I'll)|(?P<would>I'd)|(?P<i>I)"
    r"|(?P<poss>[Mm]y|MY|[Mm]ine)|(?P<obj>[Mm]e|ME|[Mm]yself))(?![\w'-]|\.\w)"
)
_SUBJECT_I = re.compile(r"(?<![\w'-])I(?!\.\w)(?![\w-])")
_FIRST_PLURAL = re.compile(r"(?<![\w'-])(?:[Ww]e|[Oo]ur|[Oo]urs)(?![\w-])")
# "we" as people in general ("when we ...", "we all should ...") does not make a statement personal.
_GENERIC_WE = re.compile(
    r"\b(?:when|if|how|what)\s+we\b|\bwe\s+(?:can|could|should|must|need|might|may)\b", re.IGNORECASE
)
ELIDED_START = re.compile(
    r"^(?P<adverbs>(?:(?:just|finally|recently|also|already|officially|actually|really|still|"
    r"totally|so|super|definitely|currently|now|slowly|even)\s+)*)(?P<verb>[A-Za-z]+)\b(?!')",
    re.IGNORECASE,
)
_CLAUSE_END = re.compile(r"[,;:–—]|\s-\s")
_WORD = re.compile(r"[a-z0-9]+(?:'[a-z]+)?")
# ", Alice!" at the end addresses someone: the name is no content. Linear despite the "$": it starts only
# at a comma and reads one name and the whitespace and punctuation after it.
_TRAILING_VOCATIVE = re.compile(r",\s*[A-Z][a-z]+\s*[.!?]*$")
# A name inside a sentence (a capitalised word after another word) or a number: what makes a report informative.
_NAMED = re.compile(r"(?<=[\w,;:] )(?:[A-Z][a-z]+|[A-Z]{2,})\b|\d")
# Names that address the other speaker, not name a subject: "Hey Mel!", "Oof, Sam, so embarrassing".
_VOCATIVE = re.compile(
    r"^(?:hey|hi|hello|oh|wow|yeah|yes|yay|aww*|ah|haha|omg|ok|okay|sure|dear|thanks|congrats)\b[\s,!.]*"
    r"[A-Z][a-z]+\b|,\s*[A-Z][a-z]+(?=\s*(?:[,.!?]|$))",
    re.IGNORECASE,
)
# A plan made together: a fact when it says when (find_dates), else a suggestion like any other "let's".
_PLAN_START = re.compile(r"^let'?s\b", re.IGNORECASE)
# find_dates resolves against a day; any day tells whether a sentence names a time at all.
_ANY_DAY = date(2000, 1, 1)
_REPORT_NAMED_CONTENT = 2
_REPORT_CONTENT = 4
_YOU = re.compile(r"\b(?:you|your|yours|you're|you've|you'll|you'd|yourself)\b", re.IGNORECASE)

_IRREGULAR_PAST = frozenset(
    {
        "went", "got", "made", "took", "bought", "saw", "met", "ran", "won", "had", "found", "left", "gave",
        "came", "began", "wrote", "built", "sold", "lost", "spent", "caught", "brought", "taught", "felt",
        "heard", "kept", "flew", "drove", "ate", "swam", "became", "told", "sent", "paid", "quit", "fell",
        "grew", "threw", "wore", "sang", "knew", "held", "led", "slept", "chose", "broke", "forgot", "rode",
        "hung", "drew", "did", "tried", "moved", "dug", "stood", "sat", "shot", "fought",
    }
)  # fmt: skip
# Subject-less fragments starting with one of these get "<Name> is ...".
STATE_WORDS = frozenset(
    {
        "excited", "stoked", "pumped", "thrilled", "happy", "glad", "proud", "tired", "exhausted", "busy",
        "ready", "nervous", "stressed", "worried", "sad", "sorry", "grateful", "thankful", "blessed", "lucky",
        "interested", "obsessed", "addicted", "hooked", "engaged", "married", "pregnant", "retired",
        "loving", "enjoying", "looking", "heading", "planning", "working", "learning", "training", "hoping",
        "thinking", "trying", "getting", "taking", "reading", "watching", "feeling",
    }
)  # fmt: skip
# "Reading helps me relax": a gerund subject, not a subject-less fragment.
_GERUND_PREDICATE = frozenset(
    {
        "is", "was", "has", "have", "had", "can", "could", "will", "would", "helps", "helped", "makes",
        "made", "gives", "gave", "keeps", "kept", "brings", "brought", "really", "always", "seems", "sounds",
        "feels", "takes", "took", "lets", "allows", "becomes", "became", "must", "might", "may", "should",
        "does", "did", "isn't", "wasn't", "'s", "reminds", "means", "requires", "needs", "teaches",
    }
)  # fmt: skip
_NOT_PAST = frozenset({"indeed", "hundred", "sacred", "kindred", "wicked", "naked", "beloved"})

STOP_WORDS = frozenset(
    """
    a an the and or but so if then than that this these those there here it it's its itself to of in on
    at by for with from about as into onto over under up down out off again too very just really quite
    also even still already yet ever never not no nor only own same such more most much many some any
    all both each few other lot lots bit i i'm i've i'll i'd me my mine myself we we're we've we'll we'd
    us our ours ourselves you you're you've you'll you'd your yours yourself yourselves he he's him his
    she she's her hers they they're they've them their theirs what what's which who who's whom whose
    when where why how is am are was were be been being have has had having do does did doing done will
    would shall should can could may might must can't won't don't doesn't didn't isn't aren't wasn't
    weren't haven't hasn't hadn't couldn't wouldn't shouldn't let let's get gets got getting go goes going
    gone went make made one ones thing things stuff something anything everything nothing way lot like
    well now today yesterday tomorrow tonight always sometimes often oh yeah yes ok okay sure maybe
    definitely totally absolutely actually basically literally probably kinda sorta gonna wanna gotta
    because since while though although till until via per
    """.split()
)
# Small-talk vocabulary: reactions, feelings without an object, praise. Not content on their own.
WEAK_WORDS = frozenset(
    """
    love loved loves like liked likes happy glad great good awesome amazing cool nice fun wonderful
    fantastic sweet lovely beautiful proud sorry thanks thank appreciate appreciated agree think thought
    know knew guess hope hoping wish wait see seen saw mean means meant feel feels felt sure super
    pretty interesting exciting excited thrilled stoked pumped haha wow right true same gonna say said
    tell told hear heard understand understood believe bet inspiring inspired inspiration impressed
    impressive incredible brave strong admire admired support supported supportive help helped helps
    hard tough cute huge big real really totally blast keep need needed want wanted ready tired busy
    fine okay bad sad nervous worried stressed day days time times moment moments everyone anyone
    someone people person life world much lot lots rock special important meaningful grateful thankful
    blessed lucky miss missed care cares caring enjoy enjoyed enjoying imagine feeling better bring
    brings joy reminds remind reminded deal chat talk talking share sharing congrats congratulations
    """.split()
)


@dataclass(frozen=True, slots=True)
class Sentence:
    """A cleaned sentence judged worth keeping, with what its rewrite needs."""

    text: str
    elided: bool
    content: frozenset[str]
    #: Stage directions joined to it ("...; Alice shares a photo of a lake").
    directions: int = 0


def _tokens(text: str) -> list[str]:
    return _WORD.findall(text.lower())


def content_words(text: str) -> frozenset[str]:
    body = _TRAILING_VOCATIVE.sub("", text)
    stems = (stem(word) for word in _tokens(body) if word not in STOP_WORDS and word not in WEAK_WORDS)
    return frozenset(stem for stem in stems if stem not in WEAK_WORDS)


def _elided_fragment(text: str) -> bool:
    """A subject-less statement such as "Just finished a marathon" or "Excited to start a new job"."""
    match = ELIDED_START.match(text)
    if match is None:
        return False
    verb = match["verb"].lower()
    if verb.endswith("ing") and _has_predicate(text, match.end()):
        return False
    if verb in _IRREGULAR_PAST or verb in STATE_WORDS or verb == "been":
        return True
    if verb.endswith("ing") and len(verb) > 5:
        return bool(match["adverbs"])
    return len(verb) > 4 and verb.endswith("ed") and verb not in _NOT_PAST


def _has_predicate(text: str, position: int) -> bool:
    """Whether the first clause after an opening -ing word has its own verb ("Reading helps me")."""
    clause = _CLAUSE_END.split(text[position:], maxsplit=1)[0]
    return any(word in _GERUND_PREDICATE for word in _tokens(clause))


def _is_question_or_filler(text: str) -> bool:
    if text.endswith("?") or _REACTION_TO_OTHER.search(text):
        return True
    return bool(_QUESTION_START.match(text) or _FILLER_START.match(text))


def judge(text: str, *, reports: bool = False) -> Sentence | None:
    """The sentence if it carries information about its speaker (or, with ``reports``, information its
    speaker tells about someone or something else), else None."""
    if not text:
        return None
    if _PLAN_START.match(text) and find_dates(text, _ANY_DAY):
        content = content_words(text)
        return Sentence(text, False, content) if content else None
    if _is_question_or_filler(text):
        return None
    singular = FIRST_SINGULAR.search(text) is not None
    elided = _elided_fragment(text)
    plural = _FIRST_PLURAL.search(text) is not None and not _GENERIC_WE.search(text)
    if not (singular or elided or plural):
        return _report(text) if reports else None
    if _ADDRESSES_OTHER.match(text) and not _SUBJECT_I.search(text):
        return None
    content = content_words(text)
    if not content or (len(content) == 1 and _YOU.search(text)):
        return None
    return Sentence(text, elided, content)


def _report(text: str) -> Sentence | None:
    """A statement without a first-person anchor, kept when it names something and says a little about it,
    or says a lot ("It was Matt Patterson, he is so talented!", "Barcelona is a must-visit city...")."""
    if _ADDRESSES_OTHER.match(text):
        return None
    body = _VOCATIVE.sub("", text)
    content = content_words(body)
    needed = _REPORT_NAMED_CONTENT if _NAMED.search(body) else _REPORT_CONTENT
    return Sentence(text, False, content) if len(content) >= needed else None
