"""The routes older clients call (mem0ai Python 0.1.x/1.0.x, npm 2.x), against a real ``mnemo serve``: v1 add,
get-all and search in both output formats, v2 search and get-all with their own defaults, and the run id under
both of its names in every read."""

from __future__ import annotations

import uuid
from typing import Any

import httpx

from testkit.server import MnemoServer, wait_event

BERLIN = "I live in Berlin."
UNRELATED = "My favourite colour is teal."


def _user() -> str:
    return f"legacy-{uuid.uuid4().hex[:8]}"


def _store(client: httpx.Client, user: str, *texts: str, **extra: Any) -> None:
    body = {"messages": [{"role": "user", "content": t} for t in texts], "user_id": user, "infer": False, **extra}
    response = client.post("/v3/memories/add/", json=body)
    assert response.status_code == 200, response.text


def test_v1_add_answers_in_the_output_format_asked(server: MnemoServer) -> None:
    user = _user()
    with server.client() as client:
        verbatim = {"messages": [{"role": "user", "content": BERLIN}], "user_id": user, "infer": False}
        bare = client.post("/v1/memories/", json=verbatim).json()
        assert isinstance(bare, list) and [item["memory"] for item in bare] == [BERLIN]
        assert bare[0]["event"] == "ADD" and bare[0]["data"] == {"memory": BERLIN}
        wrapped = client.post("/v1/memories/", json={**verbatim, "messages": UNRELATED, "output_format": "v1.1"})
        assert [item["memory"] for item in wrapped.json()["results"]] == [UNRELATED]

        queued = client.post("/v1/memories/", json={"messages": "I keep two cats.", "user_id": user}).json()
        (item,) = queued
        assert item["status"] == "PENDING"
        assert wait_event(server, item["event_id"])["status"] == "SUCCEEDED"

        bad = client.post("/v1/memories/", json={**verbatim, "output_format": "v2.0"})
        assert bad.status_code == 400 and "output_format" in bad.json()["detail"]
        assert client.post("/v1/memories/", json={**verbatim, "version": "v9"}).status_code == 400


def test_v1_add_with_async_mode_false_waits_for_the_extraction(server: MnemoServer) -> None:
    """The 1.0.x client sends async_mode true unless told otherwise; false answers what the worker wrote."""
    user = _user()
    body = {
        "messages": [{"role": "user", "content": "I work as a nurse at the city hospital."}],
        "user_id": user,
        "async_mode": False,
        "output_format": "v1.1",
        "version": "v2",
    }
    with server.client() as client:
        answer = client.post("/v1/memories/", json=body, timeout=130)
    assert answer.status_code == 200, answer.text
    results = answer.json()["results"]
    assert results and all(item["event"] == "ADD" for item in results)
    assert any("nurse" in item["memory"] for item in results)


def test_v1_get_all_takes_entity_ids_from_the_query_string(server: MnemoServer) -> None:
    user = _user()
    with server.client() as client:
        _store(client, user, BERLIN, UNRELATED, run_id="r1", metadata={"topic": "home"})
        _store(client, _user(), "Someone else's memory.")
        listed = client.get("/v1/memories/", params={"user_id": user}).json()
        assert isinstance(listed, list) and {m["memory"] for m in listed} == {BERLIN, UNRELATED}
        assert all(m["run_id"] == m["session_id"] == "r1" for m in listed)
        wrapped = client.get("/v1/memories/", params={"user_id": user, "output_format": "v1.1", "page_size": 1})
        assert len(wrapped.json()["results"]) == 1
        narrowed = client.get("/v1/memories/", params={"user_id": user, "keywords": "Berlin", "fields": "memory"})
        assert narrowed.json() == [{"id": narrowed.json()[0]["id"], "memory": BERLIN}]
        by_metadata = client.get("/v1/memories/", params={"user_id": user, "metadata": '{"topic": "home"}'})
        assert len(by_metadata.json()) == 2
        unscoped = client.get("/v1/memories/", params={"page": 1})
        assert unscoped.status_code == 400 and "user_id" in unscoped.json()["detail"]


def test_v1_search_takes_top_level_ids_and_has_no_threshold(server: MnemoServer) -> None:
    user = _user()
    with server.client() as client:
        _store(client, user, BERLIN, UNRELATED)
        found = client.post("/v1/memories/search/", json={"query": "Where do I live?", "user_id": user}).json()
        assert isinstance(found, list) and [m["memory"] for m in found] == [BERLIN, UNRELATED]
        assert all("score" in m and "run_id" in m and "session_id" in m for m in found)
        wrapped = client.post(
            "/v1/memories/search/", json={"query": "Where do I live?", "user_id": user, "output_format": "v1.1"}
        )
        assert [m["memory"] for m in wrapped.json()["results"]] == [BERLIN, UNRELATED]
        unscoped = client.post("/v1/memories/search/", json={"query": "Where do I live?"})
        assert unscoped.status_code == 400 and "user_id" in unscoped.json()["detail"]


def test_v2_search_requires_filters_and_defaults_to_threshold_0_3(server: MnemoServer) -> None:
    user = _user()
    with server.client() as client:
        _store(client, user, BERLIN, UNRELATED)
        query = {"query": "Where do I live?", "filters": {"user_id": user}}
        everything = client.post("/v3/memories/search/", json={**query, "threshold": 0}).json()["results"]
        scores = {m["memory"]: m["score"] for m in everything}
        assert scores[BERLIN] >= 0.3 > scores[UNRELATED], scores
        v2 = client.post("/v2/memories/search/", json=query).json()
        assert [m["memory"] for m in v2["results"]] == [BERLIN]
        assert client.post("/v2/memories/search/", json={**query, "threshold": 0}).json()["results"] == everything
        top_level = client.post("/v2/memories/search/", json={"query": "Where do I live?", "user_id": user})
        assert [m["memory"] for m in top_level.json()["results"]] == [BERLIN]
        missing = client.post("/v2/memories/search/", json={"query": "Where do I live?"})
        assert missing.status_code == 400 and "filters" in missing.json()["detail"]


def test_v2_get_all_pages_from_the_body(server: MnemoServer) -> None:
    user = _user()
    with server.client() as client:
        _store(client, user, "First.", "Second.", "Third.")
        whole = client.post("/v2/memories/", json={"filters": {"user_id": user}}).json()
        assert set(whole) == {"results"} and len(whole["results"]) == 3
        second = client.post("/v2/memories/", json={"filters": {"user_id": user}, "page": 2, "page_size": 2}).json()
        assert len(second["results"]) == 1
        by_query = client.post("/v2/memories/", params={"page": 1, "page_size": 1}, json={"user_id": user}).json()
        assert len(by_query["results"]) == 1
        missing = client.post("/v2/memories/", json={})
        assert missing.status_code == 400 and "filters" in missing.json()["detail"]


def test_the_run_id_has_both_names_in_every_read(server: MnemoServer) -> None:
    user = _user()
    with server.client() as client:
        _store(client, user, BERLIN, run_id="session-7")
        (listed,) = client.post("/v3/memories/", json={"filters": {"user_id": user}}).json()["results"]
        one = client.get(f"/v1/memories/{listed['id']}/").json()
        (hit,) = client.post(
            "/v3/memories/search/", json={"query": "Berlin", "filters": {"user_id": user}, "threshold": 0}
        ).json()["results"]
        (entry,) = client.get(f"/v1/memories/{listed['id']}/history/").json()
    for shown in (listed, one, hit, entry):
        assert shown["run_id"] == shown["session_id"] == "session-7", shown
