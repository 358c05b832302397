"""Schemathesis against the published OpenAPI schema: no 5xx, and every response as documented."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import httpx

from testkit.server import MnemoServer


def test_openapi_schema_lists_every_client_route(server: MnemoServer) -> None:
    schema = httpx.get(f"{server.url}/openapi.json").json()
    for path in (
        "/v1/ping/",
        "/v3/memories/add/",
        "/v3/memories/search/",
        "/v3/memories/",
        "/v1/memories/{memory_id}/",
        "/v1/memories/{memory_id}/history/",
        "/v1/memories/",
        "/v1/entities/",
        "/v1/batch/",
        "/v1/event/{event_id}/",
        "/v1/events/",
    ):
        assert path in schema["paths"], path
    assert "422" not in str(schema)


def test_schemathesis_finds_no_server_errors(server: MnemoServer, tmp_path: Path) -> None:
    cli = shutil.which("schemathesis", path=str(Path(sys.executable).parent))
    assert cli is not None, "schemathesis is a test dependency (pip install -e .[test])"
    result = subprocess.run(
        [
            cli,
            "run",
            f"{server.url}/openapi.json",
            "--header",
            f"Authorization: Token {server.api_key}",
            "--max-examples",
            "60",
            "--phases",
            "examples,coverage,fuzzing",
            "--checks",
            "not_a_server_error,response_schema_conformance,status_code_conformance,content_type_conformance",
            "--seed",
            "20261123",
        ],
        capture_output=True,
        text=True,
        timeout=600,
        cwd=tmp_path,
    )
    assert result.returncode == 0, result.stdout[-6000:]
