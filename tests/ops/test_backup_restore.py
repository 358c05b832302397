"""``mnemo backup`` / ``mnemo restore`` on the embedded database: a backup taken while serving comes back
whole (memories, history, keys, events, exports; compared through the HTTP API and the CLI), and a restore
never overwrites a database holding data unless told."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from testkit.server import MnemoServer, mnemo_env, run_cli, serving, start_server
from tests.ops.support import populate, snapshot, verbatim


def _cli(model_dir: Path, *args: str) -> tuple[int, str, str]:
    result = run_cli(list(args), env=mnemo_env(model_dir=model_dir), timeout=180)
    return result.returncode, result.stdout, result.stderr


def _keys(model_dir: Path, data_dir: Path) -> list[str]:
    code, out, err = _cli(model_dir, "keys", "list", "--data-dir", str(data_dir))
    assert code == 0, err
    return sorted(out.splitlines())


def test_round_trip_and_refusals(tmp_path: Path, model_dir: Path) -> None:
    source_dir, target_dir, file = tmp_path / "source", tmp_path / "target", tmp_path / "mnemo.backup"
    with serving(source_dir, model_dir=model_dir) as source:
        made = populate(source)
        code, out, err = _cli(model_dir, "keys", "create", "--data-dir", str(source_dir), "--project", "other")
        assert code == 0, err
        other_key = out.splitlines()[-1]
        with source.client(other_key) as http:
            verbatim(http, "Other project's memory.", user_id="bob")
        before = snapshot(source, made)
        assert len(before["memories"]) >= 7 and before["events"]["count"] >= 8, before
        assert before["history"][made["deleted"]][-1]["event"] == "DELETE"
        assert any(len(entries) > 1 for entries in before["history"].values())  # an UPDATE, a supersede
        assert "Swiss Alps" in json.dumps(before["export"])
        keys = _keys(model_dir, source_dir)

        code, out, err = _cli(model_dir, "backup", str(file), "--data-dir", str(source_dir))  # online
        assert code == 0, err
        assert "backup [" in err and f"backup written to {file}" in out
        assert file.stat().st_mode & 0o777 == 0o600  # every memory and key hash: its owner's only
        with source.client() as http:  # after the backup: not in it
            late = verbatim(http, "Written after the backup.", user_id="alice")

    code, out, err = _cli(model_dir, "restore", str(file), "--data-dir", str(target_dir))
    assert code == 0, err
    assert "restore [" in err and "restored" in out
    target = start_server(target_dir, model_dir=model_dir, api_key=source.api_key)
    try:
        _same(target, before, made, other_key, late)
        assert _keys(model_dir, target_dir) == keys
        # Restoring under a running serve is refused (the data directory is in use).
        code, _, err = _cli(model_dir, "restore", str(file), "--data-dir", str(target_dir), "--force")
        assert code == 2 and "already using the data directory" in err, err
    finally:
        target.stop()

    # The target now holds data: refused without --force, and nothing changes.
    code, _, err = _cli(model_dir, "restore", str(file), "--data-dir", str(target_dir))
    assert code == 2, err
    assert err.strip().splitlines()[-1].startswith("error: the target database already holds data"), err
    assert "Traceback" not in err
    # Not a backup: refused before anything is touched.
    code, _, err = _cli(model_dir, "restore", str(tmp_path / "source" / "mnemo.toml"), "--data-dir", str(target_dir))
    assert code == 2 and "no backup file" in err, err
    (tmp_path / "junk").write_text("not an archive")
    code, _, err = _cli(model_dir, "restore", str(tmp_path / "junk"), "--data-dir", str(target_dir), "--force")
    assert code == 2 and "is not a backup" in err, err

    with serving(target_dir, model_dir=model_dir, api_key=source.api_key) as target:
        with target.client() as http:
            verbatim(http, "Written on the target.", user_id="alice")
    code, out, err = _cli(model_dir, "restore", str(file), "--data-dir", str(target_dir), "--force")
    assert code == 0, err
    with serving(target_dir, model_dir=model_dir, api_key=source.api_key) as target:
        _same(target, before, made, other_key, late)


def _same(target: MnemoServer, before: dict[str, Any], made: dict[str, Any], other_key: str, late: str) -> None:
    after = snapshot(target, made)
    assert after == before
    assert late not in after["memories"]
    with target.client(other_key) as http:
        assert [
            m["memory"] for m in http.post("/v3/memories/", json={"filters": {"user_id": "bob"}}).json()["results"]
        ] == ["Other project's memory."]
        # The vectors came back too: search finds by meaning.
        found = http.post(
            "/v3/memories/search/", json={"query": "memory of the other project", "filters": {"user_id": "bob"}}
        )
        assert found.status_code == 200 and found.json()["results"], found.text


def test_refuses_what_it_cannot_do(tmp_path: Path, model_dir: Path) -> None:
    code, _, err = _cli(model_dir, "backup", str(tmp_path / "b"), "--data-dir", str(tmp_path / "nothing"))
    assert code == 2 and "there is no mnemo database" in err, err
    code, _, err = _cli(model_dir, "backup", str(tmp_path / "missing" / "b"), "--data-dir", str(tmp_path))
    assert code == 2 and "existing directory" in err, err


@pytest.mark.parametrize("command", ["backup", "restore"])
def test_help_names_the_file(command: str, model_dir: Path) -> None:
    code, out, _ = _cli(model_dir, command, "--help")
    assert code == 0 and "file" in out
