"""The three samples of Mem0's "Add Memories" (v3) reference page, run as written.

Only the host and the API key are changed. They must be accepted by mnemo and produce memories.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from testkit.server import MnemoServer, wait_event

JS_DIR = Path(__file__).parent / "js"


@pytest.fixture(autouse=True)
def _forget_alice(server: MnemoServer) -> None:
    """Each sample adds the same facts for "alice"; start each from an empty memory."""
    with server.client() as client:
        client.delete("/v1/memories/", params={"user_id": "alice"}).raise_for_status()


def _assert_processed(server: MnemoServer, answer: dict[str, object]) -> None:
    assert answer["status"] == "PENDING"
    event = wait_event(server, str(answer["event_id"]))
    assert event["status"] == "SUCCEEDED"
    assert any("San Francisco" in item["memory"] for item in event["results"]), event


def test_curl_sample(server: MnemoServer) -> None:
    curl = shutil.which("curl")
    if curl is None:
        pytest.fail("curl is required for this test")
    command = textwrap.dedent(
        f"""\
        curl -X POST {server.url}/v3/memories/add/ \\
          -H "Authorization: Token {server.api_key}" \\
          -H "Content-Type: application/json" \\
          -d '{{
            "messages": [
              {{"role": "user", "content": "I just moved to San Francisco from New York."}},
              {{"role": "assistant", "content": "Got it, I\\u0027ll update your location."}}
            ],
            "user_id": "alice"
          }}'
        """
    )
    result = subprocess.run(["bash", "-c", command], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    _assert_processed(server, json.loads(result.stdout))


def test_python_sample(server: MnemoServer, tmp_path: Path) -> None:
    script = textwrap.dedent(
        f"""\
        from mem0 import MemoryClient

        client = MemoryClient(api_key="{server.api_key}", host="{server.url}")

        result = client.add(
            messages=[
                {{"role": "user", "content": "I just moved to San Francisco from New York."}},
                {{"role": "assistant", "content": "Got it, I'll update your location."}}
            ],
            user_id="alice",
        )
        print(result)
        """
    )
    path = tmp_path / "sample.py"
    path.write_text(script)
    env = {"MEM0_TELEMETRY": "False", "MEM0_DIR": str(tmp_path / "mem0"), "PATH": "/usr/bin:/bin"}
    result = subprocess.run([sys.executable, str(path)], capture_output=True, text=True, timeout=60, env=env)
    assert result.returncode == 0, result.stderr
    answer = eval(result.stdout.strip(), {})  # the sample prints a dict's repr
    _assert_processed(server, answer)


def test_javascript_sample(server: MnemoServer) -> None:
    node = shutil.which("node")
    if node is None or not (JS_DIR / "node_modules" / "mem0ai").is_dir():
        pytest.fail("node and tests/clients/js/node_modules/mem0ai are required: run ./test, which installs them")
    script = textwrap.dedent(
        f"""\
        import MemoryClient from "mem0ai";

        const client = new MemoryClient({{ apiKey: "{server.api_key}", host: "{server.url}" }});

        const result = await client.add(
          [
            {{ role: "user", content: "I just moved to San Francisco from New York." }},
            {{ role: "assistant", content: "Got it, I'll update your location." }},
          ],
          {{ userId: "alice" }}
        );
        console.log(JSON.stringify(result));
        """
    )
    path = JS_DIR / "sample_add.mjs"
    path.write_text(script)
    try:
        result = subprocess.run(
            [node, str(path)], capture_output=True, text=True, timeout=60, env={"MEM0_TELEMETRY": "false"}
        )
    finally:
        path.unlink()
    assert result.returncode == 0, result.stderr
    answer = json.loads(result.stdout.strip().splitlines()[-1])
    assert answer.get("status") == "PENDING", answer
    event_id = answer.get("event_id") or answer.get("eventId")
    _assert_processed(server, {"status": "PENDING", "event_id": event_id})
