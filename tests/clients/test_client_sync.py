"""The official ``mem0ai`` 2.2.1 Python client (sync) drives every memory method against mnemo."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from testkit.server import MnemoServer, wait_event


@pytest.fixture(scope="module")
def mem0_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("mem0home")
    os.environ["MEM0_DIR"] = str(path)
    return path


@pytest.fixture(scope="module")
def client(server: MnemoServer, mem0_dir: Path) -> Iterator[Any]:
    from mem0 import MemoryClient

    yield MemoryClient(api_key=server.api_key, host=server.url)


def _user() -> str:
    return f"user-{uuid.uuid4().hex[:8]}"


def _add_verbatim(client: Any, user: str, *texts: str, **options: Any) -> list[dict[str, Any]]:
    result = client.add([{"role": "user", "content": text} for text in texts], user_id=user, infer=False, **options)
    assert result["status"] == "SUCCEEDED"
    return list(result["results"])


def test_bad_key_fails_at_construction(server: MnemoServer, mem0_dir: Path) -> None:
    from mem0 import MemoryClient

    with pytest.raises(ValueError, match="Invalid API key"):
        MemoryClient(api_key="m0-not-a-key", host=server.url)


def test_add_infer_true_is_queued_then_processed(client: Any, server: MnemoServer) -> None:
    user = _user()
    result = client.add(
        [
            {"role": "user", "content": "I just moved to San Francisco from New York."},
            {"role": "assistant", "content": "Got it, I'll update your location."},
        ],
        user_id=user,
    )
    assert result["status"] == "PENDING"
    assert result["message"] == "Memory processing has been queued for background execution"
    event = wait_event(server, result["event_id"])
    assert event["status"] == "SUCCEEDED", event
    assert event["results"], event
    memories = [item["data"]["memory"] for item in event["results"]]
    assert any("San Francisco" in text for text in memories)
    listed = client.get_all(filters={"user_id": user})
    assert {m["id"] for m in listed["results"]} == {item["id"] for item in event["results"]}


def test_add_infer_false_stores_each_message(client: Any) -> None:
    user = _user()
    result = client.add(
        [
            {"role": "system", "content": "You are helpful."},
            {"role": "user", "content": "My favourite colour is teal."},
            {"role": "assistant", "content": "Noted: teal."},
        ],
        user_id=user,
        infer=False,
        metadata={"source": "test"},
    )
    assert result["status"] == "SUCCEEDED"
    assert [r["data"]["memory"] for r in result["results"]] == [
        "My favourite colour is teal.",
        "Noted: teal.",
    ]
    again = client.add([{"role": "user", "content": "My favourite colour is teal."}], user_id=user, infer=False)
    assert again["results"] == []
    assert client.get_all(filters={"user_id": user})["count"] == 2


def test_search_finds_by_meaning_within_scope(client: Any) -> None:
    user, other = _user(), _user()
    _add_verbatim(client, user, "I adopted a golden retriever named Max.", "I work as a nurse in Boston.")
    _add_verbatim(client, other, "I have a pet dog called Rex.")
    found = client.search("What pet does the user have?", filters={"user_id": user}, top_k=5)
    assert found["results"][0]["memory"] == "I adopted a golden retriever named Max."
    assert all(r["user_id"] == user for r in found["results"])
    assert 0 <= found["results"][0]["score"] <= 1
    assert found["results"][0]["score"] >= found["results"][-1]["score"]
    limited = client.search("pet", filters={"user_id": user}, top_k=1, fields=["memory"])
    assert len(limited["results"]) == 1
    assert set(limited["results"][0]) <= {"id", "memory", "score"}


def test_get_update_history_delete(client: Any) -> None:
    from mem0.exceptions import MemoryNotFoundError

    user = _user()
    (added,) = _add_verbatim(client, user, "I live in Lisbon.")
    memory_id = added["id"]
    fetched = client.get(memory_id)
    assert fetched["memory"] == "I live in Lisbon." and fetched["user_id"] == user
    client.update(memory_id, text="I live in Porto.", metadata={"verified": True})
    fetched = client.get(memory_id)
    assert fetched["memory"] == "I live in Porto." and fetched["metadata"] == {"verified": True}
    client.update(memory_id, metadata={"verified": False})
    assert client.get(memory_id)["memory"] == "I live in Porto."
    history = client.history(memory_id)
    assert [h["event"] for h in history] == ["ADD", "UPDATE", "UPDATE"]
    assert history[1]["old_memory"] == "I live in Lisbon." and history[1]["new_memory"] == "I live in Porto."
    assert client.delete(memory_id)["message"] == "Memory deleted successfully!"
    with pytest.raises(MemoryNotFoundError):
        client.get(memory_id)
    assert client.history(memory_id)[-1]["event"] == "DELETE"


def test_unknown_id_raises_not_found(client: Any) -> None:
    from mem0.exceptions import MemoryNotFoundError

    with pytest.raises(MemoryNotFoundError):
        client.get(str(uuid.uuid4()))
    with pytest.raises(MemoryNotFoundError):
        client.delete(str(uuid.uuid4()))


def test_bad_input_raises_validation_error(client: Any) -> None:
    from mem0.exceptions import ValidationError

    with pytest.raises(ValidationError, match="user_id, agent_id, app_id or run_id"):
        client.add([{"role": "user", "content": "hello"}])
    with pytest.raises(ValidationError, match="role"):
        client.add([{"role": "robot", "content": "hello"}], user_id="u")
    with pytest.raises(ValidationError, match="content"):
        client.add([{"role": "user", "content": {"text": "x"}}], user_id="u")
    with pytest.raises(ValidationError, match="filters"):
        client.get_all()
    with pytest.raises(ValidationError, match="Unknown filter key"):
        client.get_all(filters={"user": "x"})


def test_get_all_paginates(client: Any) -> None:
    user = _user()
    _add_verbatim(client, user, *[f"Fact number {i} about the garden." for i in range(5)])
    first = client.get_all(filters={"user_id": user}, page=1, page_size=2)
    assert first["count"] == 5 and len(first["results"]) == 2
    assert first["previous"] is None and "page=2" in first["next"]
    last = client.get_all(filters={"user_id": user}, page=3, page_size=2)
    assert len(last["results"]) == 1 and last["next"] is None
    ids = {
        m["id"]
        for page in (1, 2, 3)
        for m in client.get_all(filters={"user_id": user}, page=page, page_size=2)["results"]
    }
    assert len(ids) == 5


def test_delete_all_is_scoped(client: Any) -> None:
    from mem0.exceptions import ValidationError

    keep, wipe = _user(), _user()
    _add_verbatim(client, keep, "I play chess on Sundays.")
    _add_verbatim(client, wipe, "I play tennis on Mondays.", "I own a red bicycle.")
    with pytest.raises(ValidationError, match="scope"):
        client.delete_all()
    client.delete_all(user_id=wipe)
    assert client.get_all(filters={"user_id": wipe})["count"] == 0
    assert client.get_all(filters={"user_id": keep})["count"] == 1


def test_users_and_delete_users(client: Any) -> None:
    user = f"user/{uuid.uuid4().hex[:6]} with space"
    _add_verbatim(client, user, "I like jazz.")
    entities = client.users()["results"]
    assert {"type": "user", "name": user} in [{"type": e["type"], "name": e["name"]} for e in entities]
    client.delete_users(user_id=user)
    assert client.get_all(filters={"user_id": user})["count"] == 0
    assert user not in [e["name"] for e in client.users()["results"]]


def test_batch_update_and_delete(client: Any) -> None:
    from mem0.exceptions import MemoryNotFoundError

    user = _user()
    added = _add_verbatim(client, user, "I drink coffee.", "I drink tea.")
    ids = [item["id"] for item in added]
    result = client.batch_update(
        [{"memory_id": ids[0], "text": "I drink espresso."}, {"memory_id": ids[1], "metadata": {"k": 1}}]
    )
    assert result["message"] == "Successfully updated 2 memories"
    assert client.get(ids[0])["memory"] == "I drink espresso."
    assert client.get(ids[1])["metadata"] == {"k": 1}
    with pytest.raises(MemoryNotFoundError):
        client.batch_delete([{"memory_id": ids[0]}, {"memory_id": str(uuid.uuid4())}])
    assert client.get(ids[0])["memory"] == "I drink espresso."
    assert client.batch_delete([{"memory_id": i} for i in ids])["message"] == "Successfully deleted 2 memories"
    assert client.get_all(filters={"user_id": user})["count"] == 0


def test_expired_memories_hidden_from_lists_but_readable(client: Any) -> None:
    user = _user()
    (old,) = _add_verbatim(client, user, "My passport expires soon.", expiration_date="2020-01-01")
    (fresh,) = _add_verbatim(client, user, "My visa is valid.", expiration_date="2999-01-01")
    listed = client.get_all(filters={"user_id": user})
    assert [m["id"] for m in listed["results"]] == [fresh["id"]]
    assert client.get_all(filters={"user_id": user}, show_expired=True)["count"] == 2
    hidden = client.search("passport", filters={"user_id": user}, threshold=0)["results"]
    assert old["id"] not in [m["id"] for m in hidden]
    shown = client.search("passport", filters={"user_id": user}, threshold=0, show_expired=True)["results"]
    assert old["id"] in [m["id"] for m in shown]
    assert client.get(old["id"])["expiration_date"] == "2020-01-01"


def test_project_settings_round_trip(client: Any) -> None:
    from mem0.exceptions import ValidationError

    project = client.project.get()
    assert len(project["custom_categories"]) == 15
    client.project.update(
        custom_instructions="Remember dietary facts only.", custom_categories=[{"pets": "Animals the user keeps"}]
    )
    project = client.project.get()
    assert project["custom_instructions"] == "Remember dietary facts only."
    assert project["custom_categories"] == [{"pets": "Animals the user keeps"}]
    client.project.update(custom_instructions="")
    # The client drops None arguments; a null resets the categories to the default catalogue.
    path = f"/api/v1/orgs/organizations/{client.org_id}/projects/{client.project_id}/"
    client.client.patch(path, json={"custom_categories": None}).raise_for_status()
    project = client.project.get()
    assert project["custom_instructions"] == ""
    assert len(project["custom_categories"]) == 15
    with pytest.raises(ValidationError):
        client.project.update(custom_categories=[])
