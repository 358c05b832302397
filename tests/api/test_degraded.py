"""A dead embedder never blocks the API: adds are still accepted and queued, searches fail fast with 503."""

from __future__ import annotations

import time
from pathlib import Path

from testkit.server import free_port, start_server


def test_dead_embedding_endpoint(database_url: str, model_dir: Path, tmp_path: Path) -> None:
    dead = f"http://127.0.0.1:{free_port()}/v1"
    server = start_server(
        tmp_path / "data",
        database_url=database_url,
        model_dir=model_dir,
        extra_env={"MNEMO_EMBEDDER": "openai", "MNEMO_OPENAI_EMBEDDING_BASE_URL": dead, "MNEMO_JOB_MAX_ATTEMPTS": "50"},
    )
    try:
        with server.client() as client:
            queued = client.post("/v3/memories/add/", json={"messages": "I like kites.", "user_id": "k"})
            assert queued.status_code == 200 and queued.json()["status"] == "PENDING"
            started = time.monotonic()
            search = client.post("/v3/memories/search/", json={"query": "kites", "filters": {"user_id": "k"}})
            assert search.status_code == 503
            assert time.monotonic() - started < 5
            assert "embedding" in search.json()["detail"]
            verbatim = client.post("/v3/memories/add/", json={"messages": "x", "user_id": "k", "infer": False})
            assert verbatim.status_code == 503
            time.sleep(1.5)
            event = client.get(f"/v1/event/{queued.json()['event_id']}/").json()
            assert event["status"] in ("PENDING", "RUNNING")
            assert event["error"] is None or "Embedder" in event["error"]
    finally:
        server.stop()
