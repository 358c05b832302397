"""Several API and worker processes on one PostgreSQL: every accepted add is processed exactly once."""

from __future__ import annotations

import json
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path

import httpx
import psycopg

from testkit.scripted_llm import ScriptedLLM, openai_reply
from testkit.server import MnemoServer, mnemo_env, start_server, wait_event

# Enough concurrent adds through two APIs and two workers to race them; claim semantics themselves are tested
# directly on the queue (tests/storage/test_queue.py).
ADDS = 2000


@contextmanager
def worker(
    database_url: str, model_dir: Path, log: Path, extra_env: dict[str, str] | None = None
) -> Iterator[subprocess.Popen[bytes]]:
    env = mnemo_env(model_dir=model_dir, extra={"MNEMO_WORKER_CONCURRENCY": "8", **(extra_env or {})})
    with log.open("ab") as handle:
        process = subprocess.Popen(
            [sys.executable, "-m", "mnemo", "worker", "--database-url", database_url],
            env=env,
            stdout=handle,
            stderr=subprocess.STDOUT,
        )
    try:
        yield process
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            process.wait(60)


def test_two_apis_two_workers_process_every_add_once(database_url: str, model_dir: Path, tmp_path: Path) -> None:
    key = f"m0-scale-{uuid.uuid4().hex[:8]}"
    apis = [
        start_server(
            tmp_path / f"api{i}",
            database_url=database_url,
            model_dir=model_dir,
            api_key=key,
            extra_args=["--no-workers"],
        )
        for i in range(2)
    ]
    try:
        with worker(database_url, model_dir, tmp_path / "w1.log"), worker(database_url, model_dir, tmp_path / "w2.log"):
            events = _push_adds(apis)
            _wait_all_done(database_url, timeout=600)
        with psycopg.connect(database_url) as conn:
            statuses = dict(conn.execute("SELECT status, count(*) FROM events GROUP BY status").fetchall())
            memories = conn.execute("SELECT count(*), count(DISTINCT (user_id, hash)) FROM memories").fetchone()
            written = conn.execute("SELECT sum(jsonb_array_length(results)) FROM events").fetchone()
            by_event = conn.execute("SELECT count(DISTINCT event_id) FROM memories").fetchone()
        assert statuses == {"SUCCEEDED": ADDS}
        assert len(set(events)) == ADDS
        assert memories is not None and memories[0] == memories[1] == ADDS
        assert written is not None and written[0] == ADDS
        assert by_event is not None and by_event[0] == ADDS
    finally:
        for api in apis:
            api.stop()


def _push_adds(apis: list[MnemoServer]) -> list[str]:
    clients = [httpx.Client(base_url=api.url, headers=api.headers(), timeout=60) for api in apis]

    def add(i: int) -> str:
        body = {
            "messages": [{"role": "user", "content": f"I planted {i} tulips in bed {i % 7}."}],
            "user_id": f"u{i % 50}",
        }
        # A client that loses its connection retries with the same Idempotency-Key: never a duplicate.
        for attempt in range(3):
            try:
                response = clients[(i + attempt) % 2].post(
                    "/v3/memories/add/", json=body, headers={"Idempotency-Key": f"add-{i}"}
                )
                break
            except httpx.TransportError:
                if attempt == 2:
                    raise
        assert response.status_code == 200, response.text
        event_id: str = response.json()["event_id"]
        return event_id

    try:
        with ThreadPoolExecutor(16) as pool:
            return list(pool.map(add, range(ADDS)))
    finally:
        for client in clients:
            client.close()


def _wait_all_done(database_url: str, *, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    with psycopg.connect(database_url, autocommit=True) as conn:
        while time.monotonic() < deadline:
            row = conn.execute("SELECT count(*) FROM events WHERE status IN ('PENDING', 'RUNNING')").fetchone()
            if row is not None and row[0] == 0:
                return
            time.sleep(0.5)
    raise TimeoutError("jobs still unfinished")


def test_job_of_a_killed_worker_is_finished_by_another(database_url: str, model_dir: Path, tmp_path: Path) -> None:
    with ScriptedLLM() as llm:
        llm_env = {
            "MNEMO_LLM_PROVIDER": "openai",
            "MNEMO_LLM_BASE_URL": llm.openai_url,
            "MNEMO_JOB_LEASE_SECONDS": "2",
        }
        api = start_server(
            tmp_path / "api", database_url=database_url, model_dir=model_dir, extra_args=["--no-workers"]
        )
        try:
            fact = {"text": "The user sails.", "attributed_to": "user", "categories": ["sports"], "linked_ids": []}
            facts = json.dumps({"facts": [fact]})
            llm.script(openai_reply(facts, delay=30), openai_reply(facts))
            with api.client() as client:
                event_id = client.post("/v3/memories/add/", json={"messages": "I sail.", "user_id": "sailor"}).json()[
                    "event_id"
                ]
            with worker(database_url, model_dir, tmp_path / "doomed.log", llm_env) as doomed:
                _wait_for(lambda: len(llm.requests) >= 1, timeout=60)
                doomed.kill()
                doomed.wait()
            with worker(database_url, model_dir, tmp_path / "rescuer.log", llm_env):
                event = wait_event(api, event_id, timeout=90)
            assert event["status"] == "SUCCEEDED", event
            assert event["attempts"] == 2
            with api.client() as client:
                listed = client.post("/v3/memories/", json={"filters": {"user_id": "sailor"}}).json()
            assert [m["memory"] for m in listed["results"]] == ["The user sails."]
        finally:
            api.stop()


def _wait_for(condition: object, *, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if callable(condition) and condition():
            return
        time.sleep(0.05)
    raise TimeoutError("condition not met")


def test_a_job_its_worker_holds_but_no_longer_runs_is_handed_back(
    database_url: str, model_dir: Path, tmp_path: Path
) -> None:
    """After a database outage a worker may still hold a job whose attempt ended without the failure
    being recorded; its heartbeat hands the job back instead of leaving it to a (here hour-long) lease."""
    api = start_server(tmp_path / "api", database_url=database_url, model_dir=model_dir, extra_args=["--no-workers"])
    try:
        with api.client() as client:
            body = {"messages": "I sail on Sundays.", "user_id": "sailor", "infer": True}
            event_id = client.post("/v3/memories/add/", json=body).json()["event_id"]
        with psycopg.connect(database_url, autocommit=True) as conn:
            conn.execute("UPDATE events SET run_after = now() + interval '1 day' WHERE id = %s", (event_id,))
        with worker(database_url, model_dir, tmp_path / "worker.log", {"MNEMO_JOB_LEASE_SECONDS": "3"}) as process:
            with psycopg.connect(database_url, autocommit=True) as conn:
                conn.execute(
                    "UPDATE events SET status = 'RUNNING', attempts = 1, locked_by = %s, run_after = now(),"
                    " locked_until = now() + interval '1 hour', updated_at = now() - interval '1 minute'"
                    " WHERE id = %s",
                    (f"{socket.gethostname()}:{process.pid}", event_id),
                )
            event = wait_event(api, event_id, timeout=30)
        assert event["status"] == "SUCCEEDED", event
        assert event["attempts"] == 2
    finally:
        api.stop()
