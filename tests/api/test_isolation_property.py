"""Property: random sequences of calls by two projects never let one see, count or change the other's data."""

from __future__ import annotations

import uuid

import httpx
import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule, run_state_machine_as_test

from testkit.server import MnemoServer, run_cli

USERS = ("alice", "bob", "carol")
WORDS = ("garden", "piano", "coffee", "hiking", "paris", "invoice", "cat", "sushi")


def _db(server: MnemoServer) -> str:
    args = server.process.args
    assert isinstance(args, list)
    return str(args[args.index("--database-url") + 1])


class TwoTenants(RuleBasedStateMachine):
    """Project A and project B act on same-named users; a model tracks what each should see."""

    server: MnemoServer
    keys: dict[str, str]

    def __init__(self) -> None:
        super().__init__()
        self.run = uuid.uuid4().hex[:6]
        self.clients = {
            p: httpx.Client(base_url=self.server.url, headers={"Authorization": f"Token {k}"}, timeout=60)
            for p, k in self.keys.items()
        }
        self.model: dict[str, dict[str, dict[str, str]]] = {"A": {}, "B": {}}  # project -> id -> {user, text}
        # Users each project has written under: an entity outlives its memories (deleted only as an entity).
        self.entities: dict[str, set[str]] = {"A": set(), "B": set()}

    def teardown(self) -> None:
        for client in self.clients.values():
            client.close()

    def _user(self, user: str) -> str:
        return f"{user}-{self.run}"

    @rule(
        project=st.sampled_from("AB"),
        user=st.sampled_from(USERS),
        words=st.lists(st.sampled_from(WORDS), min_size=1, max_size=3),
    )
    def add(self, project: str, user: str, words: list[str]) -> None:
        text = f"{project} {' '.join(words)} {uuid.uuid4().hex[:4]}"
        body = {"messages": text, "user_id": self._user(user), "infer": False}
        response = self.clients[project].post("/v3/memories/add/", json=body)
        assert response.status_code == 200, response.text
        for item in response.json()["results"]:
            self.model[project][item["id"]] = {"user": user, "text": text}
        self.entities[project].add(self._user(user))

    @precondition(lambda self: bool(self.model["A"] or self.model["B"]))
    @rule(actor=st.sampled_from("AB"), owner=st.sampled_from("AB"), data=st.data())
    def touch_by_id(self, actor: str, owner: str, data: st.DataObject) -> None:
        if not self.model[owner]:
            return
        memory_id = data.draw(st.sampled_from(sorted(self.model[owner])))
        client = self.clients[actor]
        action = data.draw(st.sampled_from(["get", "history", "update", "delete"]))
        if action == "get":
            response = client.get(f"/v1/memories/{memory_id}/")
        elif action == "history":
            response = client.get(f"/v1/memories/{memory_id}/history/")
        elif action == "update":
            text = f"{owner} updated {uuid.uuid4().hex[:4]}"
            response = client.put(f"/v1/memories/{memory_id}/", json={"text": text})
            if response.status_code == 200:
                self.model[owner][memory_id]["text"] = text
        else:
            response = client.delete(f"/v1/memories/{memory_id}/")
            if response.status_code == 200:
                del self.model[owner][memory_id]
        expected = 200 if actor == owner else 404
        assert response.status_code == expected, (actor, owner, action, response.text)

    @rule(project=st.sampled_from("AB"), user=st.sampled_from(USERS))
    def delete_user(self, project: str, user: str) -> None:
        response = self.clients[project].delete("/v1/memories/", params={"user_id": self._user(user)})
        assert response.status_code == 200
        mine = [i for i, m in self.model[project].items() if m["user"] == user]
        assert response.json()["deleted_count"] == len(mine)
        for memory_id in mine:
            del self.model[project][memory_id]

    @rule(project=st.sampled_from("AB"), user=st.sampled_from(USERS), word=st.sampled_from(WORDS))
    def search(self, project: str, user: str, word: str) -> None:
        body = {"query": word, "filters": {"user_id": self._user(user)}, "threshold": 0, "top_k": 50}
        results = self.clients[project].post("/v3/memories/search/", json=body).json()["results"]
        expected = {i for i, m in self.model[project].items() if m["user"] == user}
        assert {r["id"] for r in results} == expected

    @invariant()
    def lists_match_the_model(self) -> None:
        for project, client in self.clients.items():
            body = {"filters": {"user_id": {"in": [self._user(u) for u in USERS]}}, "page_size": 500}
            listed = client.post("/v3/memories/", json=body).json()
            assert listed["count"] == len(self.model[project])
            assert {m["id"]: m["memory"] for m in listed["results"]} == {
                i: m["text"] for i, m in self.model[project].items()
            }
            names = {e["name"] for e in client.get("/v1/entities/").json()["results"]}
            assert {n for n in names if n.endswith(self.run)} == self.entities[project]


@pytest.fixture(scope="module")
def tenant_keys(server: MnemoServer) -> dict[str, str]:
    env = {**server.env, "MNEMO_DATABASE_URL": _db(server)}
    other = run_cli(["keys", "create", "--project", "proj_tenant_b"], env=env)
    assert other.returncode == 0, other.stderr
    return {"A": server.api_key, "B": other.stdout.strip().splitlines()[-1]}


def test_two_tenants_never_interfere(server: MnemoServer, tenant_keys: dict[str, str]) -> None:
    TwoTenants.server = server
    TwoTenants.keys = tenant_keys
    run_state_machine_as_test(
        TwoTenants,
        settings=settings(
            max_examples=15, stateful_step_count=12, deadline=None, suppress_health_check=list(HealthCheck)
        ),
    )
