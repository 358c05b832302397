"""Deleted means deleted: a deleted memory's text survives in no history entry, event or export."""

from __future__ import annotations

import json
import uuid
from typing import Any

import httpx
import pytest

from testkit.server import MnemoServer

SECRET = "My locker code is 4471-zebra."
OTHER = "I like green tea."


def _add(client: httpx.Client, user: str, *messages: str) -> dict[str, Any]:
    body = {"messages": [{"role": "user", "content": m} for m in messages], "user_id": user, "infer": False}
    response = client.post("/v3/memories/add/", json=body)
    assert response.status_code == 200, response.text
    return dict(response.json())


def _everything_about(client: httpx.Client, user: str, memory_ids: list[str], event_id: str) -> str:
    """Every place the API can show: histories, the add's event, the events list, the user's memories."""
    shown = [client.get(f"/v1/memories/{i}/history/").json() for i in memory_ids]
    shown.append(client.get(f"/v1/event/{event_id}/").json())
    shown.append(client.get("/v1/events/", params={"page_size": 200}).json())
    shown.append(client.post("/v3/memories/", json={"filters": {"user_id": user}}).json())
    return json.dumps(shown)


@pytest.mark.parametrize("how", ["one", "all", "entity"])
def test_a_deleted_memory_leaves_no_text_behind(server: MnemoServer, how: str) -> None:
    user = f"del-{uuid.uuid4().hex[:8]}"
    with server.client() as client:
        added = _add(client, user, SECRET, OTHER)
        secret_id, other_id = (item["id"] for item in added["results"])
        export = client.post("/v1/exports/", json={"schema": {"type": "object"}, "filters": {"user_id": user}})
        assert export.status_code == 201, export.text
        assert SECRET in _everything_about(client, user, [secret_id, other_id], added["event_id"])

        if how == "one":
            assert client.delete(f"/v1/memories/{secret_id}/").status_code == 200
        elif how == "all":
            assert client.delete("/v1/memories/", params={"user_id": user}).status_code == 200
        else:
            assert client.delete(f"/v2/entities/user/{user}/").status_code == 200

        shown = _everything_about(client, user, [secret_id, other_id], added["event_id"])
        # The secret's word, not its digits: "4471" can turn up in a timestamp's microseconds.
        assert "zebra" not in shown
        history = client.get(f"/v1/memories/{secret_id}/history/").json()
        assert [entry["event"] for entry in history] == ["ADD", "DELETE"], "that it existed, and when, is kept"
        assert history[-1]["user_id"] == user and history[-1]["created_at"]
        event = client.get(f"/v1/event/{added['event_id']}/").json()
        assert event["payload"] == {"redacted": True, "user_id": user}
        gone = [item for item in event["results"] if item["id"] == secret_id]
        assert gone and gone[0]["memory"] is None and gone[0]["deleted"] is True
        assert client.post("/v1/exports/get/", json={"filters": {"user_id": user}}).status_code == 404
        if how == "one":  # the memory that was not deleted is still whole
            kept = client.get(f"/v1/memories/{other_id}/").json()
            assert kept["memory"] == OTHER
            assert any(item.get("memory") == OTHER for item in event["results"])
