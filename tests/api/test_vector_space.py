"""A deployment's vectors come from one embedding model: a process configured with another refuses to start."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from testkit.server import MnemoServer, mnemo_env, start_server


def _db(server: MnemoServer) -> str:
    args = server.process.args
    assert isinstance(args, list)
    return str(args[args.index("--database-url") + 1])


def test_another_embedding_model_on_the_same_database_is_refused(
    server: MnemoServer, model_dir: Path, tmp_path: Path
) -> None:
    env = mnemo_env(
        model_dir=model_dir,
        extra={"MNEMO_EMBEDDER": "openai", "MNEMO_OPENAI_EMBEDDING_BASE_URL": "http://127.0.0.1:9/v1"},
    )
    for command in (["worker"], ["serve", "--port", "0", "--data-dir", str(tmp_path / "other")]):
        done = subprocess.run(
            [sys.executable, "-m", "mnemo", *command, "--database-url", _db(server)],
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert done.returncode == 2, done.stderr
        assert "holds vectors of all-MiniLM-L6-v2 (384 dimensions)" in done.stderr
        assert "openai:text-embedding-3-small (1536 dimensions)" in done.stderr
    with server.client() as client:  # the running deployment is untouched
        body = {"messages": [{"role": "user", "content": "I like tea."}], "user_id": "vs", "infer": False}
        assert client.post("/v3/memories/add/", json=body).status_code == 200


def test_the_other_precision_of_the_same_model_is_accepted(
    server: MnemoServer, model_dir: Path, tmp_path: Path
) -> None:
    other = start_server(
        tmp_path / "fp32",
        database_url=_db(server),
        model_dir=model_dir,
        extra_env={"MNEMO_EMBEDDER_PRECISION": "fp32"},
        extra_args=["--no-workers"],
    )
    try:
        with other.client() as client:
            body = {"query": "tea", "filters": {"user_id": "vs"}}
            assert client.post("/v3/memories/search/", json=body).status_code == 200
    finally:
        other.stop()
