"""Request bodies of the webhook routes (spec §1.3): a URL of http or https, and the Platform's event types."""

from __future__ import annotations

from typing import Annotated

from pydantic import AfterValidator, Field

from mnemo.domain.requests import ProjectName, RequestBody
from mnemo.domain.webhooks import EVENT_TYPES, MEMORY_EVENT_TYPES, parse_target


def _check_url(url: str) -> str:
    parse_target(url)
    return url.strip()


def _check_event_types(event_types: list[str]) -> list[str]:
    if not event_types:
        raise ValueError(f"must name at least one event type: {', '.join(EVENT_TYPES)}")
    unknown = [kind for kind in event_types if kind not in EVENT_TYPES]
    if unknown:
        raise ValueError(f"{unknown[0]!r} is not an event type; use any of {', '.join(EVENT_TYPES)}")
    return list(dict.fromkeys(event_types))


WebhookUrl = Annotated[str, AfterValidator(_check_url)]
EventTypes = Annotated[list[str], AfterValidator(_check_event_types)]


class WebhookCreateBody(RequestBody):
    name: ProjectName
    url: WebhookUrl
    #: Unset: the four memory events.
    event_types: EventTypes = Field(default_factory=lambda: list(MEMORY_EVENT_TYPES))


class WebhookUpdateBody(RequestBody):
    """What PUT changes: the fields given (``is_active`` pauses or resumes deliveries: a mnemo addition)."""

    name: ProjectName | None = None
    url: WebhookUrl | None = None
    event_types: EventTypes | None = None
    is_active: bool | None = None
