"""Summaries and profiles written by the project's LLM (a scripted OpenAI-compatible server), and the offline
versions answered when that LLM fails."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from testkit.scripted_llm import ScriptedLLM, error_reply, openai_reply
from testkit.server import MnemoServer, serving

LLM_NAME = "openai-compat:digest-model"


@pytest.fixture(scope="module")
def writer(
    llm: ScriptedLLM, module_database_url: str, model_dir: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[MnemoServer]:
    with serving(
        tmp_path_factory.mktemp("digest-serve"),
        database_url=module_database_url,
        model_dir=model_dir,
        extra_env=llm.openai_env("digest-model"),
    ) as running:
        yield running


def _user_with(client: httpx.Client, *texts: str) -> str:
    user = f"digest-{uuid.uuid4().hex[:8]}"
    messages = [{"role": "user", "content": text} for text in texts]
    response = client.post("/v3/memories/add/", json={"messages": messages, "user_id": user, "infer": False})
    assert response.status_code == 200, response.text
    return user


def _prompt(llm: ScriptedLLM) -> str:
    body: dict[str, Any] = llm.requests[-1].body
    return "\n".join(str(message["content"]) for message in body["messages"])


def test_the_llm_writes_the_summary_and_the_offline_one_answers_when_it_fails(
    llm: ScriptedLLM, writer: MnemoServer
) -> None:
    with writer.client() as client:
        user = _user_with(client, "I love sushi.", "I play the cello.")
        llm.script(openai_reply(json.dumps({"summary": "A sushi-loving cellist."})))
        summary = client.post("/v1/summary/", json={"filters": {"user_id": user}}).json()
        assert (summary["summary"], summary["generated_by"], summary["detail"]) == (
            "A sushi-loving cellist.",
            LLM_NAME,
            None,
        )
        assert "I love sushi." in _prompt(llm) and "I play the cello." in _prompt(llm)
        assert summary["total_memories"] == 2 and summary["sections"]

        llm.script(error_reply(400, "model not found"))
        fallback = client.post("/v1/summary/", json={"filters": {"user_id": user}}).json()
        assert fallback["generated_by"] == "offline" and "sushi" in fallback["summary"]
        assert "model not found" in fallback["detail"]


def test_the_llm_fills_the_profile_schema_and_a_failure_keeps_the_offline_profile(
    llm: ScriptedLLM, writer: MnemoServer
) -> None:
    schema = {"type": "object", "properties": {"city": {"type": "string", "description": "where they live"}}}
    with writer.client() as client:
        settings = {"entities": {"user": {"schema": schema, "custom_instructions": "Cities only."}}}
        shown = client.post("/v2/profiles/settings/", json=settings).json()
        assert shown["capabilities"]["generator"] == LLM_NAME
        user = _user_with(client, "I moved to Porto last year.")
        trigger = {"operation": "trigger", "entity_type": "user", "entity_id": user}

        llm.script(openai_reply(json.dumps({"city": "Porto", "unasked": "dropped"})))
        job = client.post("/v2/profiles/jobs/", json=trigger, headers={"Idempotency-Key": uuid.uuid4().hex}).json()
        assert job["status"] == "succeeded"
        profile = client.get(f"/v2/entities/user/{user}/profile/").json()
        assert (profile["profile"], profile["generated_by"], profile["error"]) == ({"city": "Porto"}, LLM_NAME, None)
        prompt = _prompt(llm)
        assert "I moved to Porto last year." in prompt and "Cities only." in prompt and '"city"' in prompt

        llm.script(openai_reply("not json at all"))
        client.post("/v2/profiles/jobs/", json=trigger, headers={"Idempotency-Key": uuid.uuid4().hex})
        kept = client.get(f"/v2/entities/user/{user}/profile/").json()
        assert kept["generated_by"] == "offline" and kept["generation_count"] == 2
        assert kept["profile"] and "The LLM profile failed" in kept["error"]
