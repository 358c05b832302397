"""Memory exports (POST /v1/exports/, POST /v1/exports/get/) through the official client and HTTP."""

from __future__ import annotations

import json
import os
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import psycopg
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import BaseModel

from mnemo.domain.exports import MAX_EXPORT_MEMORIES, shape_export
from mnemo.domain.memories import MemoryRecord, Scope
from mnemo.storage import Database, ProjectData
from testkit.server import MnemoServer, run_cli, start_server
from tests.storage.support import insert, memory

FACTS_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "user_id": {"type": "string"},
        "count": {"type": "integer"},
        "facts": {"type": "array", "items": {"type": "string"}},
    },
}
CREATED = "Memory export request received. The export will be ready in a few seconds."


@pytest.fixture(scope="module")
def client(server: MnemoServer, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    os.environ["MEM0_DIR"] = str(tmp_path_factory.mktemp("mem0home"))
    from mem0 import MemoryClient

    yield MemoryClient(api_key=server.api_key, host=server.url)


@pytest.fixture(scope="module")
def http(server: MnemoServer) -> Iterator[httpx.Client]:
    with server.client() as client:
        yield client


def _new_key(server: MnemoServer, *args: str) -> str:
    process_args = server.process.args
    assert isinstance(process_args, list)
    env = {**server.env, "MNEMO_DATABASE_URL": str(process_args[process_args.index("--database-url") + 1])}
    result = run_cli(["keys", "create", *args], env=env)
    assert result.returncode == 0, result.stderr
    return result.stdout.strip().splitlines()[-1]


def _user() -> str:
    return f"exp-{uuid.uuid4().hex[:8]}"


def _add(http: httpx.Client, user: str, *texts: str, **extra: Any) -> list[str]:
    """Stores each text verbatim (one add per text, so their order is their age); returns the ids."""
    ids = []
    for text in texts:
        response = http.post("/v3/memories/add/", json={"messages": text, "user_id": user, "infer": False, **extra})
        assert response.status_code == 200, response.text
        ids.extend(item["id"] for item in response.json()["results"])
    return ids


def _create(http: httpx.Client, body: dict[str, Any], **headers: str) -> str:
    response = http.post("/v1/exports/", json=body, headers=headers)
    assert response.status_code == 201, response.text
    assert response.json()["message"] == CREATED
    export_id: str = response.json()["id"]
    return export_id


def _get(http: httpx.Client, body: dict[str, Any]) -> dict[str, Any]:
    response = http.post("/v1/exports/get/", json=body)
    assert response.status_code == 200, response.text
    result: dict[str, Any] = response.json()
    return result


def _texts(export: dict[str, Any]) -> list[str]:
    return [memory["memory"] for memory in export["memories"]]


def test_client_creates_an_export_and_reads_it_by_id_and_by_filters(client: Any, http: httpx.Client) -> None:
    user = _user()
    _add(http, user, "I play the cello.", "I live in Lisbon.")
    created = client.create_memory_export(schema=FACTS_SCHEMA, filters={"AND": [{"user_id": user}]})
    assert created["message"] == CREATED
    uuid.UUID(created["id"])
    expected = {"user_id": user, "count": 2, "facts": ["I live in Lisbon.", "I play the cello."]}
    assert client.get_memory_export(memory_export_id=created["id"]) == expected
    assert client.get_memory_export(filters={"user_id": user}) == expected
    # The client's keyword arguments arrive at the top level: entity ids there select too.
    assert client.get_memory_export(user_id=user) == expected


def test_flat_filters_and_top_level_ids_create_the_same_export(client: Any, http: httpx.Client) -> None:
    user = _user()
    _add(http, user, "I keep bees.")
    flat = client.create_memory_export(schema=FACTS_SCHEMA, filters={"user_id": user})
    top_level = client.create_memory_export(schema=FACTS_SCHEMA, user_id=user)
    first = client.get_memory_export(memory_export_id=flat["id"])
    assert first == client.get_memory_export(memory_export_id=top_level["id"])
    assert first["facts"] == ["I keep bees."]


class Fact(BaseModel):
    id: str
    text: str
    created_at: str
    mood: str = "unknown"


class Profile(BaseModel):
    user_id: str | None = None
    full_name: str | None = None
    facts: list[Fact]
    tags: list[str] = []


def test_a_pydantic_schema_is_filled_by_property_name(client: Any, http: httpx.Client) -> None:
    user = _user()
    ids = _add(http, user, "My name is Ada.", "I write compilers.")
    listed = http.post("/v3/memories/", json={"filters": {"user_id": user}}).json()["results"]
    created = client.create_memory_export(schema=Profile.model_json_schema(), filters={"user_id": user})
    export = client.get_memory_export(memory_export_id=created["id"])
    profile = Profile.model_validate(export)
    assert profile.user_id == user and profile.full_name is None
    assert [(fact.id, fact.text, fact.mood) for fact in profile.facts] == [
        (ids[1], "I write compilers.", "unknown"),
        (ids[0], "My name is Ada.", "unknown"),
    ]
    assert [fact.created_at for fact in profile.facts] == [memory["created_at"] for memory in listed]
    assert profile.tags == sorted({c for memory in listed for c in memory["categories"]})
    assert "memories" not in export  # the facts property took them


def test_schemas_without_a_place_for_memories_get_a_memories_list(http: httpx.Client) -> None:
    user = _user()
    ids = _add(http, user, "I am a nurse.")
    wire = http.get(f"/v1/memories/{ids[0]}/").json()
    free_text = _get(http, {"memory_export_id": _create(http, {"schema": "my profile", "filters": {"user_id": user}})})
    assert free_text == {"memories": [wire]}
    professional = {
        "$defs": {"Level": {"enum": ["junior", "senior"], "type": "string"}},
        "properties": {
            "full_name": {"anyOf": [{"type": "string"}, {"type": "null"}], "default": None},
            "level": {"$ref": "#/$defs/Level", "default": "junior"},
            "count": {"type": "string"},
        },
        "title": "ProfessionalProfile",
        "type": "object",
    }
    export = _get(http, {"memory_export_id": _create(http, {"schema": professional, "user_id": user})})
    assert export == {"full_name": None, "level": "junior", "count": None, "memories": [wire]}
    closed = {**professional, "additionalProperties": False}
    export = _get(http, {"memory_export_id": _create(http, {"schema": closed, "user_id": user})})
    assert export == {"full_name": None, "level": "junior", "count": None}


def test_filters_select_exactly_the_matching_memories(http: httpx.Client) -> None:
    alice, bob = _user(), _user()
    _add(http, alice, "I like tea.", metadata={"kind": "taste"})
    _add(http, alice, "I run marathons.", metadata={"kind": "sport"})
    _add(http, bob, "I like coffee.", metadata={"kind": "taste"})
    _add(http, alice, "My old passport.", expiration_date="2001-01-01")

    def export(body: dict[str, Any]) -> list[str]:
        return sorted(_texts(_get(http, {"memory_export_id": _create(http, {"schema": "x", **body})})))

    assert export({"filters": {"user_id": alice}}) == ["I like tea.", "I run marathons."]
    assert export({"filters": {"AND": [{"user_id": alice}, {"metadata": {"kind": "taste"}}]}}) == ["I like tea."]
    assert export({"filters": {"OR": [{"user_id": alice}, {"user_id": bob}]}, "show_expired": True}) == [
        "I like coffee.",
        "I like tea.",
        "I run marathons.",
        "My old passport.",
    ]
    assert export({"filters": {"user_id": {"in": [alice, bob]}, "keywords": {"icontains": "LIKE"}}}) == [
        "I like coffee.",
        "I like tea.",
    ]
    assert export({"filters": {"AND": [{"user_id": alice}, {"NOT": {"metadata": {"kind": "taste"}}}]}}) == [
        "I run marathons."
    ]
    assert export({"filters": {"user_id": alice, "created_at": {"lt": "2000-01-01"}}}) == []


def test_another_projects_memories_and_exports_never_show(server: MnemoServer, http: httpx.Client) -> None:
    other_key = _new_key(server, "--project", "proj_exports_other", "--name", "exports-other")
    user = _user()  # the same user id in both projects
    mine = _add(http, user, "I own a red bicycle.")
    with server.client(other_key) as theirs:
        theirs_ids = _add(theirs, user, "I own a blue boat.")
        mine_only = _create(http, {"schema": "x", "filters": {"user_id": user}})
        export_id = _create(http, {"schema": "x", "filters": {"user_id": "*"}})
        everything = _get(http, {"memory_export_id": export_id})
        exported_ids = {memory["id"] for memory in everything["memories"]}
        assert set(mine) <= exported_ids and not set(theirs_ids) & exported_ids
        assert "I own a blue boat." not in str(everything)
        assert _texts(_get(http, {"memory_export_id": mine_only})) == ["I own a red bicycle."]

        # Their project cannot read our export, by id or by filters, until it makes its own.
        for body in ({"memory_export_id": export_id}, {"filters": {"user_id": user}}, {"filters": {"user_id": "*"}}):
            response = theirs.post("/v1/exports/get/", json=body)
            assert response.status_code == 404, response.text
        their_export = _create(theirs, {"schema": "x", "filters": {"user_id": user}})
        assert _texts(_get(theirs, {"filters": {"user_id": user}})) == ["I own a blue boat."]
        assert _get(theirs, {"memory_export_id": their_export}) == _get(theirs, {"filters": {"user_id": user}})
        assert http.post("/v1/exports/get/", json={"memory_export_id": their_export}).status_code == 404
    assert _texts(_get(http, {"filters": {"user_id": user}})) == ["I own a red bicycle."]


@pytest.mark.parametrize(
    ("filters", "named"),
    [
        ({"user_id": "u", "colour": "red"}, "'colour'"),
        ({"AND": [{"user_id": "u"}, {"categories": {"eq": "food"}}]}, "'eq'"),
        ({"user_id": "u", "created_at": {"gte": "yesterday"}}, "'yesterday'"),
        ({"agent_id": {"ne": "bot"}}, "user_id, agent_id, app_id or run_id"),
        ({"NOT": {"user_id": "u"}}, "user_id, agent_id, app_id or run_id"),
        (None, "filters is required"),
    ],
)
def test_invalid_export_filters_are_400_naming_the_problem(
    client: Any, http: httpx.Client, filters: dict[str, Any] | None, named: str
) -> None:
    body: dict[str, Any] = {"schema": FACTS_SCHEMA} if filters is None else {"schema": FACTS_SCHEMA, "filters": filters}
    response = http.post("/v1/exports/", json=body)
    assert response.status_code == 400, response.text
    assert named in response.json()["detail"]
    from mem0.exceptions import ValidationError

    with pytest.raises(ValidationError):
        client.create_memory_export(schema=FACTS_SCHEMA, filters=filters)


@pytest.mark.parametrize(
    ("body", "named"),
    [
        ({"filters": {"categories": {"in": ["food"]}}}, "'categories'"),
        ({"filters": {"user_id": "u", "metadata": {"k": 1}}}, "'metadata'"),
        ({"filters": {"OR": [{"user_id": "u"}, {"NOT": {"keywords": {"contains": "x"}}}]}}, "'keywords'"),
        ({"filters": {"user_id": "u", "timestamp": "2024-01-01"}}, "'timestamp'"),
        ({"filters": {"user": "u"}}, "'user'"),
        ({"filters": {}}, "memory_export_id"),
        ({}, "memory_export_id"),
        ({"memory_export_id": "export-1"}, "valid UUID"),
    ],
)
def test_invalid_export_lookups_are_400_naming_the_problem(
    http: httpx.Client, body: dict[str, Any], named: str
) -> None:
    response = http.post("/v1/exports/get/", json=body)
    assert response.status_code == 400, response.text
    assert named in response.json()["detail"]


@pytest.mark.parametrize("schema", [None, "", "   ", {}, 42, ["a"]])
def test_missing_or_malformed_schema_is_400(client: Any, http: httpx.Client, schema: object) -> None:
    body = {"filters": {"user_id": "u"}} if schema is None else {"schema": schema, "filters": {"user_id": "u"}}
    response = http.post("/v1/exports/", json=body)
    assert response.status_code == 400, response.text
    detail = response.json()["detail"]
    assert isinstance(detail, str) and "schema" in detail.lower()
    if schema in (None, "", {}):
        assert detail.startswith("Schema is required")
        from mem0.exceptions import ValidationError

        with pytest.raises(ValidationError, match="Schema is required"):
            client.create_memory_export(schema=schema, filters={"user_id": "u"})


def test_unknown_export_is_404(client: Any, http: httpx.Client) -> None:
    from mem0.exceptions import MemoryNotFoundError

    with pytest.raises(MemoryNotFoundError):
        client.get_memory_export(memory_export_id=str(uuid.uuid4()))
    response = http.post("/v1/exports/get/", json={"filters": {"user_id": _user()}})
    assert response.status_code == 404
    assert response.json()["error"] == "No memory export request found"
    assert isinstance(response.json()["detail"], str)


def test_an_export_is_a_point_in_time_snapshot(http: httpx.Client) -> None:
    user = _user()
    (first,) = _add(http, user, "I have a dog.")
    before = _create(http, {"schema": FACTS_SCHEMA, "filters": {"user_id": user}})
    _add(http, user, "I have a cat.")
    assert http.put(f"/v1/memories/{first}/", json={"text": "I had a dog."}).status_code == 200
    assert _get(http, {"memory_export_id": before})["facts"] == ["I have a dog."]

    after = _create(http, {"schema": FACTS_SCHEMA, "filters": {"user_id": user}})
    assert _get(http, {"memory_export_id": after})["facts"] == ["I have a cat.", "I had a dog."]
    # By filters: the latest matching export; the earlier one stays readable by id.
    assert _get(http, {"filters": {"user_id": user}})["facts"] == ["I have a cat.", "I had a dog."]
    assert _get(http, {"memory_export_id": before})["facts"] == ["I have a dog."]
    # An id together with filters must satisfy both.
    mismatch = http.post("/v1/exports/get/", json={"memory_export_id": before, "filters": {"user_id": _user()}})
    assert mismatch.status_code == 404


def _gone(http: httpx.Client, export_id: str) -> bool:
    response = http.post("/v1/exports/get/", json={"memory_export_id": export_id})
    assert response.status_code in (200, 404), response.text
    return response.status_code == 404


def test_deleting_a_memory_deletes_the_exports_holding_it(client: Any, http: httpx.Client) -> None:
    alice, bob = _user(), _user()
    chess, stamps = _add(http, alice, "I play chess.", "I collect stamps.")
    (bobs_chess,) = _add(http, bob, "I play chess.")  # the same text, another memory
    of_alice = _create(http, {"schema": FACTS_SCHEMA, "filters": {"user_id": alice}})
    of_stamps = _create(http, {"schema": "x", "filters": {"AND": [{"user_id": alice}, {"memory_ids": [stamps]}]}})
    of_bob = _create(http, {"schema": FACTS_SCHEMA, "filters": {"user_id": bob}})

    assert http.delete(f"/v1/memories/{bobs_chess}/").status_code == 200
    assert _gone(http, of_bob)
    assert http.post("/v1/exports/get/", json={"filters": {"user_id": bob}}).status_code == 404
    # An unrelated user's delete leaves the exports of the others intact.
    assert _get(http, {"memory_export_id": of_alice})["facts"] == ["I collect stamps.", "I play chess."]

    client.delete(chess)
    assert _gone(http, of_alice)
    assert http.post("/v1/exports/get/", json={"filters": {"user_id": alice}}).json() == _get(
        http, {"memory_export_id": of_stamps}
    )  # an export without the deleted memory stays, and is now the latest of alice
    assert _texts(_get(http, {"memory_export_id": of_stamps})) == ["I collect stamps."]


def test_batch_delete_deletes_the_exports_holding_its_memories(http: httpx.Client) -> None:
    user = _user()
    first, _ = _add(http, user, "I surf.", "I ski.")
    export_id = _create(http, {"schema": FACTS_SCHEMA, "filters": {"user_id": user}})
    failed = http.request(
        "DELETE", "/v1/batch/", json={"memories": [{"memory_id": first}, {"memory_id": str(uuid.uuid4())}]}
    )
    assert failed.status_code == 404  # nothing was deleted: the export stays
    assert not _gone(http, export_id)
    assert http.request("DELETE", "/v1/batch/", json={"memories": [{"memory_id": first}]}).status_code == 200
    assert _gone(http, export_id)


def test_delete_all_of_a_user_deletes_its_exports(client: Any, http: httpx.Client) -> None:
    user, other = _user(), _user()
    _add(http, user, "I knit.", "I sew.")
    _add(http, other, "I knit.")
    mine = _create(http, {"schema": FACTS_SCHEMA, "filters": {"user_id": user}})
    theirs = _create(http, {"schema": FACTS_SCHEMA, "filters": {"user_id": other}})
    client.delete_all(user_id=user)
    assert _gone(http, mine)
    assert _get(http, {"memory_export_id": theirs})["facts"] == ["I knit."]


def test_deleting_an_entity_deletes_the_exports_of_its_memories(http: httpx.Client) -> None:
    user, agent = _user(), _user()
    _add(http, user, "I garden.")
    _add(http, user, "I prune roses.", agent_id=agent)
    of_user = _create(http, {"schema": FACTS_SCHEMA, "filters": {"user_id": user}})
    of_other_scope = _create(http, {"schema": FACTS_SCHEMA, "filters": {"AND": [{"user_id": user}, {"agent_id": "*"}]}})
    assert http.delete(f"/v2/entities/agent/{agent}/").status_code == 200
    assert _gone(http, of_user) and _gone(http, of_other_scope)
    unrelated = _create(http, {"schema": FACTS_SCHEMA, "filters": {"user_id": user}})
    assert http.delete(f"/v2/entities/user/{_user()}/").status_code == 404
    assert _get(http, {"memory_export_id": unrelated})["facts"] == ["I garden."]


def test_exports_stored_before_they_recorded_their_memories_are_linked_on_upgrade(
    database_url: str, model_dir: Path, tmp_path: Path
) -> None:
    """Schema version 3 records each export's memories; the exports stored before are linked from their
    snapshot (by memory id, or by text within the export's scope), and one holding a memory deleted
    meanwhile goes."""
    alice, bob, carol = _user(), _user(), _user()
    ids_only = {
        "type": "object",
        "properties": {
            "memories": {"type": "array", "items": {"type": "object", "properties": {"id": {"type": "string"}}}}
        },
    }
    first = start_server(tmp_path / "one", database_url=database_url, model_dir=model_dir)
    try:
        with first.client() as http:
            chess, _ = _add(http, alice, "I play chess.", "I collect stamps.")
            (bobs_chess,) = _add(http, bob, "I play chess.")
            (sailing,) = _add(http, carol, "I sail.")
            by_text = _create(http, {"schema": FACTS_SCHEMA, "filters": {"user_id": alice}})
            by_id = _create(http, {"schema": ids_only, "filters": {"user_id": alice}})
            of_bob = _create(http, {"schema": FACTS_SCHEMA, "filters": {"user_id": bob}})
            of_carol = _create(http, {"schema": FACTS_SCHEMA, "filters": {"user_id": carol}})
    finally:
        first.stop()
    # Back to schema version 2: exports did not record their memories, and a delete left them alone.
    with psycopg.connect(database_url, autocommit=True) as conn:
        conn.execute("ALTER TABLE memory_exports DROP COLUMN memory_ids")
        conn.execute("DELETE FROM mnemo_schema_migrations WHERE version = 3")
        conn.execute(
            "WITH gone AS (DELETE FROM memories WHERE id = %s RETURNING project_id, id, memory, user_id)"
            " INSERT INTO memory_history (project_id, id, memory_id, event, old_memory, user_id)"
            " SELECT project_id, gen_random_uuid(), id, 'DELETE', memory, user_id FROM gone",
            (sailing,),
        )
    second = start_server(tmp_path / "two", database_url=database_url, model_dir=model_dir)
    try:
        with second.client() as http:
            assert _gone(http, of_carol)
            assert not (_gone(http, by_text) or _gone(http, by_id) or _gone(http, of_bob))
            assert http.delete(f"/v1/memories/{chess}/").status_code == 200
            assert _gone(http, by_text) and _gone(http, by_id)
            assert not _gone(http, of_bob)  # the same text, but bob's own memory
            assert http.delete(f"/v1/memories/{bobs_chess}/").status_code == 200
            assert _gone(http, of_bob)
    finally:
        second.stop()


def test_lookup_filters_select_by_export_scope_and_creation_time(http: httpx.Client) -> None:
    user, agent = _user(), _user()
    _add(http, user, "I fly kites.", agent_id=agent)
    _create(http, {"schema": FACTS_SCHEMA, "filters": {"AND": [{"user_id": user}, {"agent_id": agent}]}})
    today = datetime.now(UTC).date().isoformat()
    found = {"user_id": user, "count": 1, "facts": ["I fly kites."]}
    assert _get(http, {"filters": {"agent_id": agent}}) == found
    assert _get(http, {"filters": {"AND": [{"user_id": user}, {"created_at": {"gte": today}}]}}) == found
    assert _get(http, {"filters": {"user_id": user, "updated_at": today}}) == found
    for filters in ({"user_id": user, "created_at": {"lt": today}}, {"user_id": user, "agent_id": {"ne": agent}}):
        assert http.post("/v1/exports/get/", json={"filters": filters}).status_code == 404


def test_read_only_key_reads_exports_but_cannot_create_them(server: MnemoServer, http: httpx.Client) -> None:
    user = _user()
    _add(http, user, "I grow tomatoes.")
    export_id = _create(http, {"schema": FACTS_SCHEMA, "filters": {"user_id": user}})
    reader = _new_key(server, "--read-only", "--name", "export-reader")
    expected = {"user_id": user, "count": 1, "facts": ["I grow tomatoes."]}
    with server.client(reader) as client:
        assert client.post("/v1/exports/get/", json={"memory_export_id": export_id}).json() == expected
        assert client.post("/v1/exports/get/", json={"filters": {"user_id": user}}).json() == expected
        response = client.post("/v1/exports/", json={"schema": FACTS_SCHEMA, "filters": {"user_id": user}})
    assert response.status_code == 403 and "read-only" in response.json()["detail"]
    assert _get(http, {"filters": {"user_id": user}}) == expected  # nothing was created


def test_idempotency_key_replays_the_first_export(http: httpx.Client) -> None:
    user = _user()
    _add(http, user, "I speak Welsh.")
    body = {"schema": FACTS_SCHEMA, "filters": {"user_id": user}}
    key = f"export-{user}"
    first = _create(http, body, **{"Idempotency-Key": key})
    _add(http, user, "I speak Basque.")
    assert _create(http, body, **{"Idempotency-Key": key}) == first
    # The replay wrote nothing: the latest export of this user is still the first one.
    assert _get(http, {"filters": {"user_id": user}})["facts"] == ["I speak Welsh."]
    reused = http.post("/v1/exports/", json={**body, "export_instructions": "other"}, headers={"Idempotency-Key": key})
    assert reused.status_code == 409 and "Idempotency-Key" in reused.json()["detail"]


def test_an_export_larger_than_the_bound_is_413(http: httpx.Client) -> None:
    user = _user()
    _add(http, user, *(f"Fact number {i}." for i in range(20)))
    padded = {
        "type": "object",
        "properties": {
            "facts": {
                "type": "array",
                "items": {
                    "type": "object",
                    "properties": {"text": {"type": "string"}, "pad": {"default": "x" * 10**6}},
                },
            }
        },
    }
    response = http.post("/v1/exports/", json={"schema": padded, "filters": {"user_id": user}})
    assert response.status_code == 413, response.text
    assert "larger than" in response.json()["detail"]
    assert http.post("/v1/exports/get/", json={"filters": {"user_id": user}}).status_code == 404


def test_openapi_documents_the_export_operations(server: MnemoServer) -> None:
    schema = httpx.get(f"{server.url}/openapi.json").json()
    paths, models = schema["paths"], schema["components"]["schemas"]

    def body_fields(operation: dict[str, Any]) -> set[str]:
        ref = operation["requestBody"]["content"]["application/json"]["schema"]["$ref"]
        return set(models[ref.rsplit("/", 1)[-1]]["properties"])

    create = paths["/v1/exports/"]["post"]
    assert "201" in create["responses"] and "schema" in body_fields(create)
    assert "memory_export_id" in body_fields(paths["/v1/exports/get/"]["post"])


@pytest.mark.anyio
async def test_the_memory_bound_is_inclusive_and_one_more_is_413(http: httpx.Client, module_database_url: str) -> None:
    agent = f"big-{uuid.uuid4().hex[:6]}"  # an agent, not a user: the user_id "*" export above stays small
    response = http.post(
        "/v3/memories/add/", json={"messages": f"Fact 0 of {agent}.", "agent_id": agent, "infer": False}
    )
    assert response.status_code == 200, response.text
    # The other memories go in through storage, in the first one's project with its vector: adding
    # thousands through the API would spend the test embedding them.
    with psycopg.connect(module_database_url) as conn:
        found = conn.execute(
            "SELECT project_id, embedding::text FROM memories WHERE id = %s", (response.json()["results"][0]["id"],)
        ).fetchone()
    assert found is not None
    project_id, embedding = found
    vector = np.array(json.loads(embedding), dtype=np.float32)
    database = Database(module_database_url, min_size=1, max_size=1)
    await database.open()
    try:
        more = [
            memory(f"Fact {i} of {agent}.", scope=Scope(agent_id=agent), vector=vector)
            for i in range(1, MAX_EXPORT_MEMORIES)
        ]
        assert len(await insert(ProjectData(database, project_id), *more)) == MAX_EXPORT_MEMORIES - 1
    finally:
        await database.close()
    full = _get(http, {"memory_export_id": _create(http, {"schema": FACTS_SCHEMA, "filters": {"agent_id": agent}})})
    assert full["count"] == len(full["facts"]) == MAX_EXPORT_MEMORIES
    _add(http, "someone", "One fact too many.", agent_id=agent)
    response = http.post("/v1/exports/", json={"schema": FACTS_SCHEMA, "filters": {"agent_id": agent}})
    assert response.status_code == 413, response.text
    assert f"More than {MAX_EXPORT_MEMORIES} memories" in response.json()["detail"]


_JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=20,
)
_NAMES = st.sampled_from(["facts", "memories", "user_id", "count", "tags", "text", "id", "created_at", "other"])
_TYPES = st.sampled_from(["object", "array", "string", "integer", "number", "boolean", "null"])
_REFS = st.sampled_from(["#/$defs/a", "#/$defs/a/properties/facts", "#/definitions/b", "#/", "#/x~1y", "other"])
_LEAF = {
    "type": _TYPES | st.lists(_TYPES, max_size=3) | _JSON,
    "$ref": _REFS | _JSON,
    "default": _JSON,
    "enum": st.lists(_JSON, max_size=3) | _JSON,
    "additionalProperties": st.booleans() | _JSON,
}
_NODE = st.recursive(
    st.fixed_dictionaries({}, optional=_LEAF),
    lambda inner: st.fixed_dictionaries(
        {},
        optional={
            **_LEAF,
            "properties": st.dictionaries(_NAMES, inner, max_size=4) | _JSON,
            "items": inner | _JSON,
            "anyOf": st.lists(inner, max_size=3) | _JSON,
            "oneOf": st.lists(inner, max_size=3) | _JSON,
            "$defs": st.fixed_dictionaries({}, optional={"a": inner}) | _JSON,
            "definitions": st.fixed_dictionaries({}, optional={"b": inner}) | _JSON,
        },
    ),
    max_leaves=12,
)


def _record(text: str, user: str | None) -> MemoryRecord:
    now = datetime.now(UTC)
    return MemoryRecord(
        id=uuid.uuid4(),
        scope=Scope(user_id=user),
        memory=text,
        hash="h",
        metadata={"k": 1},
        categories=["food"],
        immutable=False,
        expiration_date=None,
        attributed_to="user",
        actor_name=None,
        replaced_by=None,
        state="active",
        created_at=now,
        updated_at=now,
    )


@settings(max_examples=300, deadline=None)
@given(
    schema=_NODE | _NODE.map(json.dumps) | _JSON,
    users=st.lists(st.sampled_from(["a", "b", None]), max_size=3),
)
def test_any_schema_gives_a_json_object(schema: object, users: list[str | None]) -> None:
    records = [_record(f"fact {i}", user) for i, user in enumerate(users)]
    export = shape_export(schema, records, Scope())
    assert isinstance(export, dict)
    json.dumps(export)
