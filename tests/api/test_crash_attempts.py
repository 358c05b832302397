"""A job whose process dies on its last attempt ends FAILED with that cause; it never runs past max_attempts."""

from __future__ import annotations

import json
import time
from pathlib import Path

from testkit.scripted_llm import ScriptedLLM, openai_reply
from testkit.server import start_server, wait_event


def test_a_job_whose_worker_dies_on_its_last_attempt_fails_instead_of_running_again(
    database_url: str, model_dir: Path, tmp_path: Path
) -> None:
    with ScriptedLLM() as llm:
        # The only reply never arrives in time: the job is RUNNING in the LLM call when its process is killed.
        llm.script(openai_reply(json.dumps({"facts": []}), delay=120))
        env = {
            "MNEMO_LLM_PROVIDER": "openai",
            "MNEMO_LLM_BASE_URL": llm.openai_url,
            "MNEMO_LLM_API_KEY": "sk-test",
            "MNEMO_LLM_TIMEOUT_SECONDS": "300",
            "MNEMO_LLM_TOTAL_TIMEOUT_SECONDS": "300",
            "MNEMO_JOB_MAX_ATTEMPTS": "1",
        }
        first = start_server(tmp_path / "first", database_url=database_url, model_dir=model_dir, extra_env=env)
        try:
            with first.client() as client:
                response = client.post(
                    "/v3/memories/add/", json={"messages": "I moved to Lisbon last spring.", "user_id": "crash"}
                )
                assert response.status_code == 200, response.text
                event_id = response.json()["event_id"]
            deadline = time.monotonic() + 60
            while not llm.requests and time.monotonic() < deadline:
                time.sleep(0.05)
            assert llm.requests, "the job never reached the LLM"
        finally:
            first.kill()

        second = start_server(
            tmp_path / "second", database_url=database_url, model_dir=model_dir, api_key=first.api_key, extra_env=env
        )
        try:
            event = wait_event(second, event_id)
        finally:
            second.stop()
    assert event["status"] == "FAILED", event
    assert event["attempts"] == 1
    assert "no attempts are left" in event["error"]
    assert len(llm.requests) == 1, "the job ran again past MNEMO_JOB_MAX_ATTEMPTS=1"
