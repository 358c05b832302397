"""Webhooks (spec §1.3): list, create, update and delete a project's webhooks, and read a webhook's deliveries
(a mnemo addition). Deliveries are made by the workers (:mod:`mnemo.worker.webhooks`)."""

from __future__ import annotations

import uuid
from typing import Any

from fastapi import APIRouter, Request, Response

from mnemo.domain.requests import MAX_PAGE
from mnemo.domain.webhook_requests import WebhookCreateBody, WebhookUpdateBody
from mnemo.domain.webhooks import new_secret, parse_target
from mnemo.errors import BadRequest, NotFound
from mnemo.http import wire
from mnemo.http.access import Reads, Writes
from mnemo.http.capped import page_of
from mnemo.http.deps import DataDep, PrincipalDep, ServicesDep, query_int
from mnemo.http.openapi import responds
from mnemo.http.routing import ApiRoute
from mnemo.http.wire import webhooks as webhook_wire
from mnemo.services import Services
from mnemo.storage import Principal
from mnemo.storage.deliveries import DeliveryRecord
from mnemo.storage.webhooks import WebhookChange, WebhookRecord

router = APIRouter(tags=["webhooks"], route_class=ApiRoute)

PROJECT_WEBHOOKS = "/api/v1/webhooks/projects/{project_id}/"
ONE_WEBHOOK = "/api/v1/webhooks/{webhook_id}/"
DELIVERIES = "/api/v1/webhooks/{webhook_id}/deliveries/"
WEBHOOK_NOT_FOUND = "Webhook not found or you don't have permission to access it."


def _own(caller: Principal, project_id: str) -> None:
    if project_id != caller.project_id:
        raise NotFound("Project not found")


def _webhook_id(value: str) -> uuid.UUID:
    """A webhook id is a UUID: anything else names no webhook."""
    try:
        return uuid.UUID(value)
    except ValueError:
        raise NotFound(WEBHOOK_NOT_FOUND) from None


def _allowed(url: str, svc: Services) -> str:
    """``url`` when the deployment lets webhooks target its host, else a 400 naming the setting."""
    target = parse_target(url)
    hosts = svc.settings.webhook_hosts()
    if not hosts.allows_host(target):
        raise BadRequest(hosts.refusal(target))
    return url


def webhook_to_wire(hook: WebhookRecord, caller: Principal) -> dict[str, Any]:
    return {
        "webhook_id": str(hook.id),
        "name": hook.name,
        "url": hook.url,
        "event_types": hook.event_types,
        "owner": hook.owner,
        "is_active": hook.is_active,
        "project": hook.project_id,
        "created_at": hook.created_at.isoformat(),
        "updated_at": hook.updated_at.isoformat(),
        # The secret forges deliveries: only keys that may change the webhook see it.
        "secret": None if caller.read_only else hook.secret,
    }


def delivery_to_wire(delivery: DeliveryRecord) -> dict[str, Any]:
    return {
        "id": str(delivery.id),
        "webhook_id": str(delivery.webhook_id),
        "event_type": delivery.event_type,
        "memory_id": str(delivery.memory_id),
        "payload": delivery.payload,
        "status": delivery.status,
        "attempts": delivery.attempts,
        "response_status": delivery.response_status,
        "last_error": delivery.last_error,
        "created_at": delivery.created_at.isoformat(),
        "updated_at": delivery.updated_at.isoformat(),
        "next_attempt_at": delivery.next_attempt_at.isoformat() if delivery.status == "PENDING" else None,
        "delivered_at": delivery.delivered_at.isoformat() if delivery.delivered_at else None,
    }


@router.get(PROJECT_WEBHOOKS, **responds(webhook_wire.Webhooks), dependencies=[Reads])
async def list_webhooks(project_id: str, caller: PrincipalDep, data: DataDep) -> list[dict[str, Any]]:
    _own(caller, project_id)
    async with data.reading() as tables:
        hooks = await tables.webhooks.all()
    return [webhook_to_wire(hook, caller) for hook in hooks]


@router.post(PROJECT_WEBHOOKS, **responds(webhook_wire.Webhook, status=201), dependencies=[Writes])
async def create_webhook(
    project_id: str, body: WebhookCreateBody, caller: PrincipalDep, data: DataDep, svc: ServicesDep
) -> dict[str, Any]:
    _own(caller, project_id)
    url = _allowed(body.url, svc)
    async with data.transaction() as tables:
        hook = await tables.webhooks.create(
            name=body.name, url=url, event_types=body.event_types, secret=new_secret(), owner=caller.org_id
        )
    return webhook_to_wire(hook, caller)


@router.put(ONE_WEBHOOK, **responds(wire.Message), dependencies=[Writes])
async def update_webhook(webhook_id: str, body: WebhookUpdateBody, data: DataDep, svc: ServicesDep) -> dict[str, Any]:
    target = _webhook_id(webhook_id)
    if body.name is None and body.url is None and body.event_types is None and body.is_active is None:
        raise BadRequest("Nothing to update: send name, url, event_types or is_active.")
    url = _allowed(body.url, svc) if body.url is not None else None
    change = WebhookChange(name=body.name, url=url, event_types=body.event_types, is_active=body.is_active)
    async with data.transaction() as tables:
        if await tables.webhooks.update(target, change) is None:
            raise NotFound(WEBHOOK_NOT_FOUND)
    return {"message": "Webhook updated successfully"}


@router.delete(ONE_WEBHOOK, **responds(wire.Message), dependencies=[Writes])
async def delete_webhook(webhook_id: str, data: DataDep) -> dict[str, Any]:
    target = _webhook_id(webhook_id)
    async with data.transaction() as tables:
        if not await tables.webhooks.delete(target):
            raise NotFound(WEBHOOK_NOT_FOUND)
    return {"message": "Webhook deleted successfully"}


@router.get(DELIVERIES, **responds(webhook_wire.DeliveryPage), dependencies=[Reads])
async def list_deliveries(webhook_id: str, request: Request, data: DataDep) -> Response:
    """A webhook's deliveries, newest first: status, attempts, the last answer's status and error."""
    target = _webhook_id(webhook_id)
    page = query_int(request, "page", 1, low=1, high=MAX_PAGE)
    page_size = query_int(request, "page_size", 50, low=1, high=200)
    async with data.reading() as tables:
        if await tables.webhooks.get(target) is None:
            raise NotFound(WEBHOOK_NOT_FOUND)
        total, deliveries = await tables.deliveries.page(target, offset=(page - 1) * page_size, limit=page_size)
    found = page_of(request.url, deliveries, page=page, page_size=page_size, total=total, wire=delivery_to_wire)
    return found.response(total)
