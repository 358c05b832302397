"""What the ops tests share: a mnemo holding every kind of row, and everything it serves, read back."""

from __future__ import annotations

from typing import Any

import httpx

from testkit.server import MnemoServer, wait_event

#: Selects every memory of a project (each has at least one entity id).
EVERY_MEMORY = {"OR": [{"user_id": "*"}, {"agent_id": "*"}, {"app_id": "*"}, {"run_id": "*"}]}
EXPORT_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {"user_id": {"type": "string"}, "facts": {"type": "array", "items": {"type": "string"}}},
}


def _ok(response: httpx.Response, status: int = 200) -> Any:
    assert response.status_code == status, response.text
    return response.json()


def verbatim(http: httpx.Client, text: str | list[dict[str, str]], **fields: Any) -> str:
    """An infer=false add (of one user message, or of messages); returns the (first) memory's id."""
    body = _ok(http.post("/v3/memories/add/", json={"messages": text, "infer": False, **fields}))
    memory_id: str = body["results"][0]["id"]
    return memory_id


def inferred(server: MnemoServer, text: str, **fields: Any) -> dict[str, Any]:
    """An infer=true add of one message by Alice (offline extractor), waited for; returns the event."""
    message = {"role": "user", "content": text, "name": "Alice"}
    with server.client() as http:
        accepted = _ok(http.post("/v3/memories/add/", json={"messages": [message], **fields}))
    event = wait_event(server, accepted["event_id"])
    assert event["status"] == "SUCCEEDED", event
    return event


def populate(server: MnemoServer, user: str = "alice") -> dict[str, Any]:
    """Memories of every shape (metadata, expiry, immutability, agent/app/run scopes, categories, a supersede
    link, an update, a deletion) with their history and events, and an export. Returns the ids made."""
    with server.client() as http:
        hiking = verbatim(http, "I love hiking in the Alps.", user_id=user, metadata={"source": "chat", "n": 1})
        verbatim(http, "My passport number ends in 42.", user_id=user, expiration_date="2099-01-01", immutable=True)
        verbatim(http, "Coupon SAVE10 is valid this week.", user_id=user, expiration_date="2020-01-01")
        verbatim(http, "Deploys happen on Fridays.", agent_id=f"{user}-helper")
        verbatim(http, "We planned the trip to Lisbon.", user_id=user, app_id="travel", run_id=f"{user}-trip")
        gone = verbatim(http, "A note to forget.", user_id=user)
        _ok(
            http.put(f"/v1/memories/{hiking}/", json={"text": "I love hiking in the Swiss Alps.", "metadata": {"n": 2}})
        )
        _ok(http.delete(f"/v1/memories/{gone}/"))
    inferred(server, "I work at Acme.", user_id=user)
    inferred(server, "I just started a new job at Globex.", user_id=user)
    with server.client() as http:
        export = _ok(http.post("/v1/exports/", json={"schema": EXPORT_SCHEMA, "filters": {"user_id": user}}), 201)
    return {"deleted": gone, "export": export["id"]}


def memories(http: httpx.Client) -> dict[str, dict[str, Any]]:
    """Every memory of the key's project (expired ones too), as get-all serves it, by id."""
    found: dict[str, dict[str, Any]] = {}
    page = 1
    while True:
        body = _ok(
            http.post(
                "/v3/memories/",
                params={"page": page, "page_size": 50},
                json={"filters": EVERY_MEMORY, "show_expired": True},
            )
        )
        found.update((item["id"], item) for item in body["results"])
        if not body["next"]:
            return found
        page += 1


def snapshot(server: MnemoServer, made: dict[str, Any], key: str | None = None) -> dict[str, Any]:
    """What the server answers about the project's data: memories, their history, events, entities, the export."""
    with server.client(key) as http:
        held = memories(http)
        return {
            "memories": held,
            "history": {m: _ok(http.get(f"/v1/memories/{m}/history/")) for m in [*held, made["deleted"]]},
            "events": _ok(http.get("/v1/events/", params={"page_size": 200})),
            "entities": _ok(http.get("/v1/entities/")),
            "export": _ok(http.post("/v1/exports/get/", json={"memory_export_id": made["export"]})),
        }
