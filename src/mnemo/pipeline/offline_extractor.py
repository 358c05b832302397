"""The offline extractor: deterministic English rules, used when no LLM is configured.

A message is split into sentences; a sentence becomes a fact when it is a statement about its speaker
(it has a first-person anchor, or is a subject-less fragment such as "Just finished a marathon!") with
at least one content word beyond small talk. Greetings, thanks, backchannel, questions, reactions to
the other speaker and assistant restatements of the user's own facts are dropped.

A stage direction in brackets or asterisks led by a third-person verb ("[shares a photo of a lake]", as
transcripts render attachments) says what the speaker did: it is joined to the message's last kept sentence
before it ("Alice painted this; Alice shares a photo of a lake"), unless that one has three already, else it
is a fact of its own.

Kept sentences are rewritten to name their speaker ("I'm moving" → "Alice is moving", "my" → "Alice's";
with no first-person-singular pronoun to rewrite, "Alice: " is prefixed) and their relative dates are
resolved against the observation time. Otherwise the wording is the speaker's own.

The steps live next to this module: ``offline_sentences`` (splitting and cleaning), ``offline_rules``
(which sentences are facts) and ``offline_rewrite`` (naming the speaker). This one reads messages.
"""

from __future__ import annotations

import asyncio
import dataclasses
import re
from collections.abc import Callable, Iterator, Sequence
from datetime import datetime
from typing import ParamSpec, TypeVar

from mnemo.pipeline.categories import DEFAULT_CATEGORIES, categorize
from mnemo.pipeline.extraction import Category, ExtractionRequest, ExtractionResult, Fact, Message, Speaker
from mnemo.pipeline.offline_rewrite import TERMINAL, fact_text, lower_first, normalise_i
from mnemo.pipeline.offline_rules import STOP_WORDS, WEAK_WORDS, Sentence, content_words, judge
from mnemo.pipeline.offline_sentences import clean, split_sentences

__all__ = [
    "INLINE_CHARS",
    "MAX_FACTS_PER_MESSAGE",
    "STOP_WORDS",
    "WEAK_WORDS",
    "OfflineExtractor",
    "extract_facts",
    "off_the_loop",
    "split_sentences",
    "told",
]

_P = ParamSpec("_P")
_T = TypeVar("_T")

MAX_FACTS_PER_MESSAGE = 12
# Judging stops here; the slack covers assistant sentences dropped as restatements and repeated facts.
_MAX_KEPT_PER_MESSAGE = 3 * MAX_FACTS_PER_MESSAGE
#: Adds with more text than this are read (extracted, judged, indexed) in a worker thread: judging and indexing the
#: largest add (2 MB) takes seconds, and the event loop must keep serving meanwhile (:func:`off_the_loop`).
INLINE_CHARS = 10_000
_RESTATEMENT_OVERLAP = 0.6
# Restatement checks compare an assistant sentence with every kept user sentence of the add, so their cost
# grows with the square of the add (200 messages of 36 sentences: 2.8 s). Checks stop when they would pass
# this many comparisons in one add; a chat needs far fewer (200 messages of 3 sentences: 90,000).
_RESTATEMENT_COMPARISONS = 100_000

# A stage direction in brackets or asterisks, led by a third-person verb: "[shares a photo of a lake]",
# "*sends a picture of my dog*". It describes what the speaker did: "Alice shares a photo of a lake".
# The bracketed text ends at its last non-space character before "]": a lazy `[^\[\]]*?\s*\]` (same
# group) re-read the rest of a whitespace run at every step, quadratic in the run.
_ACTION = re.compile(
    r"\[\s*(?P<square>(?!\w*(?:ss|is|us)\b)[a-z]{3,}s\b(?:[^\[\]]*[^\[\]\s])?)\s*\]"
    r"|\*(?P<star>(?!\w*(?:ss|is|us)\b)[a-z]{3,}s\b[^*]*?)\*"
)
# "[laughs]", "*waves hello*" or "[shares a photo]" is no fact: a direction needs this many content words
# after its verb.
_MIN_ACTION_CONTENT = 2
# A kept sentence takes at most this many directions; the next one is a fact of its own. Joining every
# direction of a message to one sentence rebuilt an ever longer text (1,000 directions: 0.5 s, one fact of
# 36,000 characters); a message keeps at most 36 sentences, so it now joins about a hundred at most.
_MAX_JOINED_DIRECTIONS = 3


def _speaker(message: Message) -> Speaker:
    return "assistant" if message.role == "assistant" else "user"


def _display_name(message: Message) -> str:
    if message.name and message.name.strip():
        return message.name.strip()
    return "Assistant" if message.role == "assistant" else "User"


def _pieces(raw: str) -> Iterator[tuple[str, Sentence | None]]:
    """A sentence's text around its stage directions, in order: (text, None) and (direction, its judgement).

    Bracketed or starred text that is no informative direction ("*always*", "[laughs]") stays in its text.
    """
    start = 0
    for match in _ACTION.finditer(raw):
        action = _judge_action(normalise_i(clean(match["square"] or match["star"])))
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


def _judge_action(text: str) -> Sentence | None:
    """A stage direction ("shares a photo of a lake") as a subject-less statement by the speaker."""
    after_verb = text.partition(" ")[2]
    if len(content_words(after_verb)) < _MIN_ACTION_CONTENT:
        return None
    return Sentence(text, True, content_words(text))


def _with_action(sentence: Sentence, action: Sentence, name: str) -> Sentence:
    """A kept sentence with the stage direction that follows it: "They made this; Alice shares a photo of a
    cup". The direction usually shows what the sentence talks about."""
    text = f"{TERMINAL.sub('', sentence.text)}; {name} {lower_first(action.text)}"
    return Sentence(text, sentence.elided, sentence.content | action.content, sentence.directions + 1)


def _kept_sentences(message: Message, seen: set[tuple[str, str]]) -> list[Sentence]:
    """The message's informative sentences, skipping those its speaker already said in this add. A stage
    direction is joined to the message's last kept sentence before it, else kept on its own.

    ``seen`` holds (speaker name, sentence) pairs and is updated.
    """
    kept: list[Sentence] = []
    name = _display_name(message)
    for raw in split_sentences(message.content):
        if len(kept) >= _MAX_KEPT_PER_MESSAGE:
            break
        if (name, raw) in seen:
            continue
        seen.add((name, raw))
        for piece, action in _pieces(raw):
            if action is not None and kept and kept[-1].directions < _MAX_JOINED_DIRECTIONS:
                kept[-1] = _with_action(kept[-1], action, name)
                continue
            sentence = action or judge(normalise_i(clean(piece)), reports=message.role == "user")
            if sentence is not None:
                kept.append(sentence)
    return kept


async def off_the_loop(messages: Sequence[Message], work: Callable[_P, _T], *args: _P.args, **kwargs: _P.kwargs) -> _T:
    """``work(*args, **kwargs)``, which reads ``messages``: on the event loop when they hold little text, else in a
    worker thread (:data:`INLINE_CHARS`)."""
    if sum(len(message.content) for message in messages) <= INLINE_CHARS:
        return work(*args, **kwargs)
    return await asyncio.to_thread(work, *args, **kwargs)


def told(text: str) -> list[str]:
    """The sentences of a message that these rules keep, whoever said it (cleaned; a stage direction joined to the
    sentence before it): what the message tells. Empty for small talk: greetings, thanks, questions, reactions to
    the other speaker, short remarks about nothing named ("Haha, so true!", "How was the trip?"). Judged as a
    user's message: an assistant's answer that tells something is no small talk either."""
    return [sentence.text for sentence in _kept_sentences(Message("user", text), set())]


def _restates(sentence: Sentence, user_content: Sequence[frozenset[str]]) -> bool:
    """Whether most of an assistant sentence's content words come from one of the user's kept sentences."""
    return any(len(sentence.content & words) >= _RESTATEMENT_OVERLAP * len(sentence.content) for words in user_content)


def extract_facts(messages: Sequence[Message], observed_at: datetime) -> list[Fact]:
    """Facts from one add's messages, in message order. System messages are ignored."""
    seen_sentences: set[tuple[str, str]] = set()
    judged = [(m, _kept_sentences(m, seen_sentences)) for m in messages if m.role != "system"]
    user_content = [s.content for message, kept in judged if message.role == "user" for s in kept]
    facts: list[Fact] = []
    seen: set[str] = set()
    comparisons_left = _RESTATEMENT_COMPARISONS
    for message, kept in judged:
        name, speaker = _display_name(message), _speaker(message)
        produced = 0
        for sentence in kept:
            if produced >= MAX_FACTS_PER_MESSAGE:
                break
            if speaker == "assistant" and comparisons_left >= len(user_content):
                comparisons_left -= len(user_content)
                if _restates(sentence, user_content):
                    continue
            text = fact_text(sentence, name, observed_at)
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
        facts = await off_the_loop(request.messages, _categorised, request.messages, request.observed_at, catalogue)
        return ExtractionResult(facts=focused(facts, includes=request.includes, excludes=request.excludes))


def focused(facts: Sequence[Fact], *, includes: str | None, excludes: str | None) -> list[Fact]:
    """The offline reading of ``includes``/``excludes``: a fact is about a hint when it shares a content word
    with it (stemmed: "cars" matches "car") or the hint names one of its categories ("food", "travel"). With
    ``includes`` only facts about it are kept; facts about ``excludes`` are dropped."""
    wanted, unwanted = _Hint.of(includes), _Hint.of(excludes)
    return [
        fact
        for fact in facts
        if (wanted is None or wanted.about(fact)) and (unwanted is None or not unwanted.about(fact))
    ]


@dataclasses.dataclass(frozen=True, slots=True)
class _Hint:
    words: frozenset[str]
    names: frozenset[str]

    @classmethod
    def of(cls, hint: str | None) -> _Hint | None:
        if not hint or not hint.strip():
            return None
        return cls(content_words(hint), frozenset(re.findall(r"\w+", hint.lower())))

    def about(self, fact: Fact) -> bool:
        return bool(content_words(fact.text) & self.words) or any(name in self.names for name in fact.categories)


def _categorised(messages: Sequence[Message], observed_at: datetime, catalogue: Sequence[Category]) -> list[Fact]:
    facts = extract_facts(messages, observed_at)
    return [dataclasses.replace(fact, categories=categorize(fact.text, catalogue)) for fact in facts]
