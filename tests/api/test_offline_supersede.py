"""Offline supersede: with no LLM, a fact giving the same subject and attribute a new value supersedes the
older memory of the same scope (``replaced_by``), through the HTTP API and the official client."""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from mem0 import MemoryClient

from mnemo.pipeline.claims import claims_in, supersedes
from testkit.server import MnemoServer, wait_event


@pytest.fixture(scope="module")
def client(server: MnemoServer) -> Iterator[MemoryClient]:
    yield MemoryClient(api_key=server.api_key, host=server.url)


def _user() -> str:
    return f"sup-{uuid.uuid4().hex[:8]}"


def _add(server: MnemoServer, content: str, *, name: str | None = "Alice", **scope: Any) -> dict[str, Any]:
    """An infer=true add of one user message, waited for; returns the finished event."""
    message: dict[str, Any] = {"role": "user", "content": content}
    if name:
        message["name"] = name
    with server.client() as http:
        response = http.post("/v3/memories/add/", json={"messages": [message], **scope})
        assert response.status_code == 200, response.text
    event = wait_event(server, response.json()["event_id"])
    assert event["status"] == "SUCCEEDED", event
    return event


def _add_verbatim(server: MnemoServer, content: str, user: str) -> str:
    body = {"messages": [{"role": "user", "content": content}], "user_id": user, "infer": False}
    with server.client() as http:
        response = http.post("/v3/memories/add/", json=body)
        assert response.status_code == 200, response.text
    memory_id: str = response.json()["results"][0]["id"]
    return memory_id


def _only_id(event: dict[str, Any]) -> str:
    assert len(event["results"]) == 1, event["results"]
    memory_id: str = event["results"][0]["id"]
    return memory_id


def _get(server: MnemoServer, memory_id: str) -> dict[str, Any]:
    with server.client() as http:
        response = http.get(f"/v1/memories/{memory_id}/")
        assert response.status_code == 200, response.text
        body: dict[str, Any] = response.json()
        return body


def _current_ids(server: MnemoServer, filters: dict[str, Any]) -> set[str]:
    with server.client() as http:
        body = http.post("/v3/memories/", json={"filters": filters, "latest_only": True, "page_size": 100}).json()
    return {memory["id"] for memory in body["results"]}


def test_new_employer_supersedes_the_old_one(server: MnemoServer, client: MemoryClient) -> None:
    user = _user()
    old_id = _only_id(_add(server, "I work at Acme.", user_id=user))
    event = _add(server, "I just started a new job at Globex!", user_id=user)
    new_id = _only_id(event)
    assert event["metadata"]["superseded"] == 1

    old = client.get(old_id)
    assert old["replaced_by"] == new_id and old["lifecycle_state"] == "superseded"
    assert old["memory"] == "Alice works at Acme."  # nothing is rewritten or deleted
    assert client.get(new_id)["replaced_by"] is None

    everything = client.get_all(filters={"user_id": user})
    assert {m["id"] for m in everything["results"]} == {old_id, new_id}
    latest = client.get_all(filters={"user_id": user}, latest_only=True)
    assert [m["id"] for m in latest["results"]] == [new_id]
    hits = client.search("Where does Alice work?", filters={"user_id": user}, latest_only=True, threshold=0.0)
    assert [m["id"] for m in hits["results"]] == [new_id]
    both = client.search("Where does Alice work?", filters={"user_id": user}, threshold=0.0)
    assert {m["id"] for m in both["results"]} == {old_id, new_id}


def test_a_chain_of_moves_and_delete_linked(server: MnemoServer) -> None:
    user = _user()
    paris = _only_id(_add(server, "I live in Paris.", name=None, user_id=user))
    berlin = _only_id(_add(server, "I moved to Berlin last month.", name=None, user_id=user))
    lisbon = _only_id(_add(server, "I've moved to Lisbon!", name=None, user_id=user))

    assert _get(server, paris)["replaced_by"] == berlin
    assert _get(server, berlin)["replaced_by"] == lisbon
    assert _get(server, lisbon)["replaced_by"] is None
    assert _current_ids(server, {"user_id": user}) == {lisbon}

    with server.client() as http:
        deleted = http.delete(f"/v1/memories/{lisbon}/", params={"delete_linked": "true"}).json()
        assert deleted["cascade_count"] == 2
        for memory_id in (paris, berlin, lisbon):
            assert http.get(f"/v1/memories/{memory_id}/").status_code == 404


@pytest.mark.parametrize(
    ("before", "after"),
    [
        ("My favourite colour is blue.", "My favourite colour is green now."),
        ("I'm 30 years old.", "I turned 31 yesterday."),
        ("My dog's name is Rex.", "My dog is called Max."),
        ("I'm married to Bob.", "I'm single now."),
        ("I work as a nurse.", "I work as a teacher."),
    ],
)
def test_each_kind_of_attribute_is_superseded(server: MnemoServer, before: str, after: str) -> None:
    user = _user()
    old_id = _only_id(_add(server, before, user_id=user))
    new_id = _only_id(_add(server, after, user_id=user))
    assert _get(server, old_id)["replaced_by"] == new_id
    assert _current_ids(server, {"user_id": user}) == {new_id}


def test_different_subjects_do_not_supersede(server: MnemoServer) -> None:
    user = _user()
    alice = _only_id(_add(server, "I live in Paris.", name="Alice", user_id=user))
    bob = _only_id(_add(server, "I live in Berlin.", name="Bob", user_id=user))
    assert _current_ids(server, {"user_id": user}) == {alice, bob}


def test_different_attributes_do_not_supersede(server: MnemoServer) -> None:
    user = _user()
    home = _only_id(_add(server, "I live in Paris.", user_id=user))
    work = _only_id(_add(server, "I work at Paris Baguette.", user_id=user))
    colour = _only_id(_add(server, "My favourite colour is red.", user_id=user))
    food = _only_id(_add(server, "My favourite food is ramen.", user_id=user))
    assert _current_ids(server, {"user_id": user}) == {home, work, colour, food}


def test_the_same_value_does_not_supersede(server: MnemoServer) -> None:
    user = _user()
    first = _only_id(_add(server, "I work at Acme.", user_id=user))
    event = _add(server, "I'm working at Acme Corp these days.", user_id=user)
    assert event["metadata"]["superseded"] == 0
    assert first in _current_ids(server, {"user_id": user})
    assert _get(server, first)["replaced_by"] is None


def test_other_scopes_are_never_touched(server: MnemoServer) -> None:
    user, other = _user(), _user()
    mine = _only_id(_add(server, "I work at Acme.", user_id=user))
    theirs = _only_id(_add(server, "I work at Acme.", user_id=other))
    in_run = _only_id(_add(server, "I work at Acme.", user_id=user, run_id="session-1"))
    of_agent = _only_id(_add(server, "I work at Acme.", agent_id=f"agent-{user}"))
    in_app = _only_id(_add(server, "I work at Acme.", user_id=user, app_id="crm"))

    newest = _only_id(_add(server, "I work at Globex.", user_id=user))
    assert _get(server, mine)["replaced_by"] == newest
    for untouched in (theirs, in_run, of_agent, in_app):
        assert _get(server, untouched)["replaced_by"] is None
    assert theirs in _current_ids(server, {"user_id": other})


def test_a_memory_that_says_more_is_kept_current(server: MnemoServer) -> None:
    """Precision first: the older memory also says something the new fact does not contradict."""
    user = _user()
    older = _only_id(_add(server, "I live in Paris with my two cats.", user_id=user))
    newer = _only_id(_add(server, "I moved to Berlin.", user_id=user))
    assert _current_ids(server, {"user_id": user}) == {older, newer}


@pytest.mark.parametrize(
    "later",
    ["I used to work at Globex.", "I also work at Globex on weekends.", "I no longer work at Globex.",
     "I will work at Globex next year.", "Maybe I'll work at Globex.", "I work at a fast pace."],
)  # fmt: skip
def test_past_future_negated_or_partial_statements_do_not_supersede(server: MnemoServer, later: str) -> None:
    user = _user()
    first = _only_id(_add(server, "I work at Acme.", user_id=user))
    _add(server, later, user_id=user)
    assert first in _current_ids(server, {"user_id": user})


def test_verbatim_adds_neither_supersede_nor_are_superseded(server: MnemoServer) -> None:
    user = _user()
    inferred = _only_id(_add(server, "I work at Acme.", user_id=user))
    verbatim_id = _add_verbatim(server, "Alice works at Globex now.", user)
    assert _get(server, inferred)["replaced_by"] is None

    user = _user()
    said = _add_verbatim(server, "I work at Acme.", user)
    latest = _only_id(_add(server, "I work at Globex.", user_id=user))
    assert _current_ids(server, {"user_id": user}) == {said, latest}
    assert _get(server, verbatim_id)["replaced_by"] is None


def test_adds_processed_out_of_order_keep_the_later_dated_fact_current(server: MnemoServer) -> None:
    user = _user()
    later = _only_id(_add(server, "I live in Berlin.", user_id=user, timestamp=1_717_200_000))  # June 2024
    earlier = _only_id(_add(server, "I live in Paris.", user_id=user, timestamp=1_577_836_800))  # January 2020
    assert _get(server, earlier)["replaced_by"] == later
    assert _current_ids(server, {"user_id": user}) == {later}


# ---------------------------------------------------------------- the rule set itself


@pytest.mark.parametrize(
    ("fact", "claims"),
    [
        ("Alice work at Acme.", [("employer", "Acme", True)]),
        ("Alice is working at Google now.", [("employer", "Google", True)]),
        ("Alice has been working at Acme for 5 years.", [("employer", "Acme", True)]),
        ("Alice works at Johnson & Johnson as an engineer.", [("employer", "Johnson & Johnson", True),
                                                              ("occupation", "engineer", True)]),
        ("Alice works at the hospital.", [("employer", "the hospital", True)]),
        ("Alice works for a startup that makes toys.", [("employer", "a startup", False)]),
        ("User live in Paris.", [("residence", "Paris", True)]),
        ("User moved to Berlin last month (May 2024).", [("residence", "Berlin", True)]),
        ("Alice moved from Paris to Berlin in 2020.", [("residence", "Berlin", True)]),
        ("Alice lives in the U.S. now.", [("residence", "the U.S.", True)]),
        ("Alice lives in Paris with her two cats.", [("residence", "Paris", False)]),
        ("Mary Jane lives in New York.", [("residence", "New York", True)]),
        ("User's favourite colour is blue.", [("favorite color", "blue", True)]),
        ("Alice's favourite ice cream flavour is vanilla.", [("favorite ice cream flavor", "vanilla", True)]),
        ("Alice is 31.", [("age", "31", True)]),
        ("Alice turned 32 yesterday (2024-06-14).", [("age", "32", True)]),
        ("Alice's dog is called Max.", [("dog's name", "Max", True)]),
        ("Alice's name is Bob.", [("name", "Bob", True)]),
        ("Alice's husband is Tom.", [("partner", "Tom", True)]),
        ("Alice got married to Bob last June.", [("status", "married", True), ("partner", "Bob", True)]),
        ("Alice got divorced last year (2023).", [("status", "divorced", True)]),
    ],
)  # fmt: skip
def test_claims_recognised(fact: str, claims: list[tuple[str, str, bool]]) -> None:
    found = claims_in(fact)
    assert [(c.attribute, c.value, c.whole) for c in found] == claims
    subject = "Mary Jane" if fact.startswith("Mary Jane") else re.match(r"[A-Za-z]+", fact)[0]  # type: ignore[index]
    assert {c.subject for c in found} == {subject}


@pytest.mark.parametrize(
    "fact",
    [
        "Alice used to live in Paris.", "Alice no longer work at Acme.", "Alice also work at Initech on weekends.",
        "Alice will move to Berlin.", "User live in paris.", "Alice is 5 minutes away.", "Alice is 100% sure.",
        "Alice works at night.", "Alice is engaged in a new project.", "Alice's favourite band is probably Muse.",
        "Alice's favourite thing about summer is the beach.", "Alice: We live in Paris.", "I work at Acme.",
        "Alice's husband is a doctor.", "Alice lives in a small flat.",
    ],
)  # fmt: skip
def test_no_claim(fact: str) -> None:
    assert claims_in(fact) == []


def test_supersedes_needs_same_subject_attribute_and_another_value() -> None:
    assert supersedes("Alice works at Globex.", "Alice work at Acme.")
    assert not supersedes("Alice works at Acme Corp.", "Alice work at Acme.")  # the same employer, said more fully
    assert not supersedes("Bob works at Globex.", "Alice work at Acme.")
    assert not supersedes("Alice lives in Berlin.", "Alice work at Acme.")
    assert not supersedes("Alice lives in Berlin.", "Alice lives in Paris with her two cats.")
    assert supersedes("Alice is single.", "Alice is married to Bob.")
