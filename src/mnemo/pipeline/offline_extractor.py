"""The offline extractor: deterministic English rules, used when no LLM is configured.

A message is split into sentences; a sentence becomes a fact when it is a statement about its speaker
(it has a first-person anchor, or is a subject-less fragment such as "Just finished a marathon!") with
at least one content word beyond small talk. Greetings, thanks, backchannel, questions, reactions to
the other speaker and assistant restatements of the user's own facts are dropped.

A stage direction in brackets or asterisks led by a third-person verb ("[shares a photo of a lake]", as
transcripts render attachments) says what the speaker did: it is joined to the message's last kept sentence
before it ("Alice painted this; Alice shares a photo of a lake"), else it is a fact of its own.

Kept sentences are rewritten to name their speaker ("I'm moving" → "Alice is moving", "my" → "Alice's";
with no first-person-singular pronoun to rewrite, "Alice: " is prefixed) and their relative dates are
resolved against the observation time. Otherwise the wording is the speaker's own.
"""

from __future__ import annotations

import asyncio
import dataclasses
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime

from mnemo.domain.relative_dates import resolve_relative_dates
from mnemo.domain.stemming import stem
from mnemo.pipeline.categories import DEFAULT_CATEGORIES, categorize
from mnemo.pipeline.extraction import Category, ExtractionRequest, ExtractionResult, Fact, Message, Speaker

__all__ = ["MAX_FACTS_PER_MESSAGE", "OfflineExtractor", "extract_facts", "split_sentences"]

MAX_FACTS_PER_MESSAGE = 12
# Judging stops here; the slack covers assistant sentences dropped as restatements and repeated facts.
_MAX_KEPT_PER_MESSAGE = 3 * MAX_FACTS_PER_MESSAGE
# Adds with more text than this are extracted in a worker thread, keeping the event loop responsive.
_INLINE_CHARS = 10_000
# Sentences longer than this are broken at ';', ',' and dashes; pieces still longer are not facts.
_LONG_SENTENCE = 400
_RESTATEMENT_OVERLAP = 0.6

# ---------------------------------------------------------------- sentence splitting

_EMOJI_CHARS = (
    "\U0001f000-\U0001faff\u2300-\u23ff\u2600-\u27bf\u2b00-\u2bff\u3030\u303d\u3297\u3299\ufe0e\ufe0f\u200d\u20e3"
)
_EMOJI = re.compile(f"[{_EMOJI_CHARS}]+")
_EMOTICON = re.compile(r"(?<!\w)(?:[:;=]-?[()DPpO3/\\|]+|<3+|\^_*\^)(?!\w)")
# A candidate sentence end: terminal punctuation (plus closing quotes/brackets), or an emoji run,
# followed by whitespace or the end of the text.
_BOUNDARY = re.compile(f"(?:[.!?…]+[\"'”’)\\]]*|[{_EMOJI_CHARS}]+)(?=\\s|$)")
_LONG_SENTENCE_BREAK = re.compile(r"\s*(?:[;,]|\s[-–—]\s)\s*")
# Never the end of a sentence ("Mr. Smith", "e.g. painting").
_TITLE_ABBREVIATIONS = frozenset(
    {"mr", "mrs", "ms", "dr", "prof", "st", "sr", "jr", "vs", "e.g", "i.e", "eg", "ie", "approx", "cf", "mt"}
)
# The end of a sentence only when a capital letter follows ("at 7 a.m. then" vs "at 7 a.m. Then").
_OTHER_ABBREVIATIONS = frozenset({"etc", "a.m", "p.m", "am", "pm", "u.s", "u.k", "inc", "ltd", "co"})


def _is_false_boundary(text: str, segment_start: int, match: re.Match[str]) -> bool:
    if match.group()[0] != "." or len(match.group().rstrip("\"'”’)]")) != 1:
        return False
    token_start = max(text.rfind(" ", segment_start, match.start()), text.rfind("(", segment_start, match.start()))
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

    A piece still longer than _LONG_SENTENCE characters (a run-on paste, not a statement) is left out.
    """
    sentences: list[str] = []
    for raw in _raw_sentences(text):
        sentence = raw.strip()
        if len(sentence) > _LONG_SENTENCE:
            pieces = _LONG_SENTENCE_BREAK.split(sentence)
            sentences.extend(piece for piece in pieces if piece and len(piece) <= _LONG_SENTENCE)
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
_TRAILING_NOISE = re.compile(r"[\s,]*(?:\b(?:lol|haha+|hehe+|xd)\b[\s!.]*)+$", re.IGNORECASE)
# "..., how about you?" after a statement: the statement stays a statement.
_TRAILING_QUESTION_TAG = re.compile(
    r"\s*[,;:–—-]+\s*(?:(?:how|what)\s+about\s+you|and\s+you|you|right|isn't\s+it)\s*\?+$", re.IGNORECASE
)
_TRAILING_VOCATIVE = re.compile(r",\s*[A-Z][a-z]+\s*[.!?]*$")
_QUOTED_END = re.compile(r"[.!?][\"')]+$")
_TERMINAL = re.compile(r"[\s.!,;:…-]+$")


def _clean(sentence: str) -> str:
    text = sentence.translate(_TYPOGRAPHIC)
    text = _EMOTICON.sub(" ", _EMOJI.sub(" ", text))
    text = _WHITESPACE.sub(" ", text).strip()
    text = _TRAILING_QUESTION_TAG.sub("", _TRAILING_NOISE.sub("", text))
    return _LEADING_FILLER.sub("", text).strip()


# ---------------------------------------------------------------- classification

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
_FIRST_SINGULAR = re.compile(
    r"(?<![\w'-])(?:(?P<am>I\s+am|I'm)|(?P<have>I\s+have|I've)|(?P<will>I'll)|(?P<would>I'd)|(?P<i>I)"
    r"|(?P<poss>[Mm]y|MY|[Mm]ine)|(?P<obj>[Mm]e|ME|[Mm]yself))(?![\w'-]|\.\w)"
)
_SUBJECT_I = re.compile(r"(?<![\w'-])I(?!\.\w)(?![\w-])")
_FIRST_PLURAL = re.compile(r"(?<![\w'-])(?:[Ww]e|[Oo]ur|[Oo]urs)(?![\w-])")
# "we" as people in general ("when we ...", "we all should ...") does not make a statement personal.
_GENERIC_WE = re.compile(
    r"\b(?:when|if|how|what)\s+we\b|\bwe\s+(?:can|could|should|must|need|might|may)\b", re.IGNORECASE
)
_ELIDED_START = re.compile(
    r"^(?P<adverbs>(?:(?:just|finally|recently|also|already|officially|actually|really|still|"
    r"totally|so|super|definitely|currently|now|slowly|even)\s+)*)(?P<verb>[A-Za-z]+)\b(?!')",
    re.IGNORECASE,
)
_CLAUSE_END = re.compile(r"[,;:–—]|\s-\s")
# A stage direction in brackets or asterisks, led by a third-person verb: "[shares a photo of a lake]",
# "*sends a picture of my dog*". It describes what the speaker did: "Alice shares a photo of a lake".
_ACTION = re.compile(
    r"\[\s*(?P<square>(?!\w*(?:ss|is|us)\b)[a-z]{3,}s\b[^\[\]]*?)\s*\]|\*(?P<star>(?!\w*(?:ss|is|us)\b)[a-z]{3,}s\b[^*]*?)\*"
)
# "[laughs]", "*waves hello*" or "[shares a photo]" is no fact: a direction needs this many content words
# after its verb.
_MIN_ACTION_CONTENT = 2
_WORD = re.compile(r"[a-z0-9]+(?:'[a-z]+)?")
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
_STATE_WORDS = frozenset(
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
class _Sentence:
    """A cleaned sentence judged worth keeping, with what its rewrite needs."""

    text: str
    elided: bool
    content: frozenset[str]


def _tokens(text: str) -> list[str]:
    return _WORD.findall(text.lower())


def _content_words(text: str) -> frozenset[str]:
    body = _TRAILING_VOCATIVE.sub("", text)
    stems = (stem(word) for word in _tokens(body) if word not in STOP_WORDS and word not in WEAK_WORDS)
    return frozenset(stem for stem in stems if stem not in WEAK_WORDS)


def _elided_fragment(text: str) -> bool:
    """A subject-less statement such as "Just finished a marathon" or "Excited to start a new job"."""
    match = _ELIDED_START.match(text)
    if match is None:
        return False
    verb = match["verb"].lower()
    if verb.endswith("ing") and _has_predicate(text, match.end()):
        return False
    if verb in _IRREGULAR_PAST or verb in _STATE_WORDS or verb == "been":
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


def _judge(text: str) -> _Sentence | None:
    """The sentence if it carries information about its speaker, else None."""
    if not text or _is_question_or_filler(text):
        return None
    singular = _FIRST_SINGULAR.search(text) is not None
    elided = _elided_fragment(text)
    plural = _FIRST_PLURAL.search(text) is not None and not _GENERIC_WE.search(text)
    if not (singular or elided or plural):
        return None
    if _ADDRESSES_OTHER.match(text) and not _SUBJECT_I.search(text):
        return None
    content = _content_words(text)
    if not content or (len(content) == 1 and _YOU.search(text)):
        return None
    return _Sentence(text, elided, content)


# ---------------------------------------------------------------- rewriting

_LOWERCASE_I = re.compile(r"(?<![\w'-])i(?=(?:'m|'ve|'ll|'d)?\s)")


def _rewrite_first_person(text: str, name: str) -> tuple[str, int]:
    def replace(match: re.Match[str]) -> str:
        group = match.lastgroup
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

    return _FIRST_SINGULAR.subn(replace, text)


def _lower_first(text: str) -> str:
    first = text.split(" ", 1)[0]
    if first.isupper() and len(first) > 1:
        return text
    return text[:1].lower() + text[1:]


def _elided_auxiliary(verb: str) -> str:
    """What goes between the inserted name and a subject-less fragment: "is excited", "has been"."""
    verb = verb.lower()
    if verb == "been":
        return "has "
    if verb in _STATE_WORDS or verb.endswith("ing"):
        return "is "
    return ""


def _with_subject(sentence: _Sentence, name: str) -> str:
    """The sentence naming its speaker: as subject of a fragment, in place of "I"/"my", or as a prefix."""
    if sentence.elided:
        match = _ELIDED_START.match(sentence.text)
        text, _ = _rewrite_first_person(_lower_first(sentence.text), name)
        return f"{name} {_elided_auxiliary(match['verb'] if match else '')}{text}"
    text, count = _rewrite_first_person(sentence.text[:1].upper() + sentence.text[1:], name)
    return text if count else f"{name}: {text}"


def _finish(text: str) -> str:
    text = _TERMINAL.sub("", text)
    return text if _QUOTED_END.search(text) else text + "."


def _fact_text(sentence: _Sentence, name: str, observed_at: datetime) -> str:
    return _finish(resolve_relative_dates(_with_subject(sentence, name), observed_at))


# ---------------------------------------------------------------- messages


def _speaker(message: Message) -> Speaker:
    return "assistant" if message.role == "assistant" else "user"


def _display_name(message: Message) -> str:
    if message.name and message.name.strip():
        return message.name.strip()
    return "Assistant" if message.role == "assistant" else "User"


def _normalise_i(text: str) -> str:
    """Chat-style lowercase "i" / "i'm" as the pronoun."""
    return _LOWERCASE_I.sub("I", text)


def _pieces(raw: str) -> Iterator[tuple[str, _Sentence | None]]:
    """A sentence's text around its stage directions, in order: (text, None) and (direction, its judgement).

    Bracketed or starred text that is no informative direction ("*always*", "[laughs]") stays in its text.
    """
    start = 0
    for match in _ACTION.finditer(raw):
        action = _judge_action(_normalise_i(_clean(match["square"] or match["star"])))
        if action is None:
            continue
        before = raw[start : match.start()].strip()
        if before:
            yield before, None
        yield match.group(), action
        start = match.end()
    rest = raw[start:].strip()
    if rest:
        yield rest, None


def _judge_action(text: str) -> _Sentence | None:
    """A stage direction ("shares a photo of a lake") as a subject-less statement by the speaker."""
    after_verb = text.partition(" ")[2]
    if len(_content_words(after_verb)) < _MIN_ACTION_CONTENT:
        return None
    return _Sentence(text, True, _content_words(text))


def _with_action(sentence: _Sentence, action: _Sentence, name: str) -> _Sentence:
    """A kept sentence with the stage direction that follows it: "They made this; Alice shares a photo of a
    cup". The direction usually shows what the sentence talks about."""
    text = f"{_TERMINAL.sub('', sentence.text)}; {name} {_lower_first(action.text)}"
    return _Sentence(text, sentence.elided, sentence.content | action.content)


def _kept_sentences(message: Message, seen: set[tuple[str, str]]) -> list[_Sentence]:
    """The message's informative sentences, skipping those its speaker already said in this add. A stage
    direction is joined to the message's last kept sentence before it, else kept on its own.

    ``seen`` holds (speaker name, sentence) pairs and is updated.
    """
    kept: list[_Sentence] = []
    name = _display_name(message)
    for raw in split_sentences(message.content):
        if len(kept) >= _MAX_KEPT_PER_MESSAGE:
            break
        if (name, raw) in seen:
            continue
        seen.add((name, raw))
        for piece, action in _pieces(raw):
            if action is not None and kept:
                kept[-1] = _with_action(kept[-1], action, name)
                continue
            sentence = action or _judge(_normalise_i(_clean(piece)))
            if sentence is not None:
                kept.append(sentence)
    return kept


def _restates(sentence: _Sentence, user_content: Sequence[frozenset[str]]) -> bool:
    """Whether most of an assistant sentence's content words come from one of the user's kept sentences."""
    return any(len(sentence.content & words) >= _RESTATEMENT_OVERLAP * len(sentence.content) for words in user_content)


def extract_facts(messages: Sequence[Message], observed_at: datetime) -> list[Fact]:
    """Facts from one add's messages, in message order. System messages are ignored."""
    seen_sentences: set[tuple[str, str]] = set()
    judged = [(m, _kept_sentences(m, seen_sentences)) for m in messages if m.role != "system"]
    user_content = [s.content for message, kept in judged if message.role == "user" for s in kept]
    facts: list[Fact] = []
    seen: set[str] = set()
    for message, kept in judged:
        name, speaker = _display_name(message), _speaker(message)
        produced = 0
        for sentence in kept:
            if produced >= MAX_FACTS_PER_MESSAGE:
                break
            if speaker == "assistant" and _restates(sentence, user_content):
                continue
            text = _fact_text(sentence, name, observed_at)
            if text.casefold() not in seen:
                seen.add(text.casefold())
                facts.append(Fact(text=text, attributed_to=speaker))
                produced += 1
    return facts


class OfflineExtractor:
    """Rule-based extraction: no model, no network, same output for the same input."""

    @property
    def name(self) -> str:
        return "offline-rules-v1"

    @property
    def self_contained(self) -> bool:
        return False  # sentences keep their wording: "She loved it" needs the turn before it

    async def extract(self, request: ExtractionRequest) -> ExtractionResult:
        """Facts from the request's new messages, categorised with the request's catalogue (else the
        default one); an add with nothing informative gives none."""
        catalogue = tuple(request.categories) or DEFAULT_CATEGORIES
        if sum(len(message.content) for message in request.messages) <= _INLINE_CHARS:
            return ExtractionResult(facts=_categorised(request.messages, request.observed_at, catalogue))
        facts = await asyncio.to_thread(_categorised, request.messages, request.observed_at, catalogue)
        return ExtractionResult(facts=facts)


def _categorised(messages: Sequence[Message], observed_at: datetime, catalogue: Sequence[Category]) -> list[Fact]:
    facts = extract_facts(messages, observed_at)
    return [dataclasses.replace(fact, categories=categorize(fact.text, catalogue)) for fact in facts]
