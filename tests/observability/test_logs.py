"""Structured logs and request ids on a real `serve`: MNEMO_LOG_FORMAT=json at INFO gives one JSON object per
line, an access line per request, and never an API key, a memory's text, a query or an entity id.
This server also runs with MNEMO_METRICS=false."""

from __future__ import annotations

import json
import re
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from testkit.server import MnemoServer, start_server, wait_event

#: Lines `serve` prints on stdout for people (the same file holds stdout and stderr here).
_ANNOUNCE = re.compile(r"^(|mnemo is listening on http://\S+)$")


@pytest.fixture(scope="module")
def served(
    module_database_url: str, model_dir: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[MnemoServer]:
    running = start_server(
        tmp_path_factory.mktemp("logs"),
        database_url=module_database_url,
        model_dir=model_dir,
        extra_env={"MNEMO_LOG_FORMAT": "json", "MNEMO_LOG_LEVEL": "INFO", "MNEMO_METRICS": "false"},
    )
    try:
        yield running
    finally:
        running.stop()


def _json_lines(server: MnemoServer) -> list[dict[str, Any]]:
    lines = []
    for line in server.log().splitlines():
        if _ANNOUNCE.match(line):
            continue
        parsed = json.loads(line)  # every other line is one JSON object
        assert isinstance(parsed, dict), line
        assert {"time", "level", "logger", "message"} <= parsed.keys(), line
        lines.append(parsed)
    return lines


def _access_lines(server: MnemoServer, request_id: str, *, timeout: float = 10) -> list[dict[str, Any]]:
    deadline = time.monotonic() + timeout
    while True:
        found = [
            line
            for line in _json_lines(server)
            if line["logger"] == "mnemo.access" and line.get("request_id") == request_id
        ]
        if found or time.monotonic() > deadline:
            return found
        time.sleep(0.05)


def test_json_logs_parse_line_by_line_and_hold_no_key_and_no_memory(served: MnemoServer) -> None:
    user = f"secret-user-{uuid.uuid4().hex[:8]}"
    verbatim = f"My locker code is {uuid.uuid4().hex[:10]} and I hide it under the mat."
    inferred = f"I adopted a ferret named Quasar{uuid.uuid4().hex[:6]} last week."
    query = f"what is hidden under the mat {uuid.uuid4().hex[:6]}"
    wrong_key = f"m0-wrong-{uuid.uuid4().hex}"
    request_id = f"trace-{uuid.uuid4().hex[:12]}"
    with served.client() as http:
        stored = http.post(
            "/v3/memories/add/",
            json={"messages": verbatim, "user_id": user, "infer": False},
            headers={"X-Request-ID": request_id},
        )
        assert stored.status_code == 200, stored.text
        assert stored.headers["x-request-id"] == request_id
        queued = http.post("/v3/memories/add/", json={"messages": inferred, "user_id": user})
        assert queued.status_code == 200, queued.text
        assert wait_event(served, queued.json()["event_id"])["status"] == "SUCCEEDED"
        found = http.post("/v3/memories/search/", json={"query": query, "filters": {"user_id": user}})
        assert found.status_code == 200, found.text
        listed = http.post("/v3/memories/?page=1&page_size=5", json={"filters": {"user_id": user}})
        assert listed.status_code == 200, listed.text
        assert http.get(f"/v1/memories/{uuid.uuid4()}/").status_code == 404
        assert http.delete("/v1/memories/", params={"user_id": user}).status_code == 200
    assert httpx.get(f"{served.url}/v1/ping/", headers={"Authorization": f"Token {wrong_key}"}).status_code == 401
    assert httpx.post(f"{served.url}/v3/memories/add/", json={"messages": "x"}).status_code == 401

    (access,) = _access_lines(served, request_id)
    assert access["level"] == "INFO"
    assert access["method"] == "POST" and access["route"] == "/v3/memories/add/" and access["status"] == 200
    assert isinstance(access["duration_ms"], float) and access["duration_ms"] > 0
    with served.client() as http:
        assert access["project"] == http.get("/v1/ping/").json()["project_id"]
    assert access["message"].startswith("POST /v3/memories/add/ 200 ")

    text = served.log()
    lines = _json_lines(served)
    routes = {line.get("route") for line in lines if line["logger"] == "mnemo.access"}
    assert {"/v3/memories/add/", "/v3/memories/search/", "/v3/memories/", "/v1/memories/{memory_id}/"} <= routes
    assert any(line.get("status") == 401 for line in lines if line["logger"] == "mnemo.access")
    for secret in (served.api_key, wrong_key, verbatim, inferred, "locker code", "Quasar", query, user):
        assert secret not in text, f"{secret!r} is in the log"


def test_a_request_id_is_echoed_or_generated(served: MnemoServer) -> None:
    with served.client() as http:
        given = http.get("/v1/ping/", headers={"X-Request-ID": "abc-123"})
        assert given.headers["x-request-id"] == "abc-123"
        made = [http.get("/v1/ping/").headers["x-request-id"] for _ in range(2)]
        assert all(re.fullmatch(r"[0-9a-f]{32}", rid) for rid in made) and made[0] != made[1]
        dirty = http.get("/v1/ping/", headers={"X-Request-ID": 'a b"<script>\\c'})
        assert dirty.headers["x-request-id"] == "abscriptc"
        long = http.get("/v1/ping/", headers={"X-Request-ID": "x" * 500})
        assert long.headers["x-request-id"] == "x" * 128
        only_junk = http.get("/v1/ping/", headers={"X-Request-ID": "<>  ;"})
        assert re.fullmatch(r"[0-9a-f]{32}", only_junk.headers["x-request-id"])
        # Every answer carries one: errors, refusals before any route runs, health probes.
        assert "x-request-id" in http.get(f"/v1/memories/{uuid.uuid4()}/").headers
        too_big = http.post("/v3/memories/add/", content=b"x" * (3 * 1024 * 1024), headers={"X-Request-ID": "big-1"})
        assert too_big.status_code == 413 and too_big.headers["x-request-id"] == "big-1"
    refused = httpx.get(f"{served.url}/v1/ping/", headers={"X-Request-ID": "no-key-1"})
    assert refused.status_code == 401 and refused.headers["x-request-id"] == "no-key-1"
    assert "x-request-id" in httpx.get(f"{served.url}/healthz").headers
    assert len(_access_lines(served, "no-key-1")) == 1


def test_metrics_can_be_turned_off(served: MnemoServer) -> None:
    assert httpx.get(f"{served.url}/metrics").status_code == 404
