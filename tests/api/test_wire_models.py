"""Real responses against the models ``/openapi.json`` documents them with (``mnemo.http.wire``).

The models are documentation only (the routes build plain dicts), so this is what keeps them true: every
documented operation is called here and its JSON validated strictly (no undocumented key, no wrong type),
including the partial memories ``fields`` asks for; an operation added without being checked here fails.
"""

from __future__ import annotations

import json
import re
import uuid
from pathlib import Path
from typing import Any

import httpx
import psycopg

from mnemo.http import wire
from testkit.server import MnemoServer, wait_event
from tests.api.wire_areas import Checked, area_checks, validate


def _documented_operations(schema: dict[str, Any]) -> set[tuple[str, str]]:
    return {(method, path) for path, operations in schema["paths"].items() for method in operations}


def test_every_documented_route_answers_as_documented(server: MnemoServer, module_database_url: str) -> None:
    user, agent = f"wire-{uuid.uuid4().hex[:8]}", f"agent-{uuid.uuid4().hex[:6]}"
    with server.client() as client:
        api = Checked(client)
        ping = api.call(wire.Ping, "GET", "/v1/ping/")
        api.call(wire.Health, "GET", "/healthz")
        api.call(wire.Readiness, "GET", "/readyz")

        # Adds: the synchronous form (infer false) and the queued one.
        add = "/v3/memories/add/"
        messages = [
            {"role": "user", "content": "I moved to Lisbon in March.", "name": "Ana"},
            {"role": "assistant", "content": "Lisbon is lovely in spring."},
        ]
        body = {"messages": messages, "user_id": user, "agent_id": agent, "run_id": "r1", "infer": False}
        stored = api.call(wire.AddResponse, "POST", add, json=body)
        assert stored["status"] == "SUCCEEDED" and len(stored["results"]) == 2
        first, second = (item["id"] for item in stored["results"])
        queued = api.call(wire.AddResponse, "POST", add, json={"messages": "I keep two cats.", "user_id": user})
        assert queued["status"] == "PENDING"
        wait_event(server, queued["event_id"])

        event = "/v1/event/{event_id}/"
        api.call(wire.Event, "GET", event, event.format(event_id=queued["event_id"]))
        api.call(wire.Event, "GET", event, event.format(event_id=stored["event_id"]))
        api.call(wire.EventPage, "GET", "/v1/events/", params={"page_size": 5})
        with psycopg.connect(module_database_url, autocommit=True) as conn:
            conn.execute(
                "UPDATE events SET status = 'FAILED', error = 'made to fail', completed_at = now() WHERE id = %s",
                (queued["event_id"],),
            )
        retry = "/v1/event/{event_id}/retry/"
        api.call(wire.Event, "POST", retry, retry.format(event_id=queued["event_id"]))
        wait_event(server, queued["event_id"])

        # One memory: read, update, history.
        one = "/v1/memories/{memory_id}/"
        api.call(wire.Memory, "GET", one, one.format(memory_id=first))
        api.call(wire.Memory, "PUT", one, one.format(memory_id=first), json={"text": "I moved to Porto in March."})
        history = "/v1/memories/{memory_id}/history/"
        entries = api.call(wire.History, "GET", history, history.format(memory_id=first))
        assert [e["event"] for e in entries] == ["ADD", "UPDATE"]

        # Lists, whole and with `fields`.
        search, listing = "/v3/memories/search/", "/v3/memories/"
        query = {"query": "Where did I move?", "filters": {"user_id": user}, "threshold": 0}
        found = api.call(wire.SearchResponse, "POST", search, json=query)
        assert found["results"] and "rerank" not in found
        validate(list[wire.SearchHit], json.dumps(found["results"]))
        partial = api.call(wire.SearchResponse, "POST", search, json={**query, "fields": ["memory", "score"]})
        assert {key for item in partial["results"] for key in item} == {"id", "memory", "score"}
        reranked = api.call(wire.SearchResponse, "POST", search, json={**query, "rerank": True})
        assert reranked["rerank"]["applied"] is False
        page = api.call(wire.MemoryPage, "POST", listing, json={"filters": {"user_id": user}}, params={"page_size": 2})
        assert page["count"] == 3 and page["next"] is not None
        validate(list[wire.Memory], json.dumps(page["results"]))
        partial = api.call(wire.MemoryPage, "POST", listing, json={"filters": {"user_id": user}, "fields": ["hash"]})
        assert {key for item in partial["results"] for key in item} == {"id", "hash"}

        entities = api.call(wire.EntityPage, "GET", "/v1/entities/")
        assert ("user", user) in [(e["type"], e["name"]) for e in entities["results"]]

        # Project.
        project = "/api/v1/orgs/organizations/{org_id}/projects/{project_id}/"
        mine = project.format(org_id=ping["org_id"], project_id=ping["project_id"])
        settings = {"custom_instructions": "Keep places.", "multilingual": None}
        api.call(wire.Message, "PATCH", project, mine, json=settings)
        shown = api.call(wire.Project, "GET", project, mine)
        assert shown["custom_instructions"] == "Keep places." and shown["multilingual"] is False

        # Exports.
        export_schema = {"type": "object", "properties": {"memories": {"type": "array", "items": {"type": "string"}}}}
        exports = {"schema": export_schema, "filters": {"AND": [{"user_id": user}]}}
        created = api.call(wire.ExportCreated, "POST", "/v1/exports/", status=201, json=exports)
        api.call(wire.Export, "POST", "/v1/exports/get/", json={"memory_export_id": created["id"]})

        # Batches and deletes.
        batch = [{"memory_id": first, "text": "I moved to Faro in March."}, {"memory_id": second, "metadata": {"k": 1}}]
        api.call(wire.Message, "PUT", "/v1/batch/", json={"memories": batch})
        deleted = api.call(wire.MemoryDeleted, "DELETE", one, one.format(memory_id=second))
        assert "cascade_count" not in deleted
        cascade = {"delete_linked": "true"}
        deleted = api.call(wire.MemoryDeleted, "DELETE", one, one.format(memory_id=first), params=cascade)
        assert deleted["cascade_count"] == 0
        (left,) = client.post(listing, json={"filters": {"user_id": user}}).json()["results"]
        api.call(wire.Message, "DELETE", "/v1/batch/", json={"memories": [{"memory_id": left["id"]}]})
        client.post(add, json={"messages": "I cycle to work.", "user_id": user, "infer": False})
        api.call(wire.MemoriesDeleted, "DELETE", "/v1/memories/", params={"user_id": user})
        client.post(add, json={"messages": "I swim on Sundays.", "agent_id": agent, "infer": False})
        entity = "/v2/entities/{entity_type}/{entity_name}/"
        api.call(wire.EntityDeleted, "DELETE", entity, entity.format(entity_type="agent", entity_name=agent))

        for check in area_checks():
            check(api, ping)

        schema = client.get("/openapi.json").json()
    assert _documented_operations(schema) == api.covered


def test_every_documented_route_names_its_success_model(server: MnemoServer) -> None:
    schema = httpx.get(f"{server.url}/openapi.json").json()
    for path, operations in schema["paths"].items():
        for method, operation in operations.items():
            success = [status for status in operation["responses"] if status.startswith("2")]
            assert len(success) == 1, (method, path, success)
            documented = operation["responses"][success[0]]["content"]["application/json"]["schema"]
            assert {"$ref", "items", "oneOf", "additionalProperties"} & set(documented), (method, path, documented)


def _readme_routes() -> set[tuple[str, str]]:
    """``(method, path)`` of every route README's API table lists, path parameters written ``{}``."""
    readme = (Path(__file__).parents[2] / "README.md").read_text()
    table = readme.split("| method and path | status | |\n", 1)[1].split("\n\n", 1)[0]
    routes, methods = set(), []
    for row in table.splitlines()[1:]:
        for cell in re.findall(r"`([^`]+)`", row.split(" | ", 1)[0]):
            method, _, path = cell.partition(" ")
            methods.append(method.lower())
            if path:
                routes |= {(m, re.sub(r"\{[^}]*\}", "{}", path)) for m in methods}
                methods = []
    return routes


def test_readme_lists_every_route(server: MnemoServer) -> None:
    schema = httpx.get(f"{server.url}/openapi.json").json()
    served = {(method, re.sub(r"\{[^}]*\}", "{}", path)) for method, path in _documented_operations(schema)}
    undocumented = {("get", "/metrics"), ("get", "/openapi.json")}  # served, outside the schema
    assert _readme_routes() == served | undocumented
