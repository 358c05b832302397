"""Concurrent and repeated writes: nothing duplicated, nothing lost, every update recorded."""

from __future__ import annotations

import uuid
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from testkit.server import MnemoServer, wait_event


def _user() -> str:
    return f"conc-{uuid.uuid4().hex[:8]}"


def _count(server: MnemoServer, user: str) -> int:
    with server.client() as client:
        body = client.post("/v3/memories/", json={"filters": {"user_id": user}}).json()
    count: int = body["count"]
    return count


def test_idempotency_key_replays_the_first_response(server: MnemoServer) -> None:
    user = _user()
    body = {"messages": "I collect vinyl records.", "user_id": user, "infer": False}
    with server.client() as client:
        first = client.post("/v3/memories/add/", json=body, headers={"Idempotency-Key": "k-1"})
        second = client.post("/v3/memories/add/", json=body, headers={"Idempotency-Key": "k-1"})
        assert first.status_code == second.status_code == 200
        assert first.json() == second.json()
        other = client.post(
            "/v3/memories/add/", json={**body, "messages": "Other."}, headers={"Idempotency-Key": "k-1"}
        )
        assert other.status_code == 409 and "Idempotency-Key" in other.json()["detail"]
        events = [e for e in client.get("/v1/events/", params={"page_size": 200}).json()["results"]]
    assert sum(1 for e in events if e["payload"].get("user_id") == user) == 1
    assert _count(server, user) == 1


def test_concurrent_retries_with_one_key_make_one_event(server: MnemoServer) -> None:
    user = _user()
    body = {"messages": "I am learning Portuguese.", "user_id": user}

    def send(_: int) -> dict[str, Any]:
        with server.client() as client:
            response = client.post("/v3/memories/add/", json=body, headers={"Idempotency-Key": f"same-{user}"})
            assert response.status_code == 200, response.text
            result: dict[str, Any] = response.json()
            return result

    with ThreadPoolExecutor(8) as pool:
        answers = list(pool.map(send, range(16)))
    assert len({a["event_id"] for a in answers}) == 1
    event = wait_event(server, answers[0]["event_id"])
    assert event["status"] == "SUCCEEDED"
    assert _count(server, user) == len(event["results"]) >= 1


def test_concurrent_identical_adds_store_one_memory(server: MnemoServer) -> None:
    user = _user()

    def send(infer: bool) -> dict[str, Any]:
        with server.client() as client:
            body = {"messages": "I was born in Lagos.", "user_id": user, "infer": infer}
            response = client.post("/v3/memories/add/", json=body)
            assert response.status_code == 200, response.text
            result: dict[str, Any] = response.json()
            return result

    with ThreadPoolExecutor(8) as pool:
        answers = list(pool.map(send, [False] * 12))
    assert sum(len(a["results"]) for a in answers) == 1
    assert _count(server, user) == 1


def test_concurrent_updates_are_all_recorded(server: MnemoServer) -> None:
    user = _user()
    with server.client() as client:
        added = client.post("/v3/memories/add/", json={"messages": "Version 0.", "user_id": user, "infer": False})
        memory_id = added.json()["results"][0]["id"]

    def update(i: int) -> None:
        with server.client() as client:
            response = client.put(f"/v1/memories/{memory_id}/", json={"text": f"Version {i + 1}."})
            assert response.status_code == 200, response.text

    with ThreadPoolExecutor(8) as pool:
        list(pool.map(update, range(10)))
    with server.client() as client:
        history = client.get(f"/v1/memories/{memory_id}/history/").json()
        final = client.get(f"/v1/memories/{memory_id}/").json()["memory"]
    updates = [h for h in history if h["event"] == "UPDATE"]
    assert len(updates) == 10
    # Each update saw the previous one's result: the chain of old → new texts is unbroken.
    chain = ["Version 0."] + [h["new_memory"] for h in updates]
    assert [h["old_memory"] for h in updates] == chain[:-1]
    assert final == chain[-1]
