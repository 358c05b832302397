"""Which pg_dump, pg_restore and psql a backup uses: the newest available, never one older than the server."""

from __future__ import annotations

from pathlib import Path

import pytest

from mnemo.storage import backup
from mnemo.storage.backup import BackupRefused, bundled_bin_dir, pick_tools


def _tools(directory: Path, major: int) -> Path:
    directory.mkdir()
    for tool in ("pg_dump", "pg_restore", "psql"):
        script = directory / tool
        script.write_text(f"#!/bin/sh\necho '{tool} (PostgreSQL) {major}.2'\n")
        script.chmod(0o755)
    return directory


def test_the_wheel_ships_them() -> None:
    bundled = bundled_bin_dir()
    assert bundled is not None and all((bundled / tool).is_file() for tool in ("pg_dump", "pg_restore", "psql"))
    assert pick_tools(15).major >= 18  # the bundled ones, or newer ones on PATH


def test_newest_wins_and_a_newer_server_is_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    bundled = _tools(tmp_path / "bundled", 18)
    monkeypatch.setattr(backup, "bundled_bin_dir", lambda: bundled)
    monkeypatch.setenv("PATH", str(_tools(tmp_path / "older", 16)))
    assert pick_tools(16) == backup.Tools(bundled, 18)  # the server's own older tools are not preferred
    with pytest.raises(BackupRefused, match="runs PostgreSQL 19, newer than every pg_dump available"):
        pick_tools(19)
    monkeypatch.setenv("PATH", str(_tools(tmp_path / "newer", 19)))
    assert pick_tools(19) == backup.Tools(tmp_path / "newer", 19)
    assert pick_tools(17).major == 19
    monkeypatch.setattr(backup, "bundled_bin_dir", lambda: None)
    monkeypatch.setenv("PATH", str(tmp_path / "nowhere"))
    with pytest.raises(BackupRefused, match="no pg_dump found"):
        pick_tools(18)
