"""Every public method of the official Python clients (``MemoryClient``, ``AsyncMemoryClient`` and their
``project``, mem0ai 2.2.1) called against mnemo, each answer checked as the client returns it.

Each client runs the scenario of ``every_method.py`` in a project of its own (the last step deletes it), so
no method meets a 404 or 405 and a method added to the client without a step fails here.
"""

from __future__ import annotations

import inspect
import json
import os
import shutil
import subprocess
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from testkit.server import MnemoServer, run_cli, wait_event
from tests.api.webhook_support import Receiver
from tests.clients.every_method import STEPS, Scene, called, public_methods

pytestmark = pytest.mark.anyio


@pytest.fixture(params=["sync", "async"])
def kind(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture(scope="module")
def receiver() -> Iterator[Receiver]:
    with Receiver.running() as running:
        yield running


def _project_key(server: MnemoServer, database_url: str) -> str:
    """A key for a project of its own."""
    env = {**server.env, "MNEMO_DATABASE_URL": database_url}
    project = f"proj_every_{uuid.uuid4().hex[:8]}"
    result = run_cli(["keys", "create", "--project", project, "--name", "every-method"], env=env)
    assert result.returncode == 0, result.stderr
    return result.stdout.strip().splitlines()[-1]


def _scene(client: Any, receiver: Receiver) -> Scene:
    scene = Scene(webhook_url=receiver.url)
    scene.found["project_id"] = client.project_id
    return scene


def _target(client: Any, name: str) -> Any:
    return client if name == "memory" else client.project


async def _run(client: Any, server: MnemoServer, key: str, receiver: Receiver) -> None:
    """Every step against ``client``, sync or async (an async client's answers are awaited)."""
    assert public_methods(client) == called()
    scene = _scene(client, receiver)
    for step in STEPS:
        args, kwargs = step.args(scene)
        answer = getattr(_target(client, step.target), step.method)(*args, **kwargs)
        if inspect.isawaitable(answer):
            answer = await answer
        step.check(answer, scene)
        if step.method == "add" and answer.get("status") == "PENDING":
            wait_event(server, answer["event_id"], key=key)


async def test_every_method(
    server: MnemoServer, module_database_url: str, receiver: Receiver, tmp_path: Path, kind: str
) -> None:
    from mem0 import AsyncMemoryClient, MemoryClient

    os.environ["MEM0_DIR"] = str(tmp_path)
    key = _project_key(server, module_database_url)
    client_class = MemoryClient if kind == "sync" else AsyncMemoryClient
    await _run(client_class(api_key=key, host=server.url), server, key, receiver)


JS_DIR = Path(__file__).parent / "js"


def test_every_npm_method(server: MnemoServer, module_database_url: str, receiver: Receiver) -> None:
    node = shutil.which("node")
    if node is None or not (JS_DIR / "node_modules" / "mem0ai").is_dir():
        pytest.fail("node and tests/clients/js/node_modules/mem0ai are required: run ./test, which installs them")
    key, user = _project_key(server, module_database_url), f"npm-{uuid.uuid4().hex[:8]}"
    env = {"MEM0_TELEMETRY": "false", "MNEMO_URL": server.url, "MNEMO_KEY": key, "HOOK_URL": receiver.url}
    result = subprocess.run(
        [node, str(JS_DIR / "every_method.mjs")],
        capture_output=True,
        text=True,
        timeout=300,
        env={**env, "USER_ID": user},
    )
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout.strip().splitlines()[-1])
    answers: dict[str, Any] = report["answers"]
    assert set(report["methods"]) == set(answers)
    assert {name: a for name, a in answers.items() if isinstance(a, dict) and "thrown" in a} == {}
    assert answers["get"]["userId"] == user and answers["getAll"]["count"] >= 2
    assert answers["search"]["results"][0]["memory"] == "I live in Lisbon."
    assert answers["update"]["memory"] == "I live in Porto now."
    assert [entry["event"] for entry in answers["history"]][:2] == ["ADD", "UPDATE"]
    assert answers["feedback"]["feedback"] == "POSITIVE"
    assert ("user", user) in [(e["type"], e["name"]) for e in answers["users"]["results"]]
    assert len(answers["getMemoryExport"]["memories"]) >= 2
    assert answers["getProfile"]["entityId"] == user and answers["getProfile"]["profile"]
    assert answers["createWebhook"]["url"] == receiver.url
    assert [hook["name"] for hook in answers["getWebhooks"]] == ["renamed"]
    assert answers["deleteUsers"]["message"] == "Entity deleted successfully."
