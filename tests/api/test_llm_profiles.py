"""Per-project LLM profiles end to end: two scripted LLM servers, profiles from the environment (JSON) and the
config file (TOML), and projects that pick one through PATCH on the project."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from mem0 import MemoryClient

from testkit.scripted_llm import ScriptedLLM, anthropic_reply, openai_reply
from testkit.server import MnemoServer, run_cli, start_server, wait_event


@pytest.fixture(scope="module")
def hosted() -> Iterator[ScriptedLLM]:
    """The deployment's default LLM."""
    with ScriptedLLM() as scripted:
        yield scripted


@pytest.fixture(scope="module")
def local() -> Iterator[ScriptedLLM]:
    """A second LLM server, behind the "local" and "claude" profiles."""
    with ScriptedLLM() as scripted:
        yield scripted


def _profiles_env(hosted: ScriptedLLM, local: ScriptedLLM, config: Path) -> dict[str, str]:
    config.write_text(
        f'llm_timeout_seconds = 5\n\n[llm_profiles.claude]\nprovider = "anthropic"\nbase_url = "{local.url}"\n'
        'model = "claude-test"\napi_key = "sk-ant-profile"\n'
    )
    profiles = {
        "local": {"provider": "openai", "base_url": local.openai_url, "model": "model-local", "api_key": "sk-local"},
        "offline": {"provider": "none"},
    }
    return {
        "MNEMO_CONFIG_FILE": str(config),
        "MNEMO_LLM_PROVIDER": "openai",
        "MNEMO_LLM_BASE_URL": hosted.openai_url,
        "MNEMO_LLM_MODEL": "model-hosted",
        "MNEMO_LLM_API_KEY": "sk-hosted",
        "MNEMO_LLM_PROFILES": json.dumps(profiles),
        "MNEMO_JOB_MAX_ATTEMPTS": "1",
        "MNEMO_LLM_FALLBACK": "fail",
    }


@pytest.fixture(scope="module")
def served(
    hosted: ScriptedLLM,
    local: ScriptedLLM,
    module_database_url: str,
    model_dir: Path,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[MnemoServer]:
    data_dir = tmp_path_factory.mktemp("profiles")
    running = start_server(
        data_dir,
        database_url=module_database_url,
        model_dir=model_dir,
        extra_env=_profiles_env(hosted, local, data_dir / "profiles.toml"),
    )
    try:
        yield running
    finally:
        running.stop()


@pytest.fixture(scope="module")
def other_key(served: MnemoServer, module_database_url: str) -> str:
    """A key of a second project."""
    env = {**served.env, "MNEMO_DATABASE_URL": module_database_url}
    result = run_cli(["keys", "create", "--project", "proj_local", "--name", "local"], env=env)
    assert result.returncode == 0, result.stderr
    return result.stdout.strip().splitlines()[-1]


def _facts(text: str) -> str:
    return json.dumps({"facts": [{"text": text, "attributed_to": "user", "categories": ["misc"], "linked_ids": []}]})


def _project_path(server: MnemoServer, key: str | None = None) -> str:
    with server.client(key) as http:
        ping = http.get("/v1/ping/").json()
    return f"/api/v1/orgs/organizations/{ping['org_id']}/projects/{ping['project_id']}/"


def _patch(server: MnemoServer, body: dict[str, Any], key: str | None = None) -> httpx.Response:
    with server.client(key) as http:
        return http.patch(_project_path(server, key), json=body)


def _choose(server: MnemoServer, llm: dict[str, Any] | None, key: str | None = None) -> None:
    response = _patch(server, {"llm": llm}, key)
    assert response.status_code == 200, response.text


def _add(server: MnemoServer, content: str, key: str | None = None) -> dict[str, Any]:
    user = f"prof-{uuid.uuid4().hex[:8]}"
    with server.client(key) as http:
        body = {"messages": [{"role": "user", "content": content}], "user_id": user}
        response = http.post("/v3/memories/add/", json=body)
        assert response.status_code == 200, response.text
    return wait_event(server, response.json()["event_id"], key=key)


def _remember(server: MnemoServer, user: str, texts: list[str], key: str | None = None) -> None:
    """Stores each text verbatim (infer=false: no LLM involved)."""
    with server.client(key) as http:
        for text in texts:
            response = http.post("/v3/memories/add/", json={"messages": text, "user_id": user, "infer": False})
            assert response.status_code == 200, response.text


def _search(server: MnemoServer, user: str, *, rerank: bool, key: str | None = None) -> dict[str, Any]:
    with server.client(key) as http:
        body = {"query": "pets", "filters": {"user_id": user}, "threshold": 0, "rerank": rerank}
        response = http.post("/v3/memories/search/", json=body)
    assert response.status_code == 200, response.text
    found: dict[str, Any] = response.json()
    return found


def _project(server: MnemoServer, key: str | None = None) -> httpx.Response:
    with server.client(key) as http:
        return http.get(_project_path(server, key))


def test_each_project_uses_its_own_profile_and_model(
    served: MnemoServer, hosted: ScriptedLLM, local: ScriptedLLM, other_key: str
) -> None:
    _choose(served, {"profile": "local", "model": "llama3.1:8b"}, other_key)
    hosted_before, local_before = len(hosted.requests), len(local.requests)
    hosted.script(openai_reply(_facts("The user likes tea.")))
    local.script(openai_reply(_facts("The user likes coffee.")))

    mine = _add(served, "I like tea.")
    theirs = _add(served, "I like coffee.", other_key)

    assert mine["status"] == "SUCCEEDED" and theirs["status"] == "SUCCEEDED", (mine, theirs)
    assert [r["memory"] for r in mine["results"]] == ["The user likes tea."]
    assert [r["memory"] for r in theirs["results"]] == ["The user likes coffee."]
    (to_hosted,) = hosted.requests[hosted_before:]
    (to_local,) = local.requests[local_before:]
    assert to_hosted.body["model"] == "model-hosted" and to_hosted.headers["authorization"] == "Bearer sk-hosted"
    assert to_local.body["model"] == "llama3.1:8b" and to_local.headers["authorization"] == "Bearer sk-local"
    assert "I like coffee." in json.dumps(to_local.body["messages"])
    assert "llama3.1:8b" in theirs["metadata"]["extractor"]


def test_get_project_shows_the_choice_and_no_secret(served: MnemoServer, other_key: str) -> None:
    _choose(served, {"profile": "local", "model": "llama3.1:8b"}, other_key)
    response = _project(served, other_key)
    assert response.json()["llm"] == {"profile": "local", "provider": "openai", "model": "llama3.1:8b"}
    assert "sk-" not in response.text and "127.0.0.1" not in response.text

    client = MemoryClient(api_key=served.api_key, host=served.url)
    assert client.project.get()["llm"] == {"profile": "default", "provider": "openai", "model": "model-hosted"}


def test_without_a_model_the_profile_model_is_used_and_null_resets(
    served: MnemoServer, hosted: ScriptedLLM, local: ScriptedLLM, other_key: str
) -> None:
    _choose(served, {"profile": "local"}, other_key)
    local.script(openai_reply(_facts("The user sails.")))
    before = len(local.requests)
    assert _add(served, "I sail.", other_key)["status"] == "SUCCEEDED"
    assert local.requests[before].body["model"] == "model-local"
    assert _project(served, other_key).json()["llm"]["model"] == "model-local"

    _choose(served, None, other_key)
    hosted.script(openai_reply(_facts("The user rows.")))
    before = len(hosted.requests)
    assert _add(served, "I row.", other_key)["status"] == "SUCCEEDED"
    assert hosted.requests[before].body["model"] == "model-hosted"
    assert _project(served, other_key).json()["llm"]["profile"] == "default"


def test_a_profile_from_the_config_file_speaks_anthropic(
    served: MnemoServer, local: ScriptedLLM, other_key: str
) -> None:
    _choose(served, {"profile": "claude", "model": "claude-other"}, other_key)
    local.script(anthropic_reply(_facts("The user knits.")))
    before = len(local.requests)
    event = _add(served, "I knit.", other_key)
    assert event["status"] == "SUCCEEDED", event
    request = local.requests[before]
    assert request.path == "/v1/messages"
    assert request.body["model"] == "claude-other" and request.headers["x-api-key"] == "sk-ant-profile"
    _choose(served, None, other_key)


def test_an_offline_profile_calls_no_llm(
    served: MnemoServer, hosted: ScriptedLLM, local: ScriptedLLM, other_key: str
) -> None:
    _choose(served, {"profile": "offline"}, other_key)
    before = len(hosted.requests) + len(local.requests)
    event = _add(served, "I adopted a cat named Miso.", other_key)
    assert event["status"] == "SUCCEEDED", event
    assert event["metadata"]["extractor"].startswith("offline")
    assert len(hosted.requests) + len(local.requests) == before
    assert _project(served, other_key).json()["llm"] == {"profile": "offline", "provider": "none", "model": None}
    _choose(served, None, other_key)


def test_rerank_uses_the_projects_profile_and_model(
    served: MnemoServer, hosted: ScriptedLLM, local: ScriptedLLM, other_key: str
) -> None:
    user = f"prof-{uuid.uuid4().hex[:8]}"
    _remember(served, user, ["I keep two cats.", "My parrot is called Kiwi.", "I dislike rainy days."], other_key)
    fused = [r["id"] for r in _search(served, user, rerank=False, key=other_key)["results"]]
    assert len(fused) == 3

    _choose(served, {"profile": "local", "model": "llama3.1:8b"}, other_key)
    hosted_before, local_before = len(hosted.requests), len(local.requests)
    local.script(openai_reply(json.dumps({"order": ["2", "0", "1"]})))
    reranked = _search(served, user, rerank=True, key=other_key)
    assert reranked["rerank"]["applied"] is True, reranked["rerank"]
    assert reranked["rerank"]["by"] == "openai-compat:llama3.1:8b"
    assert [r["id"] for r in reranked["results"]] == [fused[i] for i in (2, 0, 1)]
    (to_local,) = local.requests[local_before:]
    assert to_local.body["model"] == "llama3.1:8b" and to_local.headers["authorization"] == "Bearer sk-local"
    assert "My parrot is called Kiwi." in json.dumps(to_local.body["messages"])
    assert len(hosted.requests) == hosted_before  # the default LLM saw none of these memories

    # An offline profile: the documented no-op, and no LLM is called.
    _choose(served, {"profile": "offline"}, other_key)
    before = len(hosted.requests) + len(local.requests)
    offline = _search(served, user, rerank=True, key=other_key)
    assert offline["rerank"]["applied"] is False and offline["rerank"]["by"] is None
    assert "LLM profile 'offline' has no LLM" in offline["rerank"]["detail"]
    assert [r["id"] for r in offline["results"]] == fused
    assert len(hosted.requests) + len(local.requests) == before

    # Back on the default profile, the default LLM re-ranks.
    _choose(served, None, other_key)
    hosted.script(openai_reply(json.dumps({"order": ["1", "0", "2"]})))
    by_default = _search(served, user, rerank=True, key=other_key)
    assert by_default["rerank"] == {
        "applied": True,
        "by": "openai-compat:model-hosted",
        "detail": "Re-ranked by the LLM.",
    }
    assert hosted.requests[-1].body["model"] == "model-hosted"
    assert len(local.requests) == local_before + 1


@pytest.mark.parametrize(
    ("llm", "detail"),
    [
        ({"profile": "gpt"}, "Unknown LLM profile 'gpt'; this deployment defines: claude, default, local, offline."),
        ({"profile": "local", "base_url": "http://attacker.example/v1"}, "base_url"),
        ({"profile": "local", "api_key": "sk-mine"}, "api_key"),
        ({"profile": "offline", "model": "llama3"}, "takes no model"),
        ({"model": "llama3"}, "profile"),
        ({"profile": ""}, "profile"),
        ("local", "llm"),
    ],
)  # fmt: skip
def test_bad_choices_are_refused(served: MnemoServer, other_key: str, llm: Any, detail: str) -> None:
    _choose(served, {"profile": "local"}, other_key)
    response = _patch(served, {"llm": llm}, other_key)
    assert response.status_code == 400, response.text
    assert detail in response.json()["detail"]
    assert _project(served, other_key).json()["llm"]["profile"] == "local"  # unchanged
    _choose(served, None, other_key)


def test_a_profile_the_deployment_drops_fails_the_add_visibly(
    hosted: ScriptedLLM,
    local: ScriptedLLM,
    database_url: str,
    model_dir: Path,
    tmp_path: Path,
) -> None:
    env = _profiles_env(hosted, local, tmp_path / "profiles.toml")
    first = start_server(tmp_path / "one", database_url=database_url, model_dir=model_dir, extra_env=env)
    try:
        _choose(first, {"profile": "local"})
    finally:
        first.stop()
    env.pop("MNEMO_LLM_PROFILES")
    second = start_server(tmp_path / "two", database_url=database_url, model_dir=model_dir, extra_env=env)
    try:
        before = len(hosted.requests) + len(local.requests)
        event = _add(second, "I paint.")
        assert event["status"] == "FAILED"
        assert "Unknown LLM profile 'local'; this deployment defines: claude, default." in event["error"]
        assert len(hosted.requests) + len(local.requests) == before  # never silently another LLM
        assert _project(second).json()["llm"] == {"profile": "local", "provider": None, "model": None}
        # Re-ranking does not fall back to another LLM either: the search answers with the fused order.
        user = f"prof-{uuid.uuid4().hex[:8]}"
        _remember(second, user, ["I keep two cats.", "My parrot is called Kiwi."])
        searched = _search(second, user, rerank=True)
        assert searched["rerank"]["applied"] is False
        assert "Unknown LLM profile 'local'" in searched["rerank"]["detail"]
        assert [r["id"] for r in searched["results"]] == [
            r["id"] for r in _search(second, user, rerank=False)["results"]
        ]
        assert len(hosted.requests) + len(local.requests) == before
    finally:
        second.stop()
