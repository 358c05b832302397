"""Projects, members and organisations (spec §1.2 rows 18–25, §1.5)."""

from __future__ import annotations

from typing import Any

import httpx

from mnemo.http import wire
from mnemo.http.wire import projects
from tests.api.wire_areas import Checked


def check(api: Checked, ping: dict[str, Any]) -> None:
    orgs = "/api/v1/orgs/organizations/"
    listed = api.call(projects.Organizations, "GET", orgs)
    assert [org["org_id"] for org in listed] == [ping["org_id"]]
    org = orgs + "{org_id}/"
    api.call(projects.Organization, "GET", org, org.format(org_id=ping["org_id"]))

    create = orgs + "{org_id}/projects/"
    body = {"name": "wire project", "description": "checked, then deleted"}
    created = api.call(projects.ProjectCreated, "POST", create, create.format(org_id=ping["org_id"]), json=body)
    headers = {"Authorization": f"Token {created['api_key']}"}
    with httpx.Client(base_url=api.client.base_url, headers=headers, timeout=30) as client:
        other = Checked(client)
        _check_project(other, ping["org_id"], created["project_id"])
    api.covered |= other.covered


def _check_project(api: Checked, org_id: str, project_id: str) -> None:
    project = "/api/v1/orgs/organizations/{org_id}/projects/{project_id}/"
    mine = project.format(org_id=org_id, project_id=project_id)
    settings = {"decay": True, "memory_depth": "deep", "usecase_setting": 3, "version": "v2", "enable_graph": True}
    api.call(wire.Message, "PATCH", project, mine, json={**settings, "org_id": org_id, "project_id": project_id})
    shown = api.call(projects.ProjectFields, "GET", project, mine)
    assert {name: shown[name] for name in settings} == settings and shown["user_role"] == "OWNER"
    partial = api.call(projects.ProjectFields, "GET", project, mine, params=[("fields", "decay"), ("fields", "name")])
    assert partial == {"decay": True, "name": "wire project"}

    members = project + "members/"
    path = members.format(org_id=org_id, project_id=project_id)
    api.call(wire.Message, "POST", members, path, json={"email": "Reader@Example.com", "role": "READER"})
    api.call(wire.Message, "PUT", members, path, json={"email": "reader@example.com", "role": "OWNER"})
    listed = api.call(projects.Members, "GET", members, path)
    assert listed["members"] == [{"username": "reader@example.com", "email": "reader@example.com", "role": "OWNER"}]
    api.call(wire.Message, "DELETE", members, path, params={"email": "reader@example.com"})

    api.call(wire.Message, "DELETE", project, mine)
    assert api.client.get("/v1/ping/").status_code == 401
