"""Entities as records (spec §1.1 rows 10–11, §1.5): list, one, stats, and the older clients' delete."""

from __future__ import annotations

import uuid
from typing import Any

from mnemo.http import wire
from mnemo.http.wire import entities
from tests.api.wire_areas import Checked


def check(api: Checked, ping: dict[str, Any]) -> None:
    user, agent = f"wire-ent-{uuid.uuid4().hex[:6]}", f"wire-bot-{uuid.uuid4().hex[:6]}"
    add = {"messages": "I live in Berlin.", "user_id": user, "agent_id": agent, "infer": False}
    assert api.client.post("/v3/memories/add/", json=add).status_code == 200

    page = api.call(wire.EntityPage, "GET", "/v1/entities/", params={"page": 1, "page_size": 1})
    assert page["count"] >= 2 and len(page["results"]) == 1 and page["next"] is not None
    one = "/v2/entities/{entity_type}/{entity_name}/"
    found = api.call(wire.Entity, "GET", one, one.format(entity_type="user", entity_name=user))
    assert (found["name"], found["total_memories"], found["owner"]) == (user, 1, ping["project_id"])
    stats = api.call(entities.Stats, "GET", "/v1/stats/")
    assert stats["total_memories"] >= 1 and stats["total_users"] == stats["entities"]["user"] >= 1

    legacy = "/v1/entities/{entity_type}/{entity_id}/"
    gone = api.call(wire.EntityDeleted, "DELETE", legacy, legacy.format(entity_type="agent", entity_id=agent))
    assert gone["deleted_count"] == 1
    assert api.client.get(one.format(entity_type="agent", entity_name=agent)).status_code == 404
