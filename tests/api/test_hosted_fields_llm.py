"""Hosted add fields in the LLM's prompt (``includes``/``excludes``, the observation date in its time zone) and
images described by an LLM whose profile declares vision, against a scripted OpenAI-compatible server. (A module
of its own: its server's workers must be the only ones on the module's database.)"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from testkit.scripted_llm import ScriptedLLM, openai_reply
from testkit.server import MnemoServer, serving, wait_event
from tests.api.adding import add_and_wait, texts_of

#: a 1×1 PNG
PHOTO = (
    "data:image/png;base64,"
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg=="
)


def _user() -> str:
    return f"vision-{uuid.uuid4().hex[:8]}"


@pytest.fixture(scope="module")
def vision_server(
    llm: ScriptedLLM, module_database_url: str, model_dir: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[MnemoServer]:
    env = llm.openai_env(
        "scripted-vision",
        api_key="sk-test",
        MNEMO_LLM_VISION="true",
        MNEMO_LLM_TIMEOUT_SECONDS="2",
        MNEMO_LLM_TOTAL_TIMEOUT_SECONDS="3",
        MNEMO_JOB_MAX_ATTEMPTS="1",
    )
    with serving(
        tmp_path_factory.mktemp("vision-serve"), database_url=module_database_url, model_dir=model_dir, extra_env=env
    ) as running:
        yield running


def _facts(*texts: str) -> str:
    facts = [{"text": text, "attributed_to": "user", "categories": ["misc"], "linked_ids": []} for text in texts]
    return json.dumps({"facts": facts})


def _prompt(llm: ScriptedLLM, index: int) -> str:
    """The user message of the ``index``-th request the LLM received (the extraction prompt)."""
    content = llm.requests[index].body["messages"][-1]["content"]
    return content if isinstance(content, str) else json.dumps(content)


def test_the_prompt_carries_includes_excludes_and_the_observation_date(
    llm: ScriptedLLM, vision_server: MnemoServer
) -> None:
    llm.clear()
    before = len(llm.requests)
    llm.script(openai_reply(_facts("The user loves ramen.")))
    add_and_wait(
        vision_server,
        _user(),
        "I love ramen and I hate my commute.",
        includes="food  and drink",
        excludes="commuting",
        observation_datetime="2024-05-03T23:30:00",
        timezone="America/New_York",
    )
    prompt = _prompt(llm, before)
    assert "Extract only facts about: food and drink." in prompt
    assert "Do not extract facts about: commuting." in prompt
    assert "## Observation date\n2024-05-03 (Friday)" in prompt, "the day in New York, not in UTC (the 4th)"


def test_an_image_is_described_and_the_description_extracted(llm: ScriptedLLM, vision_server: MnemoServer) -> None:
    llm.clear()
    before = len(llm.requests)
    user = _user()
    llm.script(
        openai_reply("A red bicycle leaning against a brick wall."),
        openai_reply(_facts("The user owns a red bicycle.")),
    )
    parts = [{"type": "text", "text": "This is my new bike!"}, {"type": "image_url", "image_url": {"url": PHOTO}}]
    event = add_and_wait(vision_server, user, parts)
    shown = llm.requests[before].body["messages"][-1]["content"]
    assert {"type": "image_url", "image_url": {"url": PHOTO}} in shown, shown
    assert "user: This is my new bike!\n[image: A red bicycle leaning against a brick wall.]" in _prompt(
        llm, before + 1
    )
    (report,) = event["metadata"]["media"]
    assert report["status"] == "used" and report["description"].startswith("A red bicycle")
    assert report["url"].startswith("data:image/png;base64,…")
    assert texts_of(vision_server, user) == ["The user owns a red bicycle."]


def test_a_verbatim_image_keeps_its_description(llm: ScriptedLLM, vision_server: MnemoServer) -> None:
    llm.clear()
    user = _user()
    llm.script(openai_reply("A sunset over the sea."))
    parts = [{"type": "text", "text": "Last night's view."}, {"type": "image_url", "image_url": PHOTO}]
    add_and_wait(vision_server, user, parts, infer=False)
    assert texts_of(vision_server, user) == ["Last night's view.\n[image: A sunset over the sea.]"]


def test_an_image_the_llm_cannot_describe_is_skipped(llm: ScriptedLLM, vision_server: MnemoServer) -> None:
    llm.clear()
    user = _user()
    llm.script(openai_reply(None), openai_reply(_facts("The user paints watercolours.")))
    parts = [{"type": "text", "text": "I paint watercolours."}, {"type": "image_url", "image_url": {"url": PHOTO}}]
    event = add_and_wait(vision_server, user, parts)
    (report,) = event["metadata"]["media"]
    assert report["status"] == "skipped" and "could not describe" in report["reason"]
    assert texts_of(vision_server, user) == ["The user paints watercolours."]


def test_a_v1_add_waiting_for_a_failed_extraction_says_it_failed(llm: ScriptedLLM, vision_server: MnemoServer) -> None:
    llm.clear()
    llm.script(openai_reply("no JSON here"), openai_reply("still none"))
    body = {"messages": "I love ramen.", "user_id": _user(), "async_mode": False}
    with vision_server.client() as client:
        answer = client.post("/v1/memories/", json=body, timeout=130)
    assert answer.status_code == 200, answer.text
    (item,) = answer.json()
    assert item["status"] == "FAILED" and item["message"].startswith("The add failed:"), item
    assert wait_event(vision_server, item["event_id"])["status"] == "FAILED"
