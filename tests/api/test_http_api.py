"""The wire contract over raw HTTP: paths, status codes, error bodies, events."""

from __future__ import annotations

import uuid

import httpx
import pytest

from testkit.server import MnemoServer, wait_event


def _user() -> str:
    return f"http-{uuid.uuid4().hex[:8]}"


def test_healthz_needs_no_key(server: MnemoServer) -> None:
    response = httpx.get(f"{server.url}/healthz")
    assert response.status_code == 200 and response.json() == {"status": "ok"}


@pytest.mark.parametrize(
    ("header", "reason"),
    [
        (None, "Missing API key"),
        ("Token", "Malformed"),
        ("Basic abc", "Malformed"),
        ("Token nope", "Invalid API key"),
    ],
)
def test_auth_failures_are_401_with_detail(server: MnemoServer, header: str | None, reason: str) -> None:
    headers = {"Authorization": header} if header else {}
    response = httpx.get(f"{server.url}/v1/ping/", headers=headers)
    assert response.status_code == 401
    assert response.headers["content-type"].startswith("application/json")
    assert reason in response.json()["detail"]


def test_ping_shape(server: MnemoServer) -> None:
    with server.client() as client:
        body = client.get("/v1/ping/").json()
    assert body["status"] == "ok"
    assert isinstance(body["org_id"], str) and body["org_id"]
    assert isinstance(body["project_id"], str) and body["project_id"]
    assert body["user_email"] is None
    assert body["read_only"] is False


def test_paths_without_trailing_slash_are_not_redirected(server: MnemoServer) -> None:
    with server.client() as client:
        response = client.post("/v3/memories/search", json={"query": "x", "filters": {"user_id": "u"}})
    assert response.status_code == 404
    assert "end with '/'" in response.json()["detail"]


@pytest.mark.parametrize(
    ("body", "needle"),
    [
        ({"user_id": "u"}, "messages"),
        ({"messages": [{"role": "user", "content": "hi"}]}, "user_id, agent_id, app_id or run_id"),
        ({"messages": [{"role": "bot", "content": "hi"}], "user_id": "u"}, "role"),
        ({"messages": [{"role": "user", "content": 5}], "user_id": "u"}, "content"),
        ({"messages": "hi", "user_id": "u", "expiration_date": "2024-02-30"}, "expiration_date"),
        ({"messages": "hi", "user_id": "u", "expiration_date": "2024-02-03T10:00:00"}, "YYYY-MM-DD"),
        ({"messages": "hi", "user_id": "u", "metadata": ["x"]}, "metadata"),
        ({"messages": "hi", "user_id": "   "}, "user_id"),
        ({"messages": [], "user_id": "u"}, "at least one message"),
        ({"messages": "hi", "user_id": "u", "timestamp": -5}, "timestamp"),
    ],
)
def test_add_rejects_bad_input_with_documented_shape(server: MnemoServer, body: dict[str, object], needle: str) -> None:
    user = body.get("user_id")
    with server.client() as client:
        response = client.post("/v3/memories/add/", json=body)
        assert response.status_code == 400, response.text
        payload = response.json()
        assert payload["error"] == "400 Bad Request"
        assert needle in payload["details"]["message"]
        assert payload["detail"] == payload["details"]["message"]
        if isinstance(user, str) and user.strip():
            assert client.post("/v3/memories/", json={"filters": {"user_id": user}}).json()["count"] == 0


def test_add_rejects_non_json_and_oversized_bodies(server: MnemoServer) -> None:
    with server.client() as client:
        response = client.post("/v3/memories/add/", content=b"{not json", headers={"content-type": "application/json"})
        assert response.status_code == 400 and "not valid JSON" in response.json()["detail"]
        response = client.post("/v3/memories/add/", content=b"[1, 2]")
        assert response.status_code == 400 and "JSON object" in response.json()["detail"]
        huge = {"messages": [{"role": "user", "content": "x" * 3_000_000}], "user_id": "u"}
        response = client.post("/v3/memories/add/", json=huge)
        assert response.status_code == 413 and "larger than" in response.json()["detail"]


def test_entity_ids_accepted_inside_filters(server: MnemoServer) -> None:
    user = _user()
    with server.client() as client:
        body = {
            "messages": "I keep bees.",
            "filters": {"AND": [{"user_id": user}, {"run_id": "r1"}]},
            "infer": False,
        }
        response = client.post("/v3/memories/add/", json=body)
        assert response.status_code == 200, response.text
        (memory,) = client.post("/v3/memories/", json={"filters": {"user_id": user}}).json()["results"]
    assert memory["session_id"] == memory["run_id"] == "r1", "the run id under both names"


def test_event_lifecycle_and_listing(server: MnemoServer) -> None:
    user = _user()
    with server.client() as client:
        response = client.post(
            "/v3/memories/add/",
            json={
                "messages": [{"role": "user", "content": "I started learning the cello last month."}],
                "user_id": user,
            },
        )
        assert response.status_code == 200
        event_id = response.json()["event_id"]
        event = wait_event(server, event_id)
        assert event["status"] == "SUCCEEDED" and event["event_type"] == "ADD"
        assert event["payload"]["user_id"] == user
        assert event["results"] and event["results"][0]["user_id"] == user
        assert event["latency"] is not None and event["completed_at"] is not None
        listed = client.get("/v1/events/").json()
        assert listed["results"][0]["created_at"] >= listed["results"][-1]["created_at"]
        assert event_id in [e["id"] for e in listed["results"]]
        assert client.get(f"/v1/event/{uuid.uuid4()}/").status_code == 404
        assert client.get("/v1/event/not-a-uuid/").status_code == 400


def test_a_verbatim_adds_event_holds_the_results_it_answered(server: MnemoServer) -> None:
    user = _user()
    messages = [{"role": "user", "content": "I keep bees."}, {"role": "assistant", "content": "Bees, noted."}]
    with server.client() as client:
        first = client.post("/v3/memories/add/", json={"messages": messages, "user_id": user, "infer": False}).json()
        more = [*messages, {"role": "user", "content": "And two goats."}]
        again = client.post("/v3/memories/add/", json={"messages": more, "user_id": user, "infer": False}).json()
        events = [client.get(f"/v1/event/{answer['event_id']}/").json() for answer in (first, again)]
    assert [r["memory"] for r in first["results"]] == ["I keep bees.", "Bees, noted."]
    assert [r["memory"] for r in again["results"]] == ["And two goats."], "the two it already held are skipped"
    for answer, event in zip((first, again), events, strict=True):
        assert (event["status"], event["event_type"]) == ("SUCCEEDED", "ADD")
        assert event["results"] == answer["results"]
        assert event["completed_at"] is not None


def test_timestamp_backdates_created_at(server: MnemoServer) -> None:
    user = _user()
    with server.client() as client:
        body = {"messages": "I visited Kyoto.", "user_id": user, "infer": False, "timestamp": 1_600_000_000}
        (result,) = client.post("/v3/memories/add/", json=body).json()["results"]
        memory = client.get(f"/v1/memories/{result['id']}/").json()
    assert memory["created_at"].startswith("2020-09-13")
    assert memory["structured_attributes"]["year"] == 2020


def test_update_clears_expiration_and_rejects_empty(server: MnemoServer) -> None:
    user = _user()
    with server.client() as client:
        body = {
            "messages": "I rent a flat.",
            "user_id": user,
            "infer": False,
            "expiration_date": "2020-01-01",
        }
        (result,) = client.post("/v3/memories/add/", json=body).json()["results"]
        path = f"/v1/memories/{result['id']}/"
        assert client.put(path, json={}).status_code == 400
        assert client.put(path, json={"expiration_date": None}).status_code == 200
        assert client.get(path).json()["expiration_date"] is None
        assert client.get("/v1/memories/not-a-uuid/").status_code == 400


def test_delete_all_with_star_and_repr_filters(server: MnemoServer) -> None:
    agent = f"agent-{uuid.uuid4().hex[:6]}"
    with server.client() as client:
        client.post(
            "/v3/memories/add/",
            json={"messages": "Prefers short answers.", "agent_id": agent, "infer": False},
        )
        response = client.delete("/v1/memories/", params={"filters": str({"agent_id": agent})})
        assert response.status_code == 200, response.text
        assert response.json()["deleted_count"] == 1
        assert client.delete("/v1/memories/").status_code == 400
        assert client.delete("/v1/memories/", params={"filters": "{oops"}).status_code == 400


def test_search_validates_parameters(server: MnemoServer) -> None:
    with server.client() as client:
        for body, needle in [
            ({"query": "x"}, "filters"),
            ({"query": "  ", "filters": {"user_id": "u"}}, "query"),
            ({"query": "x", "filters": {"user_id": "u"}, "top_k": 0}, "top_k"),
            ({"query": "x", "filters": {"user_id": "u"}, "top_k": 5000}, "top_k"),
            ({"query": "x", "filters": {"NOT": {"user_id": "u"}}}, "scope"),
            ({"query": "x", "filters": {"user_id": {">=": "u"}}}, ">="),
        ]:
            response = client.post("/v3/memories/search/", json=body)
            assert response.status_code == 400, (body, response.text)
            assert needle in response.json()["detail"], (body, response.json())


def test_search_says_whether_it_reranked(server: MnemoServer) -> None:
    user = _user()
    with server.client() as client:
        client.post("/v3/memories/add/", json={"messages": "I love rowing.", "user_id": user, "infer": False})
        plain = client.post("/v3/memories/search/", json={"query": "rowing", "filters": {"user_id": user}}).json()
        asked = client.post(
            "/v3/memories/search/", json={"query": "rowing", "filters": {"user_id": user}, "rerank": True}
        ).json()
    assert "rerank" not in plain
    assert asked["rerank"]["applied"] is False and asked["results"] == plain["results"]
    breakdown = plain["results"][0]["score_breakdown"]
    assert set(breakdown) == {"semantic", "bm25", "entity", "time"}


def test_inferred_facts_keep_the_speakers_name(server: MnemoServer) -> None:
    user = _user()
    with server.client() as client:
        body = {
            "messages": [{"role": "user", "content": "I adopted a cat named Miso.", "name": "Caroline"}],
            "user_id": user,
        }
        event = wait_event(server, client.post("/v3/memories/add/", json=body).json()["event_id"])
        memory = client.get(f"/v1/memories/{event['results'][0]['id']}/").json()
    assert memory["actor_name"] == "Caroline"
    assert "Caroline" in memory["memory"]
