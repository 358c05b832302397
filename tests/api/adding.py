"""Adding through the HTTP API and reading back, for the tests of adds' fields and parts."""

from __future__ import annotations

from typing import Any

from testkit.server import MnemoServer, wait_event


def add_and_wait(server: MnemoServer, user: str, content: Any, *, queued: bool = False, **extra: Any) -> dict[str, Any]:
    """Add one user message with ``content`` for ``user``; the answer of a stored add, else its finished event
    (SUCCEEDED). ``queued``: the add must have been queued (read by a worker)."""
    with server.client() as client:
        body = {"messages": [{"role": "user", "content": content}], "user_id": user, **extra}
        response = client.post("/v3/memories/add/", json=body)
    assert response.status_code == 200, response.text
    answer: dict[str, Any] = response.json()
    if answer["status"] == "SUCCEEDED":
        assert not queued, answer
        return answer
    event = wait_event(server, answer["event_id"])
    assert event["status"] == "SUCCEEDED", event
    return event


def memories_of(server: MnemoServer, user: str) -> list[dict[str, Any]]:
    """The user's memories, as get-all returns them."""
    with server.client() as client:
        return list(client.post("/v3/memories/", json={"filters": {"user_id": user}}).json()["results"])


def texts_of(server: MnemoServer, user: str) -> list[str]:
    """The texts of the user's memories, sorted."""
    return sorted(memory["memory"] for memory in memories_of(server, user))
