"""Turning a validated add body into an :class:`AddCommand` the pipeline can run."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from mnemo.domain.content import content_parts, text_of
from mnemo.domain.dates import observation
from mnemo.domain.memories import ENTITY_FIELDS, Scope
from mnemo.domain.requests import AddBody, MessageIn, name_problem, parse_body, write_id_problem
from mnemo.errors import BadRequest, PayloadTooLarge
from mnemo.pipeline.extraction import Category, Message


@dataclass(frozen=True, slots=True)
class AddLimits:
    max_messages: int = 200
    max_message_chars: int = 32_000


@dataclass(frozen=True, slots=True)
class AddCommand:
    """One add, validated: what to remember, for whom, and how."""

    messages: tuple[Message, ...]
    scope: Scope
    metadata: dict[str, Any] | None
    infer: bool
    expiration_date: date | None
    #: when the messages were written (relative dates resolve against it; its zone gives the calendar day)
    observed_at: datetime
    #: the ``created_at`` of what the add stores (``timestamp``, else ``observed_at``)
    created_at: datetime
    immutable: bool
    custom_instructions: str | None
    agent_custom_instructions: str | None
    custom_categories: tuple[Category, ...]
    includes: str | None = None
    excludes: str | None = None

    @property
    def has_media(self) -> bool:
        """True when a message carries parts beyond text (images, documents): read by a worker."""
        return any(message.media for message in self.messages)


def parse_add(body: object, limits: AddLimits) -> AddCommand:
    """Validate a decoded add request body (spec §1.1 row 2), e.g. a stored event payload; raises BadRequest
    naming what is wrong."""
    return add_command(parse_body(AddBody, body), limits)


def add_messages(body: object, limits: AddLimits) -> tuple[Message, ...]:
    """The messages of a decoded add request body alone (e.g. an earlier add's stored payload, read as context),
    validated as :func:`parse_add` validates them, at half its cost; raises BadRequest."""
    messages = body.get("messages") if isinstance(body, dict) else None
    return _messages(parse_body(AddBody, {"messages": messages}).messages, limits)


def add_command(parsed: AddBody, limits: AddLimits) -> AddCommand:
    """The command of a parsed add body; raises BadRequest (PayloadTooLarge) for what the model cannot check."""
    messages = _messages(parsed.messages, limits)
    scope = _scope(parsed)
    observed_at, created_at = observation(
        timestamp=parsed.timestamp,
        observation_date=parsed.observation_date,
        observation_datetime=parsed.observation_datetime,
        timezone=parsed.timezone,
    )
    return AddCommand(
        messages=messages,
        scope=scope,
        metadata=parsed.metadata,
        infer=parsed.infer,
        expiration_date=parsed.expiration_date,
        observed_at=observed_at,
        created_at=created_at,
        immutable=parsed.immutable,
        custom_instructions=parsed.custom_instructions,
        agent_custom_instructions=parsed.agent_custom_instructions,
        custom_categories=parse_categories(parsed.custom_categories),
        includes=parsed.includes,
        excludes=parsed.excludes,
    )


def _messages(raw: list[MessageIn] | MessageIn | str, limits: AddLimits) -> tuple[Message, ...]:
    items = [MessageIn(role="user", content=raw)] if isinstance(raw, str) else raw
    items = [items] if isinstance(items, MessageIn) else items
    if not items:
        raise BadRequest("messages must contain at least one message.")
    if len(items) > limits.max_messages:
        raise PayloadTooLarge(f"Too many messages: {len(items)} (at most {limits.max_messages} per add).")
    messages = []
    for index, item in enumerate(items):
        parts = content_parts(item.content)
        text = text_of(parts)
        if len(text) > limits.max_message_chars:
            raise PayloadTooLarge(
                f"messages.{index}.content has {len(text)} characters (at most {limits.max_message_chars})."
            )
        media = tuple(part for part in parts if part.is_media)
        messages.append(Message(role=item.role, content=text, name=item.name, media=media))
    return tuple(messages)


def _scope(body: AddBody) -> Scope:
    values: dict[str, str] = {}
    for name in ENTITY_FIELDS:
        value = getattr(body, name)
        if value:
            values[name] = value
    for name, value in _entity_ids_in_filters(body.filters or {}).items():
        if name in values and values[name] != value:
            raise BadRequest(f"{name} is given twice with different values ({values[name]!r}, {value!r}).")
        values[name] = value
    if not values:
        raise BadRequest(
            "At least one of user_id, agent_id, app_id or run_id is required (top level, or inside filters)."
        )
    return Scope(**values)


def _entity_ids_in_filters(filters: dict[str, Any]) -> dict[str, str]:
    """Entity ids of an add's ``filters``: flat keys, or an AND of flat objects."""
    found: dict[str, str] = {}
    for key, value in filters.items():
        if key == "AND" and isinstance(value, list):
            for item in value:
                if not isinstance(item, dict):
                    raise BadRequest("filters.AND must be a list of objects.")
                found.update(_entity_ids_in_filters(item))
        elif key in ENTITY_FIELDS:
            if not isinstance(value, str) or not value.strip():
                raise BadRequest(f"filters.{key} must be a non-empty string.")
            problem = write_id_problem(value.strip())
            if problem is not None:
                raise BadRequest(f"filters.{key} {problem}.")
            found[key] = value.strip()
        else:
            raise BadRequest(
                f"filters.{key} is not accepted on add: only user_id, agent_id, app_id, run_id (or an AND of them)."
            )
    return found


def parse_categories(raw: list[dict[str, str]] | list[str] | dict[str, str] | None) -> tuple[Category, ...]:
    """Categories as the API takes them: ``[{name: description}, ...]``, one such object, or plain names."""
    if raw is None:
        return ()
    items = [raw] if isinstance(raw, dict) else raw
    found: list[Category] = []
    for item in items:
        if isinstance(item, str):
            found.append(Category(_category_name(item), ""))
        else:
            found.extend(Category(_category_name(name), description) for name, description in item.items())
    return tuple(found)


def _category_name(name: str) -> str:
    problem = name_problem(name)
    if problem is not None:
        raise BadRequest(f"The category name {name[:40]!r} {problem}.")
    return name
