"""Entities, feedback, summaries and profile jobs over HTTP: the answers clients do not reach through their
methods (bad input, key reuse, empty samples), on a real ``mnemo serve``."""

from __future__ import annotations

import uuid

import httpx

from testkit.server import MnemoServer

JOBS = "/v2/profiles/jobs/"


def _user(client: httpx.Client, *texts: str) -> tuple[str, list[str]]:
    user = f"api-{uuid.uuid4().hex[:8]}"
    body = {"messages": [{"role": "user", "content": t} for t in texts], "user_id": user, "infer": False}
    results = client.post("/v3/memories/add/", json=body).json()["results"]
    return user, [item["id"] for item in results]


def _detail(response: httpx.Response, status: int) -> str:
    assert response.status_code == status, response.text
    return str(response.json()["detail"])


def test_entity_routes_refuse_what_they_cannot_answer(server: MnemoServer) -> None:
    with server.client() as client:
        assert "expected one of" in _detail(client.get("/v2/entities/robot/x/"), 400)
        assert "expected one of" in _detail(client.delete("/v1/entities/robot/x/"), 400)
        assert "never written to" in _detail(client.delete("/v1/entities/user/999999999/"), 404)
        assert "page_size" in _detail(client.get("/v1/entities/", params={"page_size": "many"}), 400)
        far = client.get("/v1/entities/", params={"page": 1000}).json()
        assert far["results"] == [] and far["next"] is None and far["previous"] is not None


def test_the_older_clients_delete_takes_the_numeric_id_too(server: MnemoServer) -> None:
    with server.client() as client:
        user, _ = _user(client, "I sail.")
        entity_id = client.get(f"/v2/entities/user/{user}/").json()["id"]
        assert client.delete(f"/v1/entities/user/{entity_id}/").json()["deleted_count"] == 1
        assert client.get(f"/v2/entities/user/{user}/").status_code == 404


def test_feedback_and_summary_refuse_bad_input(server: MnemoServer) -> None:
    with server.client() as client:
        assert "UUID" in _detail(client.post("/v1/feedback/", json={"memory_id": "nope", "feedback": "POSITIVE"}), 400)
        assert "memory_id" in _detail(client.post("/v1/feedback/", json={"feedback": "POSITIVE"}), 400)
        long_reason = {"memory_id": str(uuid.uuid4()), "feedback_reason": "x" * 10_001}
        assert "10000" in _detail(client.post("/v1/feedback/", json=long_reason), 400).replace(",", "")
        unscoped = client.post("/v1/summary/", json={"filters": {"categories": {"in": ["food"]}}})
        assert unscoped.status_code == 400, unscoped.text


def test_profile_jobs_refuse_bad_requests_and_reused_keys(server: MnemoServer) -> None:
    with server.client() as client:
        user, _ = _user(client, "I paint.")
        trigger = {"operation": "trigger", "entity_type": "user", "entity_id": user}
        assert "entity_id" in _detail(client.post(JOBS, json={"operation": "trigger", "entity_type": "user"}), 400)
        assert "entity_type" in _detail(client.post(JOBS, json={"operation": "sample"}), 400)
        key = {"Idempotency-Key": uuid.uuid4().hex}
        assert client.post(JOBS, json=trigger, headers=key).json()["status"] == "succeeded"
        other = {**trigger, "entity_id": f"{user}-other"}
        assert "Idempotency-Key" in _detail(client.post(JOBS, json=other, headers=key), 409)
        assert "job_id" in _detail(client.get(f"{JOBS}not-a-job/"), 400)
        assert "No profile job" in _detail(client.get(f"{JOBS}{uuid.uuid4()}/"), 404)


def test_profile_settings_refuse_flat_and_undescribed_fields(server: MnemoServer) -> None:
    with server.client() as client:
        flat = client.post("/v2/profiles/settings/", json={"custom_instructions": "Be brief."})
        assert "Unsupported settings" in _detail(flat, 400)
        undescribed = {"entities": {"user": {"schema": {"type": "object", "properties": {"age": {}}}}}}
        assert "description" in _detail(client.post("/v2/profiles/settings/", json=undescribed), 400)
        unknown = {"entities": {"user": {"colour": "blue"}}}
        assert client.post("/v2/profiles/settings/", json=unknown).status_code == 400


def test_a_user_without_current_memories_has_insufficient_data_and_is_skipped(server: MnemoServer) -> None:
    with server.client() as client:
        user, (only,) = _user(client, "I knit.")
        client.delete(f"/v1/memories/{only}/")
        shown = client.get(f"/v2/entities/user/{user}/profile/").json()
        assert (shown["status"], shown["profile"]) == ("insufficient_data", {})
        job = {"operation": "trigger", "entity_type": "user", "entity_id": user}
        created = client.post(JOBS, json=job, headers={"Idempotency-Key": uuid.uuid4().hex}).json()
        status = client.get(created["status_url"]).json()["job"]
        assert (status["status"], status["skipped"], status["succeeded"]) == ("succeeded", 1, 0)
