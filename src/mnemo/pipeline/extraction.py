"""The extractor port: conversation messages in, self-contained facts out."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Literal, Protocol

Role = Literal["user", "assistant", "system"]
Speaker = Literal["user", "assistant"]


@dataclass(frozen=True, slots=True)
class Message:
    """One conversation message as received by the add endpoint."""

    role: Role
    content: str
    name: str | None = None


@dataclass(frozen=True, slots=True)
class Fact:
    """A durable, self-contained statement extracted from a conversation."""

    text: str
    attributed_to: Speaker
    categories: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class ExtractionRequest:
    """Everything an extractor may use to turn new messages into facts."""

    messages: Sequence[Message]
    observed_at: datetime
    existing_memories: Sequence[str] = ()
    custom_instructions: str | None = None
    categories: Sequence[str] = field(default_factory=tuple)


class ExtractionFailed(Exception):
    """Extraction could not produce a trustworthy result; the add's event becomes FAILED."""


class Extractor(Protocol):
    """Turns one add's messages into facts. Must raise, never return an empty list, on failure."""

    @property
    def name(self) -> str: ...

    async def extract(self, request: ExtractionRequest) -> list[Fact]: ...
