"""The extractor port: conversation messages in, self-contained facts out."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Literal, Protocol

from mnemo.domain.content import Part
from mnemo.errors import Unavailable

Role = Literal["user", "assistant", "system"]
Speaker = Literal["user", "assistant"]


@dataclass(frozen=True, slots=True)
class Message:
    """One conversation message as received by the add endpoint: ``content`` is its text (its text parts);
    ``media`` its other parts (images, documents), which ``mnemo.pipeline.media`` reads."""

    role: Role
    content: str
    name: str | None = None
    media: tuple[Part, ...] = ()


@dataclass(frozen=True, slots=True)
class ExistingMemory:
    """A memory already stored in the scope, shown to the extractor under a short temporary ref."""

    ref: str
    text: str


@dataclass(frozen=True, slots=True)
class Category:
    name: str
    description: str


@dataclass(frozen=True, slots=True)
class Fact:
    """A durable, self-contained statement extracted from a conversation."""

    text: str
    attributed_to: Speaker
    categories: tuple[str, ...] = ()
    #: refs of existing memories this fact updates or contradicts (see ExistingMemory.ref).
    linked_refs: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class ExtractionRequest:
    """Everything an extractor may use to turn new messages into facts."""

    messages: Sequence[Message]
    observed_at: datetime
    recent_messages: Sequence[Message] = ()
    existing_memories: Sequence[ExistingMemory] = ()
    custom_instructions: str | None = None
    agent_custom_instructions: str | None = None
    categories: Sequence[Category] = ()
    #: True when the add names an agent but no user: facts are about the agent's own perspective.
    agent_perspective: bool = False
    #: free-text hints (the add's ``includes``/``excludes``): extract only facts about the first, none about the second
    includes: str | None = None
    excludes: str | None = None


@dataclass(frozen=True, slots=True)
class Usage:
    """What an extraction cost."""

    calls: int
    prompt_tokens: int
    completion_tokens: int
    latency_ms: float


@dataclass(frozen=True, slots=True)
class ExtractionResult:
    facts: list[Fact]
    usage: Usage | None = None


class ExtractionFailed(Exception):
    """Extraction produced no trustworthy result (e.g. malformed output after a repair attempt).

    Not retried: the add's event becomes FAILED with this message; ``raw_output`` is kept for inspection.
    """

    def __init__(self, detail: str, *, raw_output: str | None = None) -> None:
        super().__init__(detail)
        self.raw_output = raw_output


class ExtractionUnavailable(Unavailable):
    """The extractor could not be reached (LLM down, out of retries): the job is retried later."""


class Extractor(Protocol):
    """Turns one add's messages into facts. Raises on failure; never returns a silent empty result."""

    @property
    def name(self) -> str: ...

    @property
    def self_contained(self) -> bool:
        """True when facts say who, what and when on their own (an LLM rewrites them); False when they
        keep the conversation's wording, so they are embedded with the messages before them."""
        ...

    async def extract(self, request: ExtractionRequest) -> ExtractionResult: ...
