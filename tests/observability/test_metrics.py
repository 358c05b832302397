"""Prometheus metrics at /metrics move with traffic: on `serve`, on `mnemo worker`'s health port, and on serve's
MNEMO_METRICS_PORT; each process exposes its own registry."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest

from testkit.scripted_llm import ScriptedLLM, error_reply, openai_reply
from testkit.server import MnemoServer, free_port, mnemo_env, serving, start_server, wait_event
from tests.observability.support import Samples, delta, names, scrape, value

FAMILIES = {
    "mnemo_http_requests_total",
    "mnemo_http_request_duration_seconds_bucket",
    "mnemo_http_requests_in_flight",
    "mnemo_adds_total",
    "mnemo_events_finished_total",
    "mnemo_job_duration_seconds_count",
    "mnemo_queue_pending_jobs",
    "mnemo_queue_running_jobs",
    "mnemo_queue_oldest_pending_age_seconds",
    "mnemo_workers_live",
    "mnemo_pending_final_vectors",
    "mnemo_extraction_duration_seconds_bucket",
    "mnemo_embedding_batch_texts_bucket",
    "mnemo_embedding_batch_duration_seconds_bucket",
    "mnemo_llm_calls_total",
    "mnemo_llm_tokens_total",
    "mnemo_llm_call_duration_seconds_bucket",
    "mnemo_db_pool_connections",
    "mnemo_db_pool_connections_in_use",
    "mnemo_db_pool_requests_waiting",
    "mnemo_db_pool_max_connections",
    "mnemo_build_info",
    "mnemo_gc_frozen_objects",
    "process_cpu_seconds_total",
}


#: Series there before any traffic (a labelled family has no sample before its first use).
ALWAYS = {
    "mnemo_http_requests_in_flight",
    "mnemo_queue_pending_jobs",
    "mnemo_queue_oldest_pending_age_seconds",
    "mnemo_workers_live",
    "mnemo_pending_final_vectors",
    "mnemo_embedding_batch_texts_bucket",
    "mnemo_db_pool_connections_in_use",
    "mnemo_db_pool_requests_waiting",
    "mnemo_build_info",
    "mnemo_gc_frozen_objects",
}


@pytest.fixture(scope="module")
def served(
    llm: ScriptedLLM, module_database_url: str, model_dir: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[MnemoServer]:
    env = llm.openai_env(
        api_key="sk-metrics-test",
        MNEMO_LLM_TIMEOUT_SECONDS="10",
        MNEMO_JOB_MAX_ATTEMPTS="1",
        MNEMO_LLM_FALLBACK="fail",
    )
    with serving(
        tmp_path_factory.mktemp("metrics"), database_url=module_database_url, model_dir=model_dir, extra_env=env
    ) as running:
        yield running


def _facts(text: str) -> str:
    return json.dumps({"facts": [{"text": text, "attributed_to": "user", "categories": ["misc"], "linked_ids": []}]})


def _add(server: MnemoServer, user: str, text: str, *, infer: bool) -> dict[str, object]:
    with server.client() as http:
        response = http.post("/v3/memories/add/", json={"messages": text, "user_id": user, "infer": infer})
    assert response.status_code == 200, response.text
    body: dict[str, object] = response.json()
    return body


def test_metrics_move_with_traffic(served: MnemoServer, llm: ScriptedLLM) -> None:
    user = f"metrics-{uuid.uuid4().hex[:8]}"
    before, _ = scrape(served.url)
    assert ALWAYS <= names(before), ALWAYS - names(before)
    assert value(before, "mnemo_gc_frozen_objects") > 10_000, "what serve loaded at its start is frozen"

    added = _add(served, user, "I keep bees on my roof in Lyon.", infer=False)
    llm.script(openai_reply(_facts("User works as a glassblower."), prompt_tokens=120, completion_tokens=30))
    queued = _add(served, user, "I work as a glassblower.", infer=True)
    assert wait_event(served, str(queued["event_id"]))["status"] == "SUCCEEDED"
    with served.client() as http:
        found = http.post("/v3/memories/search/", json={"query": "bees", "filters": {"user_id": user}})
        assert found.status_code == 200, found.text
        missing_id = str(uuid.uuid4())
        assert http.get(f"/v1/memories/{missing_id}/").status_code == 404
        assert http.get(f"/v1/no-such-route/{user}/").status_code == 404

    after, page = scrape(served.url)
    assert FAMILIES <= names(after), FAMILIES - names(after)

    add, search = "/v3/memories/add/", "/v3/memories/search/"
    assert delta(before, after, "mnemo_http_requests_total", method="POST", route=add, status="200") == 2
    assert delta(before, after, "mnemo_http_requests_total", method="POST", route=search, status="200") == 1
    one = "/v1/memories/{memory_id}/"
    assert delta(before, after, "mnemo_http_requests_total", method="GET", route=one, status="404") == 1
    assert delta(before, after, "mnemo_http_requests_total", method="GET", route="unmatched", status="404") == 1
    assert (
        delta(before, after, "mnemo_http_request_duration_seconds_count", method="POST", route=add, status="200") == 2
    )
    assert value(after, "mnemo_http_request_duration_seconds_sum", method="POST", route=search, status="200") > 0
    # Route templates, never raw paths: neither the memory id nor the user id becomes a label.
    assert missing_id not in page and user not in page and str(added["event_id"]) not in page

    assert delta(before, after, "mnemo_adds_total", infer="false") == 1
    assert delta(before, after, "mnemo_adds_total", infer="true") == 1
    assert delta(before, after, "mnemo_events_finished_total", outcome="succeeded") == 1
    assert delta(before, after, "mnemo_job_duration_seconds_count", outcome="succeeded") == 1
    assert delta(before, after, "mnemo_extraction_duration_seconds_count", extractor="llm", outcome="ok") == 1

    assert delta(before, after, "mnemo_llm_calls_total", profile="default") == 1
    assert delta(before, after, "mnemo_llm_tokens_total", profile="default", kind="prompt") == 120
    assert delta(before, after, "mnemo_llm_tokens_total", profile="default", kind="completion") == 30
    assert delta(before, after, "mnemo_llm_call_duration_seconds_count", profile="default") == 1

    # The verbatim add, the extracted fact and the query were embedded (maybe together).
    assert delta(before, after, "mnemo_embedding_batch_texts_sum") >= 3
    assert delta(before, after, "mnemo_embedding_batch_duration_seconds_count") >= 1

    assert value(after, "mnemo_queue_pending_jobs") == 0
    assert value(after, "mnemo_queue_running_jobs") == 0
    assert value(after, "mnemo_queue_oldest_pending_age_seconds") == 0
    assert value(after, "mnemo_workers_live") >= 1
    assert value(after, "mnemo_db_pool_max_connections") == 16
    assert 1 <= value(after, "mnemo_db_pool_connections") <= 16
    assert 0 <= value(after, "mnemo_db_pool_connections_in_use") <= value(after, "mnemo_db_pool_connections")
    assert value(after, "mnemo_db_pool_requests_waiting") == 0
    assert value(after, "mnemo_http_requests_in_flight") == 1  # the scrape itself


def test_llm_errors_and_failed_events_are_counted(served: MnemoServer, llm: ScriptedLLM) -> None:
    before, _ = scrape(served.url)
    llm.script(error_reply(400, "model not found"))
    queued = _add(served, f"metrics-{uuid.uuid4().hex[:8]}", "I collect vinyl records.", infer=True)
    assert wait_event(served, str(queued["event_id"]))["status"] == "FAILED"
    after, _ = scrape(served.url)
    assert delta(before, after, "mnemo_llm_calls_total", profile="default") == 1
    assert delta(before, after, "mnemo_llm_errors_total", profile="default", kind="rejected") == 1
    assert delta(before, after, "mnemo_extraction_duration_seconds_count", extractor="llm", outcome="error") == 1
    assert delta(before, after, "mnemo_events_finished_total", outcome="failed") == 1
    assert delta(before, after, "mnemo_events_finished_total", outcome="succeeded") == 0


def _until(check: Callable[[], bool], timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.1)


def test_each_process_exposes_its_own_registry(database_url: str, model_dir: Path, tmp_path: Path) -> None:
    """An API process (metrics on a port of their own) and a worker process (on its health port): the add is
    counted by the API, its job by the worker."""
    metrics_port = free_port()
    api = start_server(
        tmp_path / "api",
        database_url=database_url,
        model_dir=model_dir,
        extra_env={"MNEMO_METRICS_PORT": str(metrics_port)},
        extra_args=["--no-workers"],
    )
    api_metrics = f"http://127.0.0.1:{metrics_port}"
    health_port = free_port()
    env = mnemo_env(model_dir=model_dir, extra={"MNEMO_WORKER_HEALTH_PORT": str(health_port)})
    log_path = tmp_path / "worker.log"
    with log_path.open("ab") as log:
        worker = subprocess.Popen(
            [sys.executable, "-m", "mnemo", "worker", "--database-url", database_url],
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    worker_url = f"http://127.0.0.1:{health_port}"
    try:
        assert httpx.get(f"{api.url}/metrics").status_code == 404, "MNEMO_METRICS_PORT moves /metrics off the API port"
        assert httpx.get(f"{api_metrics}/healthz").json() == {"status": "ok"}
        _until(lambda: _answers(worker_url))
        api_before: Samples = scrape(api_metrics)[0]
        worker_before: Samples = scrape(worker_url)[0]

        queued = _add(api, f"split-{uuid.uuid4().hex[:8]}", "I moved to Porto in March.", infer=True)
        assert wait_event(api, str(queued["event_id"]))["status"] == "SUCCEEDED"

        api_after: Samples = scrape(api_metrics)[0]
        worker_after: Samples = scrape(worker_url)[0]
        assert delta(api_before, api_after, "mnemo_adds_total", infer="true") == 1
        assert delta(api_before, api_after, "mnemo_events_finished_total", outcome="succeeded") == 0
        assert delta(worker_before, worker_after, "mnemo_events_finished_total", outcome="succeeded") == 1
        assert (
            delta(
                worker_before,
                worker_after,
                "mnemo_extraction_duration_seconds_count",
                extractor="offline",
                outcome="ok",
            )
            == 1
        )
        assert delta(worker_before, worker_after, "mnemo_adds_total", infer="true") == 0
        # The queue is the deployment's: both processes report it.
        assert value(api_after, "mnemo_workers_live") == value(worker_after, "mnemo_workers_live") == 1
        # What each process loaded at its start is out of the garbage collector's scans (settle_heap).
        assert value(api_after, "mnemo_gc_frozen_objects") > 10_000
        assert value(worker_after, "mnemo_gc_frozen_objects") > 10_000
    finally:
        worker.send_signal(signal.SIGTERM)
        assert worker.wait(60) == 0, log_path.read_text()
        assert api.stop() == 0, api.log()


def _answers(url: str) -> bool:
    try:
        return httpx.get(f"{url}/healthz", timeout=2).status_code == 200
    except httpx.HTTPError:
        return False
