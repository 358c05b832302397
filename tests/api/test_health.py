"""Health that tells the truth: /healthz is liveness, /readyz readiness (database, schema, workers, queue age),
on `mnemo serve` and on `mnemo worker` alike."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx

from testkit.server import MnemoServer, free_port, mnemo_env, start_server, wait_event


def _ready(url: str) -> tuple[int, dict[str, Any]]:
    response = httpx.get(f"{url}/readyz", timeout=10)
    return response.status_code, response.json()


def _until(check: Any, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.2)


def test_a_serving_process_with_workers_is_ready_without_a_key(server: MnemoServer) -> None:
    assert httpx.get(f"{server.url}/healthz").json() == {"status": "ok"}
    status, body = _ready(server.url)
    assert status == 200, body
    assert body["status"] == "ready"
    assert set(body["checks"]) == {"database", "migrations", "workers", "queue"}
    assert body["queue"]["live_workers"] >= 1
    assert body["queue"]["pending"] >= 0 and "oldest_pending_seconds" in body["queue"]


def test_a_queue_nobody_drains_makes_the_api_unready_until_a_worker_runs(
    database_url: str, model_dir: Path, tmp_path: Path
) -> None:
    extra = {"MNEMO_READY_MAX_PENDING_AGE_SECONDS": "1"}
    api = start_server(
        tmp_path / "api", database_url=database_url, model_dir=model_dir, extra_env=extra, extra_args=["--no-workers"]
    )
    try:
        with api.client() as client:
            added = client.post("/v3/memories/add/", json={"messages": "I work as a nurse.", "user_id": "h1"})
            assert added.status_code == 200, added.text
        time.sleep(1.5)
        status, body = _ready(api.url)
        assert status == 503, body
        assert body["status"] == "not ready"
        assert body["queue"]["pending"] == 1 and body["queue"]["live_workers"] == 0
        assert "workers" in body["detail"] and "queue" in body["detail"]
        assert httpx.get(f"{api.url}/healthz").status_code == 200, "liveness does not depend on the queue"

        port = free_port()
        env = mnemo_env(model_dir=model_dir, extra={**extra, "MNEMO_WORKER_HEALTH_PORT": str(port)})
        with (tmp_path / "worker.log").open("ab") as log:
            worker = subprocess.Popen(
                [sys.executable, "-m", "mnemo", "worker", "--database-url", database_url],
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        try:
            assert wait_event(api, added.json()["event_id"])["status"] == "SUCCEEDED"
            worker_url = f"http://127.0.0.1:{port}"
            _until(lambda: _ready(worker_url)[0] == 200)
            assert _ready(worker_url)[1]["queue"]["live_workers"] == 1
            assert httpx.get(f"{worker_url}/healthz").json() == {"status": "ok"}
            assert _ready(api.url)[0] == 200
        finally:
            worker.send_signal(signal.SIGTERM)
            assert worker.wait(60) == 0, (tmp_path / "worker.log").read_text()
        # A worker that stopped says so: it no longer counts as draining the queue.
        assert _ready(api.url)[1]["queue"]["live_workers"] == 0
    finally:
        api.stop()
