"""API keys: read-only scope, per-key rate limits, keys never logged."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from testkit.server import MnemoServer, run_cli, serving


@pytest.fixture(scope="module")
def limited(
    module_database_url: str, model_dir: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[MnemoServer]:
    with serving(
        tmp_path_factory.mktemp("limited"),
        database_url=module_database_url,
        model_dir=model_dir,
        extra_env={"MNEMO_RATE_LIMIT_PER_MINUTE": "5"},
    ) as running:
        yield running


def _db(server: MnemoServer) -> str:
    args = server.process.args
    assert isinstance(args, list)
    return str(args[args.index("--database-url") + 1])


def test_rate_limit_answers_429_with_retry_after(limited: MnemoServer, tmp_path: Path) -> None:
    statuses = [httpx.get(f"{limited.url}/v1/ping/", headers=limited.headers()).status_code for _ in range(5)]
    assert statuses == [200] * 5
    response = httpx.get(f"{limited.url}/v1/ping/", headers=limited.headers())
    assert response.status_code == 429
    assert int(response.headers["retry-after"]) >= 1
    assert "Rate limit" in response.json()["detail"]

    os.environ["MEM0_DIR"] = str(tmp_path)
    from mem0.exceptions import RateLimitError

    env = {**limited.env, "MNEMO_DATABASE_URL": _db(limited)}
    other = run_cli(["keys", "create", "--name", "fresh"], env=env).stdout.strip().splitlines()[-1]
    from mem0 import MemoryClient

    client = MemoryClient(api_key=other, host=limited.url)
    with pytest.raises(RateLimitError):
        for _ in range(10):
            client.get_all(filters={"user_id": "x"})


def test_read_only_key_reads_but_cannot_write(limited: MnemoServer) -> None:
    env = {**limited.env, "MNEMO_DATABASE_URL": _db(limited)}
    created = run_cli(["keys", "create", "--read-only", "--name", "reader"], env=env)
    assert created.returncode == 0, created.stderr
    key = created.stdout.strip().splitlines()[-1]
    user = f"ro-{uuid.uuid4().hex[:6]}"
    with limited.client(key) as client:
        assert client.get("/v1/ping/").json()["read_only"] is True
        assert client.post("/v3/memories/", json={"filters": {"user_id": user}}).status_code == 200
        assert client.post("/v3/memories/search/", json={"query": "x", "filters": {"user_id": user}}).status_code == 200
        response = client.post("/v3/memories/add/", json={"messages": "hi", "user_id": user})
        assert response.status_code == 403 and "read-only" in response.json()["detail"]
        assert client.delete("/v1/memories/", params={"user_id": user}).status_code == 403


def test_keys_never_appear_in_the_log(limited: MnemoServer) -> None:
    assert limited.api_key not in limited.log()
