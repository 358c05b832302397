"""Webhooks (spec §1.3) and their delivery log (a mnemo addition)."""

from __future__ import annotations

import uuid
from typing import Any

from mnemo.http import wire
from mnemo.http.wire import webhooks
from tests.api.wire_areas import Checked


def check(api: Checked, ping: dict[str, Any]) -> None:
    hooks = "/api/v1/webhooks/projects/{project_id}/"
    mine = hooks.format(project_id=ping["project_id"])
    # Nothing listens on the discard port: the delivery stays PENDING, retried, until the webhook goes.
    body = {"url": "http://127.0.0.1:9/hook", "name": "wire", "event_types": ["memory_add"]}
    created = api.call(webhooks.Webhook, "POST", hooks, mine, status=201, json=body)
    assert created["secret"]
    listed = api.call(webhooks.Webhooks, "GET", hooks, mine)
    assert created["webhook_id"] in [hook["webhook_id"] for hook in listed]

    one = "/api/v1/webhooks/{webhook_id}/"
    path = one.format(webhook_id=created["webhook_id"])
    api.call(wire.Message, "PUT", one, path, json={"name": "wire renamed"})
    add = {"messages": "I fly kites.", "user_id": f"wire-hook-{uuid.uuid4().hex[:6]}", "infer": False}
    assert api.client.post("/v3/memories/add/", json=add).status_code == 200
    log = "/api/v1/webhooks/{webhook_id}/deliveries/"
    page = api.call(webhooks.DeliveryPage, "GET", log, log.format(webhook_id=created["webhook_id"]))
    assert page["count"] == 1 and page["results"][0]["event_type"] == "memory_add"
    api.call(wire.Message, "DELETE", one, path)
