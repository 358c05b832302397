"""The webhook routes' answers (spec §1.3) and their delivery log (a mnemo addition)."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal
from uuid import UUID

from pydantic import Field

from mnemo.http.wire import _Page, _Wire


class Webhook(_Wire):
    webhook_id: UUID
    name: str
    url: str
    event_types: list[str]
    owner: str = Field(description="the organisation that owns the project")
    is_active: bool
    project: str = Field(description="the project id")
    created_at: datetime
    updated_at: datetime
    secret: str | None = Field(
        description="the key signing the deliveries (X-Mnemo-Signature); null for a read-only key"
    )


Webhooks = list[Webhook]


class Delivery(_Wire):
    """One delivery of one change to one webhook."""

    id: UUID = Field(description="the delivery id, sent as X-Mnemo-Delivery and delivery_id: dedupe on it")
    webhook_id: UUID
    event_type: str
    memory_id: UUID
    payload: dict[str, Any] = Field(description="the event_details sent (a deleted memory's text removed)")
    status: Literal["PENDING", "DELIVERED", "FAILED"]
    attempts: int
    response_status: int | None = Field(description="the HTTP status of the last answer, if any")
    last_error: str | None
    created_at: datetime
    updated_at: datetime
    next_attempt_at: datetime | None = Field(description="when a PENDING delivery is attempted next")
    delivered_at: datetime | None


class DeliveryPage(_Page):
    """A webhook's deliveries, newest first."""

    results: list[Delivery]
