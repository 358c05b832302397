"""The LLM extraction path end to end: mnemo serve talking to a scripted OpenAI-compatible server."""

from __future__ import annotations

import json
import threading
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from testkit.scripted_llm import ScriptedLLM, error_reply, openai_reply
from testkit.server import MnemoServer, run_cli, serving, wait_event


@pytest.fixture(scope="module")
def llm_server(
    llm: ScriptedLLM, module_database_url: str, model_dir: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[MnemoServer]:
    env = llm.openai_env(
        "scripted-model",
        api_key="sk-test",
        MNEMO_LLM_TIMEOUT_SECONDS="2",
        MNEMO_LLM_TOTAL_TIMEOUT_SECONDS="3",
        MNEMO_JOB_MAX_ATTEMPTS="2",
    )
    with serving(
        tmp_path_factory.mktemp("llm-serve"), database_url=module_database_url, model_dir=model_dir, extra_env=env
    ) as running:
        yield running


def _facts(*facts: dict[str, Any]) -> str:
    return json.dumps({"facts": list(facts)})


def _fact(
    text: str, *, by: str = "user", categories: list[str] | None = None, linked: list[str] | None = None
) -> dict[str, Any]:
    return {"text": text, "attributed_to": by, "categories": categories or ["misc"], "linked_ids": linked or []}


def _add(server: MnemoServer, user: str, content: str, **extra: Any) -> dict[str, Any]:
    with server.client() as client:
        response = client.post(
            "/v3/memories/add/", json={"messages": [{"role": "user", "content": content}], "user_id": user, **extra}
        )
        assert response.status_code == 200, response.text
        return wait_event(server, response.json()["event_id"])


def test_llm_facts_are_stored_with_categories_and_usage(llm: ScriptedLLM, llm_server: MnemoServer) -> None:
    user = f"llm-{uuid.uuid4().hex[:6]}"
    llm.script(
        openai_reply(
            _facts(_fact("Alice is vegetarian.", categories=["food", "health"])),
            prompt_tokens=120,
            completion_tokens=30,
        )
    )
    event = _add(llm_server, user, "I'm vegetarian, by the way.", custom_instructions="Only food facts.")
    assert event["status"] == "SUCCEEDED", event
    assert [r["memory"] for r in event["results"]] == ["Alice is vegetarian."]
    assert event["metadata"]["llm"]["prompt_tokens"] == 120
    assert event["metadata"]["llm"]["completion_tokens"] == 30
    request = llm.requests[-1]
    assert request.body["model"] == "scripted-model"
    assert request.headers["authorization"] == "Bearer sk-test"
    assert "Only food facts." in json.dumps(request.body["messages"])
    with llm_server.client() as client:
        memory = client.get(f"/v1/memories/{event['results'][0]['id']}/").json()
    assert memory["categories"] == ["food", "health"]


def test_malformed_output_fails_visibly_then_retry_succeeds(llm: ScriptedLLM, llm_server: MnemoServer) -> None:
    user = f"llm-{uuid.uuid4().hex[:6]}"
    llm.script(openai_reply("this is not json"), openai_reply("{still not json"))
    event = _add(llm_server, user, "I run marathons.")
    assert event["status"] == "FAILED"
    assert "JSON" in event["error"]
    assert "still not json" in event["metadata"]["raw_output"]

    llm.script(openai_reply(_facts(_fact("The user runs marathons.", categories=["sports"]))))
    result = run_cli(["events", "retry", event["id"]], env={**llm_server.env, "MNEMO_DATABASE_URL": _db(llm_server)})
    assert result.returncode == 0, result.stderr
    retried = wait_event(llm_server, event["id"])
    assert retried["status"] == "SUCCEEDED", retried
    assert [r["memory"] for r in retried["results"]] == ["The user runs marathons."]
    with llm_server.client() as client:
        again = client.post(f"/v1/event/{event['id']}/retry/")
        assert again.status_code == 409 and "SUCCEEDED" in again.json()["detail"]

    llm.script(openai_reply("nope"), openai_reply("nope again"))
    failed = _add(llm_server, user, "I swim too.")
    assert failed["status"] == "FAILED"
    llm.script(openai_reply(_facts(_fact("The user swims.", categories=["sports"]))))
    with llm_server.client() as client:
        response = client.post(f"/v1/event/{failed['id']}/retry/")
        assert response.status_code == 200 and response.json()["status"] == "PENDING"
    assert wait_event(llm_server, failed["id"])["status"] == "SUCCEEDED"


def test_unreachable_llm_falls_back_to_offline_extractor(llm: ScriptedLLM, llm_server: MnemoServer) -> None:
    user = f"llm-{uuid.uuid4().hex[:6]}"
    llm.script(*[error_reply(503, "overloaded")] * 40)
    event = _add(llm_server, user, "I adopted a cat named Miso last week.", timestamp=1_700_000_000)
    llm.clear()
    assert event["status"] == "SUCCEEDED", event
    assert "fallback" in event["metadata"]["extractor"]
    assert event["attempts"] == 2
    assert any("Miso" in r["memory"] for r in event["results"])


def test_supersede_links_the_older_memory(llm: ScriptedLLM, llm_server: MnemoServer) -> None:
    llm.clear()
    user = f"llm-{uuid.uuid4().hex[:6]}"
    llm.script(openai_reply(_facts(_fact("The user works at Acme.", categories=["professional_details"]))))
    first = _add(llm_server, user, "I work at Acme.")
    old_id = first["results"][0]["id"]
    llm.script(
        openai_reply(_facts(_fact("The user works at Globex.", categories=["professional_details"], linked=["0"])))
    )
    second = _add(llm_server, user, "I just started at Globex.")
    assert second["metadata"]["superseded"] == 1
    new_id = second["results"][0]["id"]
    prompt = json.dumps(llm.requests[-1].body["messages"])
    assert "The user works at Acme." in prompt and old_id not in prompt
    assert "I work at Acme." in prompt  # the scope's recent messages are context too
    with llm_server.client() as client:
        old = client.get(f"/v1/memories/{old_id}/").json()
        assert old["replaced_by"] == new_id and old["lifecycle_state"] == "superseded"
        both = client.post("/v3/memories/", json={"filters": {"user_id": user}}).json()
        assert {m["id"] for m in both["results"]} == {old_id, new_id}
        latest = client.post("/v3/memories/", json={"filters": {"user_id": user}, "latest_only": True}).json()
        assert [m["id"] for m in latest["results"]] == [new_id]
        deleted = client.delete(f"/v1/memories/{new_id}/", params={"delete_linked": "true"}).json()
        assert deleted["cascade_count"] == 1
        assert client.get(f"/v1/memories/{old_id}/").status_code == 404


def test_concurrent_adds_supersede_one_memory_once(llm: ScriptedLLM, llm_server: MnemoServer) -> None:
    """Two adds that both replace the same memory, extracted at the same time (both read it as current before
    either writes): one supersedes it, the other finds it superseded and leaves it alone."""
    llm.clear()
    user = f"llm-{uuid.uuid4().hex[:6]}"
    llm.script(openai_reply(_facts(_fact("The user works at Acme.", categories=["professional_details"]))))
    old_id = _add(llm_server, user, "I work at Acme.")["results"][0]["id"]
    gate = threading.Barrier(2, timeout=1.5)
    llm.script(
        *(
            openai_reply(_facts(_fact(f"The user works at {name}.", linked=["0"])), gate=gate)
            for name in ("Globex", "Initech")
        )
    )
    with llm_server.client() as client:
        posted = [
            client.post("/v3/memories/add/", json={"messages": f"I now work at {name}.", "user_id": user})
            for name in ("Globex", "Initech")
        ]
    events = [wait_event(llm_server, response.json()["event_id"]) for response in posted]
    assert not gate.broken, "the two extractions did not run at the same time"
    assert [event["status"] for event in events] == ["SUCCEEDED", "SUCCEEDED"], events
    counts = {event["results"][0]["id"]: event["metadata"]["superseded"] for event in events}
    assert sorted(counts.values()) == [0, 1]
    with llm_server.client() as client:
        old = client.get(f"/v1/memories/{old_id}/").json()
        assert counts[old["replaced_by"]] == 1  # the add that says it superseded the memory is its successor
        history = client.get(f"/v1/memories/{old_id}/history/").json()
        assert [entry["event"] for entry in history] == ["ADD", "UPDATE"]
        latest = client.post("/v3/memories/", json={"filters": {"user_id": user}, "latest_only": True}).json()
        assert {m["id"] for m in latest["results"]} == set(counts)


def _db(server: MnemoServer) -> str:
    args = server.process.args
    assert isinstance(args, list)
    return str(args[args.index("--database-url") + 1])


def test_project_instructions_apply_when_the_call_has_none(llm: ScriptedLLM, llm_server: MnemoServer) -> None:
    llm.clear()
    with llm_server.client() as client:
        ping = client.get("/v1/ping/").json()
        path = f"/api/v1/orgs/organizations/{ping['org_id']}/projects/{ping['project_id']}/"
        response = client.patch(path, json={"custom_instructions": "Project rule: keep pets only."})
        assert response.status_code == 200, response.text
    llm.script(openai_reply(_facts(_fact("The user has a parrot.", categories=["misc"]))))
    event = _add(llm_server, f"llm-{uuid.uuid4().hex[:6]}", "I have a parrot.")
    assert event["status"] == "SUCCEEDED"
    assert "Project rule: keep pets only." in json.dumps(llm.requests[-1].body["messages"])
    llm.script(openai_reply(_facts(_fact("The user has a dog.", categories=["misc"]))))
    _add(llm_server, f"llm-{uuid.uuid4().hex[:6]}", "I have a dog.", custom_instructions="Call rule wins.")
    prompt = json.dumps(llm.requests[-1].body["messages"])
    assert "Call rule wins." in prompt and "Project rule" not in prompt


def test_rerank_uses_the_llm_and_survives_its_failure(llm: ScriptedLLM, llm_server: MnemoServer) -> None:
    llm.clear()
    user = f"llm-{uuid.uuid4().hex[:6]}"
    with llm_server.client() as client:
        for text in ("I keep two cats.", "My cats are called Tom and Jerry.", "I dislike rainy days."):
            client.post("/v3/memories/add/", json={"messages": text, "user_id": user, "infer": False})
        body = {"query": "cats", "filters": {"user_id": user}, "threshold": 0, "rerank": True}
        fused = client.post("/v3/memories/search/", json={**body, "rerank": False}).json()["results"]
        llm.script(openai_reply(json.dumps({"order": ["2", "0", "1"]})))
        reranked = client.post("/v3/memories/search/", json=body).json()
        assert reranked["rerank"]["applied"] is True, reranked["rerank"]
        assert [r["id"] for r in reranked["results"]] == [fused[i]["id"] for i in (2, 0, 1)]
        llm.script(openai_reply("no json here"))
        failed = client.post("/v3/memories/search/", json=body).json()
        assert failed["rerank"]["applied"] is False and "failed" in failed["rerank"]["detail"]
        assert [r["id"] for r in failed["results"]] == [r["id"] for r in fused]


def test_fact_with_the_same_meaning_is_not_stored_twice(llm: ScriptedLLM, llm_server: MnemoServer) -> None:
    llm.clear()
    user = f"llm-{uuid.uuid4().hex[:6]}"
    llm.script(openai_reply(_facts(_fact("The user owns a red bicycle."))))
    first = _add(llm_server, user, "I own a red bicycle.")
    assert len(first["results"]) == 1
    llm.script(openai_reply(_facts(_fact("The user owns a red bicycle!"), _fact("The user commutes by train."))))
    second = _add(llm_server, user, "My red bicycle is great, but I commute by train.")
    assert [r["memory"] for r in second["results"]] == ["The user commutes by train."]
    assert second["metadata"]["same_meaning_skipped"] == 1


def test_facts_differing_in_numbers_or_names_are_both_kept(llm: ScriptedLLM, llm_server: MnemoServer) -> None:
    llm.clear()
    user = f"llm-{uuid.uuid4().hex[:6]}"
    llm.script(openai_reply(_facts(_fact("The user has 2 kids."))))
    _add(llm_server, user, "I have 2 kids.")
    llm.script(openai_reply(_facts(_fact("The user has 3 kids."))))
    second = _add(llm_server, user, "Actually we now have 3 kids.")
    assert [r["memory"] for r in second["results"]] == ["The user has 3 kids."]
    assert second["metadata"]["same_meaning_skipped"] == 0


def test_serve_runs_as_many_jobs_at_once_as_the_llm_allows_requests(
    migrated_database_url: str, model_dir: Path, tmp_path: Path
) -> None:
    """The workers inside ``serve`` default to two jobs, but a job waiting for the LLM holds no CPU: with an LLM
    configured, its limit (here 3 requests in flight) bounds the extraction, not the worker's slots."""
    with ScriptedLLM() as slow:
        slow.script(*[openai_reply(_facts(_fact(f"Fact {n}.")), delay=0.8) for n in range(6)])
        env = slow.openai_env("scripted-model", api_key="sk-test", MNEMO_LLM_MAX_CONCURRENCY="3")
        # A database of its own: the module's server runs workers too, and they would take these jobs.
        with serving(tmp_path, database_url=migrated_database_url, model_dir=model_dir, extra_env=env) as server:
            user = f"llm-{uuid.uuid4().hex[:6]}"
            with server.client() as client:
                events = [
                    client.post(
                        "/v3/memories/add/",
                        json={"messages": [{"role": "user", "content": f"Message {n}."}], "user_id": user},
                    ).json()["event_id"]
                    for n in range(6)
                ]
            assert [wait_event(server, event)["status"] for event in events] == ["SUCCEEDED"] * 6
        assert slow.max_in_flight == 3
