"""Two projects side by side: nothing of one is visible to, or changeable by, the other."""

from __future__ import annotations

import time
import uuid
from typing import Any

import httpx
import psycopg
import pytest

from testkit.server import MnemoServer, run_cli, wait_event


@pytest.fixture(scope="module")
def other_key(server: MnemoServer) -> str:
    env = {**server.env, "MNEMO_DATABASE_URL": _database_url(server)}
    result = run_cli(["keys", "create", "--project", "proj_other", "--name", "other"], env=env)
    assert result.returncode == 0, result.stderr
    return result.stdout.strip().splitlines()[-1]


def _database_url(server: MnemoServer) -> str:
    args = server.process.args
    assert isinstance(args, list)
    return str(args[args.index("--database-url") + 1])


def test_projects_do_not_see_each_other(server: MnemoServer, other_key: str) -> None:
    shared_user = f"shared-{uuid.uuid4().hex[:6]}"
    with server.client() as mine, server.client(other_key) as theirs:
        assert mine.get("/v1/ping/").json()["project_id"] != theirs.get("/v1/ping/").json()["project_id"]
        added = mine.post(
            "/v3/memories/add/",
            json={"messages": "My bank PIN hint is the cat's name.", "user_id": shared_user, "infer": False},
        ).json()
        memory_id = added["results"][0]["id"]
        queued = mine.post(
            "/v3/memories/add/", json={"messages": "I am allergic to penicillin.", "user_id": shared_user}
        ).json()
        wait_event(server, queued["event_id"])

        assert _count(theirs, {"user_id": shared_user}) == 0
        assert _count(theirs, {"user_id": "*"}) == 0
        search = theirs.post(
            "/v3/memories/search/", json={"query": "bank PIN", "filters": {"user_id": "*"}, "threshold": 0}
        )
        assert search.json()["results"] == []
        assert theirs.get(f"/v1/memories/{memory_id}/").status_code == 404
        assert theirs.get(f"/v1/memories/{memory_id}/history/").status_code == 404
        assert theirs.put(f"/v1/memories/{memory_id}/", json={"text": "hacked"}).status_code == 404
        assert theirs.delete(f"/v1/memories/{memory_id}/").status_code == 404
        assert theirs.get(f"/v1/event/{queued['event_id']}/").status_code == 404
        assert queued["event_id"] not in [e["id"] for e in theirs.get("/v1/events/").json()["results"]]
        assert shared_user not in [e["name"] for e in theirs.get("/v1/entities/").json()["results"]]
        assert theirs.delete(f"/v2/entities/user/{shared_user}/").status_code == 404
        assert theirs.delete("/v1/memories/", params={"user_id": "*"}).json()["deleted_count"] == 0
        batch = theirs.request("DELETE", "/v1/batch/", json={"memories": [{"memory_id": memory_id}]})
        assert batch.status_code == 404
        batch = theirs.put("/v1/batch/", json={"memories": [{"memory_id": memory_id, "text": "x"}]})
        assert batch.status_code == 404

        assert mine.get(f"/v1/memories/{memory_id}/").json()["memory"] == "My bank PIN hint is the cat's name."
        assert _count(mine, {"user_id": shared_user}) == 2


def test_revoked_key_is_refused(server: MnemoServer) -> None:
    env = {**server.env, "MNEMO_DATABASE_URL": _database_url(server)}
    created = run_cli(["keys", "create", "--name", "short-lived"], env=env)
    key = created.stdout.strip().splitlines()[-1]
    assert httpx.get(f"{server.url}/v1/ping/", headers=server.headers(key)).status_code == 200
    listing = run_cli(["keys", "list"], env=env)
    assert key not in listing.stdout
    key_id = next(line.split()[0] for line in listing.stdout.splitlines() if "short-lived" in line)
    assert run_cli(["keys", "revoke", key_id], env=env).returncode == 0
    response = httpx.get(f"{server.url}/v1/ping/", headers=server.headers(key))
    assert response.status_code == 401 and "revoked" in response.json()["detail"]


def test_a_key_revoked_by_hand_in_the_database_is_refused_within_moments(server: MnemoServer) -> None:
    """The server remembers keys it has seen; a change made outside it (here SQL by hand) must still reach it."""
    env = {**server.env, "MNEMO_DATABASE_URL": _database_url(server)}
    key = run_cli(["keys", "create", "--name", "revoked-by-hand"], env=env).stdout.strip().splitlines()[-1]
    for _ in range(3):  # seen, and remembered
        assert httpx.get(f"{server.url}/v1/ping/", headers=server.headers(key)).status_code == 200
    with psycopg.connect(_database_url(server), autocommit=True) as conn:
        conn.execute("UPDATE api_keys SET revoked_at = now() WHERE name = 'revoked-by-hand'")
    deadline = time.monotonic() + 2.0  # the notification's delivery, not a cache's lifetime (a minute)
    while (status := httpx.get(f"{server.url}/v1/ping/", headers=server.headers(key)).status_code) == 200:
        assert time.monotonic() < deadline, "the revoked key is still accepted"
        time.sleep(0.02)
    assert status == 401


def _count(client: httpx.Client, filters: dict[str, Any]) -> int:
    response = client.post("/v3/memories/", json={"filters": filters})
    assert response.status_code == 200, response.text
    count: int = response.json()["count"]
    return count
