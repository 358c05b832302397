"""The LLM extractor: one LLM call per add turns new messages into self-contained, categorised facts.

The prompt is a versioned template shipped in the package (``prompts/extraction_v1.md``). Existing
memories are shown to the model under temporary ids ``"0".."N"`` (never their UUIDs); the ids the model
links a new fact to are mapped back to the callers' refs. An unusable reply (not JSON, wrong shape) gets
one repair call, then :class:`ExtractionFailed` with the raw output; an unreachable LLM is
:class:`ExtractionUnavailable`, so the job is retried later.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from importlib import resources
from string import Template
from types import MappingProxyType
from typing import Any

# Re-exported: the catalogue lives in mnemo.pipeline.categories (shared with the offline extractor).
from mnemo.pipeline.categories import DEFAULT_CATEGORIES as DEFAULT_CATEGORIES
from mnemo.pipeline.categories import FALLBACK_CATEGORY as FALLBACK_CATEGORY
from mnemo.pipeline.extraction import (
    Category,
    ExtractionFailed,
    ExtractionRequest,
    ExtractionResult,
    ExtractionUnavailable,
    Fact,
    Message,
    Speaker,
    Usage,
)
from mnemo.providers.llm.base import LLM, ChatMessage, LLMError, LLMReply, LLMUnavailable
from mnemo.providers.llm.replies import ReplyNotJSON, reply_json

log = logging.getLogger(__name__)

PROMPT_VERSION = "extraction_v1"
#: Each recent (context) message is cut to this many characters in the prompt.
RECENT_MESSAGE_CHARS = 300
#: At most this many bytes of an unusable reply are kept on ExtractionFailed and shown back to the model.
RAW_OUTPUT_BYTES = 4096
#: How much of an unusable reply goes into a log line.
_LOG_CHARS = 200

_BLOCK_HEADER = re.compile(r"^=== (\w+) ===$", re.MULTILINE)
_BLOCKS = (
    "system",
    "agent_perspective",
    "user",
    "repair",
    "for_all_facts",
    "for_user_facts",
    "for_assistant_facts",
    "none",
)
_WEEKDAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")


class OutputError(ValueError):
    """The model's reply is not the JSON the prompt asked for; the message says what is wrong."""


@dataclass(frozen=True, slots=True)
class PromptTemplate:
    """The blocks of one prompt version (see the comment at the top of the template file)."""

    version: str
    blocks: Mapping[str, Template]

    @classmethod
    def load(cls, version: str = PROMPT_VERSION) -> PromptTemplate:
        resource = resources.files("mnemo.pipeline").joinpath("prompts", f"{version}.md")
        return cls.parse(version, resource.read_text(encoding="utf-8"))

    @classmethod
    def parse(cls, version: str, text: str) -> PromptTemplate:
        parts = _BLOCK_HEADER.split(text)
        pairs = zip(parts[1::2], parts[2::2], strict=True)
        blocks = {name: Template(body.strip("\n")) for name, body in pairs}
        missing = [name for name in _BLOCKS if name not in blocks]
        if missing:
            raise ValueError(f"prompt template {version} lacks the block(s) {', '.join(missing)}")
        return cls(version, MappingProxyType(blocks))

    def render(self, block: str, **values: str) -> str:
        return self.blocks[block].substitute(values)


@dataclass(frozen=True, slots=True)
class RenderedPrompt:
    """One extraction's prompt and what is needed to read the reply."""

    system: str
    user: str
    #: prompt id ("0".."N") → the caller's ExistingMemory.ref
    refs: Mapping[str, str]
    categories: tuple[str, ...]


def render_prompt(template: PromptTemplate, request: ExtractionRequest, *, today: date) -> RenderedPrompt:
    """The system prompt and user message for ``request``; ``today`` is the current date (UTC)."""
    categories = tuple(request.categories) or DEFAULT_CATEGORIES
    memories = [{"id": str(i), "text": m.text} for i, m in enumerate(request.existing_memories)]
    none = template.render("none")
    system = template.render("system")
    if request.agent_perspective:
        system = f"{system}\n\n{template.render('agent_perspective')}"
    user = template.render(
        "user",
        observation_date=_day(request.observed_at.date()),
        current_date=_day(today),
        custom_instructions=_focused(_instructions(template, request), request, none=none),
        categories="\n".join(_category_line(c) for c in categories),
        recent_messages=_conversation(request.recent_messages, limit=RECENT_MESSAGE_CHARS) or none,
        existing_memories=_json_lines(memories),
        new_messages=_conversation(request.messages, limit=None) or none,
    )
    refs = {str(i): m.ref for i, m in enumerate(request.existing_memories)}
    return RenderedPrompt(system, user, refs, tuple(dict.fromkeys(c.name for c in categories)))


def _day(day: date) -> str:
    return f"{day.isoformat()} ({_WEEKDAYS[day.weekday()]})"


def _json_lines(items: Sequence[dict[str, str]]) -> str:
    """A JSON array with one item per line."""
    if not items:
        return "[]"
    return "[\n" + ",\n".join("  " + json.dumps(item, ensure_ascii=False) for item in items) + "\n]"


def _category_line(category: Category) -> str:
    description = " ".join(category.description.split())
    return f"- {category.name}: {description}" if description else f"- {category.name}"


def _instructions(template: PromptTemplate, request: ExtractionRequest) -> str:
    """custom_instructions apply to every fact, except that agent_custom_instructions take over for an
    agent-only add (falling back to custom_instructions) and for assistant-attributed facts otherwise."""
    custom = (request.custom_instructions or "").strip()
    agent = (request.agent_custom_instructions or "").strip()
    if request.agent_perspective:
        chosen = agent or custom
        return template.render("for_all_facts", instructions=chosen) if chosen else template.render("none")
    if custom and agent:
        user_part = template.render("for_user_facts", instructions=custom)
        return f"{user_part}\n\n{template.render('for_assistant_facts', instructions=agent)}"
    if agent:
        return template.render("for_assistant_facts", instructions=agent)
    return template.render("for_all_facts", instructions=custom) if custom else template.render("none")


def _focused(instructions: str, request: ExtractionRequest, *, none: str) -> str:
    """The custom instructions with the add's ``includes``/``excludes`` hints after them (they replace "none")."""
    hints = []
    if request.includes and request.includes.strip():
        hints.append(f"Extract only facts about: {' '.join(request.includes.split())}.")
    if request.excludes and request.excludes.strip():
        hints.append(f"Do not extract facts about: {' '.join(request.excludes.split())}.")
    if not hints:
        return instructions
    return "\n".join(hints) if instructions == none else f"{instructions}\n\n" + "\n".join(hints)


def _conversation(messages: Sequence[Message], *, limit: int | None) -> str:
    return "\n".join(_message_line(m, limit) for m in messages if m.content.strip())


def _message_line(message: Message, limit: int | None) -> str:
    speaker = f"{message.role} ({message.name})" if message.name else message.role
    content = message.content.strip()
    if limit is not None and len(content) > limit:
        content = content[: limit - 1].rstrip() + "…"
    return f"{speaker}: {content}"


def output_schema(categories: Sequence[str]) -> dict[str, Any]:
    """The JSON schema of a reply (strict-mode compatible: every property required, nothing else allowed)."""
    fact = {
        "type": "object",
        "properties": {
            "text": {"type": "string"},
            "attributed_to": {"type": "string", "enum": ["user", "assistant"]},
            "categories": {"type": "array", "items": {"type": "string", "enum": list(categories)}},
            "linked_ids": {"type": "array", "items": {"type": "string"}},
        },
        "required": ["text", "attributed_to", "categories", "linked_ids"],
        "additionalProperties": False,
    }
    return {
        "title": "extracted_facts",
        "type": "object",
        "properties": {"facts": {"type": "array", "items": fact}},
        "required": ["facts"],
        "additionalProperties": False,
    }


def parse_facts(text: str, *, refs: Mapping[str, str], categories: Sequence[str]) -> list[Fact]:
    """The facts of a reply. Raises :class:`OutputError` when the reply is not JSON of the expected shape.

    Lenient only where nothing is lost: empty texts and repeated facts are dropped, unknown categories are
    dropped (a fact left with none gets ``misc`` when the catalogue has it), unknown linked ids are dropped.
    """
    data = _load_json(text)
    if not isinstance(data, dict) or not isinstance(data.get("facts"), list):
        raise OutputError(f'expected a JSON object with a "facts" array, got {_kind(data)}')
    catalogue = {_category_key(name): name for name in categories}
    facts: dict[str, Fact] = {}
    for index, item in enumerate(data["facts"]):
        fact = _parse_fact(item, f"facts[{index}]", refs, catalogue)
        if fact is not None and fact.text not in facts:
            facts[fact.text] = fact
    return list(facts.values())


def _load_json(text: str) -> object:
    try:
        return reply_json(text)
    except ReplyNotJSON as exc:
        raise OutputError(str(exc)) from exc


def _kind(value: object) -> str:
    if isinstance(value, dict):
        return f"an object with keys {sorted(value)[:5]}"
    return {list: "an array", str: "a string", type(None): "null"}.get(type(value), type(value).__name__)


def _parse_fact(
    item: object,
    where: str,
    refs: Mapping[str, str],
    catalogue: Mapping[str, str],
) -> Fact | None:
    if not isinstance(item, dict):
        raise OutputError(f"{where} must be an object, got {_kind(item)}")
    text = item.get("text")
    if not isinstance(text, str):
        raise OutputError(f"{where}.text must be a string, got {_kind(text)}")
    if not text.strip():
        return None
    return Fact(
        text=" ".join(text.split()),
        attributed_to=_speaker(item.get("attributed_to"), where),
        categories=_categories(item.get("categories"), where, catalogue),
        linked_refs=_linked_refs(item.get("linked_ids"), where, refs),
    )


def _speaker(value: object, where: str) -> Speaker:
    speaker = value.strip().lower() if isinstance(value, str) else None
    if speaker == "user":
        return "user"
    if speaker == "assistant":
        return "assistant"
    raise OutputError(f'{where}.attributed_to must be "user" or "assistant", got {json.dumps(value)[:50]}')


def _category_key(name: str) -> str:
    return re.sub(r"[\s-]+", "_", name.strip().lower())


def _categories(value: object, where: str, catalogue: Mapping[str, str]) -> tuple[str, ...]:
    if value is not None and not isinstance(value, list):
        raise OutputError(f"{where}.categories must be an array, got {_kind(value)}")
    names = [catalogue.get(_category_key(v)) for v in value or () if isinstance(v, str)]
    known = tuple(dict.fromkeys(name for name in names if name is not None))
    if not known and FALLBACK_CATEGORY in catalogue.values():
        return (FALLBACK_CATEGORY,)
    return known


def _linked_refs(value: object, where: str, refs: Mapping[str, str]) -> tuple[str, ...]:
    if value is not None and not isinstance(value, list):
        raise OutputError(f"{where}.linked_ids must be an array, got {_kind(value)}")
    ids = [str(v).strip() for v in value or () if isinstance(v, str | int) and not isinstance(v, bool)]
    return tuple(dict.fromkeys(refs[i] for i in ids if i in refs))


def bounded(text: str, limit: int = RAW_OUTPUT_BYTES) -> str:
    """``text`` cut to at most ``limit`` bytes of UTF-8 (marked when cut)."""
    encoded = text.encode("utf-8")
    if len(encoded) <= limit:
        return text
    marker = " …[truncated]"
    return encoded[: limit - len(marker.encode("utf-8"))].decode("utf-8", errors="ignore") + marker


def _usage(replies: Sequence[LLMReply]) -> Usage:
    return Usage(
        calls=len(replies),
        prompt_tokens=sum(r.prompt_tokens for r in replies),
        completion_tokens=sum(r.completion_tokens for r in replies),
        latency_ms=sum(r.latency_ms for r in replies),
    )


class LLMExtractor:
    """The :class:`~mnemo.pipeline.extraction.Extractor` backed by an :class:`~mnemo.providers.llm.LLM`.

    Callers pass ``agent_custom_instructions`` only when the add names an agent (the request does not say
    whether it also names a user unless ``agent_perspective`` is set).
    """

    def __init__(
        self,
        llm: LLM,
        *,
        template: PromptTemplate | None = None,
        clock: Callable[[], datetime] | None = None,
    ) -> None:
        self._llm = llm
        self._template = template or PromptTemplate.load()
        self._clock = clock or (lambda: datetime.now(UTC))

    @property
    def name(self) -> str:
        return f"{self._llm.name}/{self._template.version}"

    @property
    def self_contained(self) -> bool:
        return True  # the prompt asks for facts that name their subject and resolve their dates

    async def extract(self, request: ExtractionRequest) -> ExtractionResult:
        if not any(m.role != "system" and m.content.strip() for m in request.messages):
            return ExtractionResult([], _usage([]))
        prompt = render_prompt(self._template, request, today=self._clock().astimezone(UTC).date())
        facts, replies = await self._extract(prompt)
        usage = _usage(replies)
        log.info(
            "extracted %d fact(s): %d call(s), %d+%d tokens, %.0f ms",
            len(facts),
            usage.calls,
            usage.prompt_tokens,
            usage.completion_tokens,
            usage.latency_ms,
        )
        return ExtractionResult(facts, usage)

    async def _extract(self, prompt: RenderedPrompt) -> tuple[list[Fact], list[LLMReply]]:
        """One call, and one repair call when its reply is unusable."""
        conversation = [ChatMessage("user", prompt.user)]
        first = await self._complete(prompt, conversation)
        try:
            return self._read(prompt, first), [first]
        except OutputError as exc:
            first_error = exc
        # The reply's text is the memories' text: DEBUG only (the event keeps it when the job fails).
        log.warning("extraction reply unusable (%s), asking for a repair", first_error)
        log.debug("the unusable reply began %r", first.text[:_LOG_CHARS])
        repair = [*conversation, *self._repair_turns(first, first_error)]
        second = await self._complete(prompt, repair)
        return self._read_repaired(prompt, second, first_error), [first, second]

    async def _complete(self, prompt: RenderedPrompt, conversation: list[ChatMessage]) -> LLMReply:
        try:
            return await self._llm.complete(
                system=prompt.system, messages=conversation, json_schema=output_schema(prompt.categories)
            )
        except LLMUnavailable as exc:
            raise ExtractionUnavailable(f"LLM unavailable: {exc}") from exc
        except LLMError as exc:
            raise ExtractionFailed(f"LLM call failed: {exc}") from exc

    def _read(self, prompt: RenderedPrompt, reply: LLMReply) -> list[Fact]:
        try:
            return parse_facts(reply.text, refs=prompt.refs, categories=prompt.categories)
        except OutputError as exc:
            if reply.truncated:
                raise OutputError(f"{exc}; the reply was cut off at the output token limit") from exc
            raise

    def _repair_turns(self, reply: LLMReply, error: OutputError) -> list[ChatMessage]:
        return [
            ChatMessage("assistant", bounded(reply.text) if reply.text.strip() else "(empty reply)"),
            ChatMessage("user", self._template.render("repair", error=str(error))),
        ]

    def _read_repaired(self, prompt: RenderedPrompt, reply: LLMReply, first_error: OutputError) -> list[Fact]:
        try:
            return self._read(prompt, reply)
        except OutputError as exc:
            log.error("extraction reply unusable after a repair attempt (%s)", exc)
            log.debug("the unusable repaired reply began %r", reply.text[:_LOG_CHARS])
            raise ExtractionFailed(
                f"LLM output unusable after one repair attempt: {exc} (first attempt: {first_error})",
                raw_output=bounded(reply.text),
            ) from exc
