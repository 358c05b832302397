"""The embedded database is opened only by the PostgreSQL major version that made it."""

from __future__ import annotations

from pathlib import Path

from mnemo.embedded_db import installed_major
from testkit.server import mnemo_env, run_cli


def test_a_data_directory_of_another_major_version_is_refused_with_how_to_upgrade(tmp_path: Path) -> None:
    pgdata = tmp_path / "pgdata"
    pgdata.mkdir()
    (pgdata / "PG_VERSION").write_text(f"{installed_major() - 1}\n")
    for command in (["keys", "list"], ["serve", "--port", "1"]):
        result = run_cli([*command, "--data-dir", str(tmp_path)], env=mnemo_env(model_dir=None))
        assert result.returncode == 2, result.stderr
        assert f"made by PostgreSQL {installed_major() - 1}" in result.stderr
        assert "pg_upgrade" in result.stderr
    assert not (pgdata / "postmaster.pid").exists()
