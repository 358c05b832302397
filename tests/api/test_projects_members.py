"""Projects and members over HTTP: create, settings echoed, `fields`, delete with all its data, and roles that
act through the keys issued by `mnemo keys create --member`."""

from __future__ import annotations

import subprocess
import uuid

import httpx
import psycopg
import pytest

from testkit.server import MnemoServer, run_cli, wait_event

ORG = "/api/v1/orgs/organizations/{org}/projects/"


def _cli(server: MnemoServer, database_url: str, *args: str) -> subprocess.CompletedProcess[str]:
    return run_cli(["keys", "create", *args], env={**server.env, "MNEMO_DATABASE_URL": database_url})


def _new_project(server: MnemoServer, name: str = "a project") -> tuple[str, str, str]:
    """A project created over the API: (org id, project id, its key)."""
    with server.client() as client:
        org = client.get("/v1/ping/").json()["org_id"]
        response = client.post(ORG.format(org=org), json={"name": name, "description": "made by a test"})
    assert response.status_code == 200, response.text
    created = response.json()
    assert created["message"] and created["project_id"].startswith("proj_")
    return org, created["project_id"], created["api_key"]


def _path(org: str, project: str, tail: str = "") -> str:
    return ORG.format(org=org) + f"{project}/{tail}"


def test_a_created_project_is_reached_with_the_key_its_creation_answers(server: MnemoServer) -> None:
    org, project, key = _new_project(server, "second")
    with server.client(key) as client:
        ping = client.get("/v1/ping/").json()
        assert (ping["org_id"], ping["project_id"], ping["user_email"], ping["read_only"]) == (
            org,
            project,
            None,
            False,
        )
        shown = client.get(_path(org, project)).json()
        assert (shown["name"], shown["description"], shown["is_default"]) == ("second", "made by a test", False)
        assert shown["members"] == [] and shown["user_role"] == "OWNER"
    with server.client() as first:
        # The default project's key does not reach the new project, nor another organisation.
        assert first.get(_path(org, project)).status_code == 404
        assert first.post(ORG.format(org="org_elsewhere"), json={"name": "x"}).status_code == 404
        refused = first.post(ORG.format(org=org), json={"description": "no name"})
        assert refused.status_code == 400 and "name" in refused.json()["detail"]
        assert [o["org_id"] for o in first.get("/api/v1/orgs/organizations/").json()] == [org]
        assert first.get("/api/v1/orgs/organizations/org_elsewhere/").status_code == 404


def test_patch_stores_and_echoes_every_setting(server: MnemoServer) -> None:
    org, project, key = _new_project(server)
    path = _path(org, project)
    settings = {
        "custom_instructions": "Keep food.",
        "agent_custom_instructions": "Keep tools.",
        "custom_categories": [{"pets": "animals"}],
        "multilingual": True,
        "decay": True,
        "memory_depth": "shallow",
        "usecase_setting": "support bot",
        "version": "v2",
        "enable_graph": True,
        "name": "renamed",
        "description": "described",
    }
    with server.client(key) as client:
        before = client.get(path).json()
        assert (before["decay"], before["enable_graph"], before["version"], before["memory_depth"]) == (
            False,
            False,
            "v3",
            None,
        )
        # What the Python client's project.update(decay=True) sends: the setting and the ids of the project.
        alone = client.patch(path, json={"decay": True, "org_id": org, "project_id": project})
        assert alone.status_code == 200 and alone.json() == {"message": "Project updated successfully"}
        assert client.get(path).json()["decay"] is True
        assert client.patch(path, json=settings).status_code == 200
        shown = client.get(path).json()
        assert {name: shown[name] for name in settings} == settings
        assert client.patch(path, json={"decay": False, "usecase_setting": 7}).status_code == 200
        shown = client.get(path).json()
        assert (shown["decay"], shown["usecase_setting"], shown["memory_depth"]) == (False, 7, "shallow")

        for body, words in (
            ({"decays": True}, "'decays' is not a project setting"),
            ({"org_id": org, "project_id": project}, "Nothing to update"),
            ({"decay": True, "project_id": "proj_other"}, "must be those of the path"),
            ({"decay": "sometimes"}, "decay"),
            ({"memory_depth": ""}, "memory_depth"),
        ):
            response = client.patch(path, json=body)
            assert response.status_code == 400 and words in response.json()["detail"], (body, response.text)


def test_fields_answers_only_the_keys_named(server: MnemoServer) -> None:
    org, project, key = _new_project(server)
    path = _path(org, project)
    with server.client(key) as client:
        client.patch(path, json={"decay": True})
        # As the Python client sends it: repeated, with the ids of the project beside.
        params: dict[str, str | list[str]] = {"fields": ["decay", "name"], "org_id": org, "project_id": project}
        assert client.get(path, params=params).json() == {"decay": True, "name": "a project"}
        assert set(client.get(path, params={"fields": "members,user_role"}).json()) == {"members", "user_role"}
        unknown = client.get(path, params={"fields": "decay_rate"})
        assert unknown.status_code == 400 and "'decay_rate' is not a project field" in unknown.json()["detail"]


def test_member_roles_act_through_their_keys(server: MnemoServer, module_database_url: str) -> None:
    org, project, admin_key = _new_project(server)
    members, user = _path(org, project, "members/"), f"member-{uuid.uuid4().hex[:6]}"
    with server.client(admin_key) as admin:
        assert admin.post(members, json={"email": " Ann@Example.org "}).status_code == 200  # role: READER
        assert admin.post(members, json={"email": "bo@example.org", "role": "OWNER"}).status_code == 200
        assert admin.post(members, json={"email": "ann@example.org", "role": "OWNER"}).status_code == 409
        for body, words in (
            ({"email": "cy@example.org", "role": "ADMIN"}, "role must be 'READER' or 'OWNER'"),
            ({"email": "not-an-email", "role": "READER"}, "not an email address"),
        ):
            response = admin.post(members, json=body)
            assert response.status_code == 400 and words in response.json()["detail"], response.text
        assert admin.put(members, json={"email": "zed@example.org", "role": "OWNER"}).status_code == 404
        assert admin.put(members, json={"email": "ann@example.org"}).status_code == 400
        listed = admin.get(members).json()["members"]
        assert [(m["email"], m["role"]) for m in listed] == [("ann@example.org", "READER"), ("bo@example.org", "OWNER")]
        assert admin.get(_path(org, project)).json()["members"] == listed
        admin.post("/v3/memories/add/", json={"messages": "I grow tomatoes.", "user_id": user, "infer": False})

    unknown = _cli(server, module_database_url, "--project", project, "--member", "zed@example.org")
    assert unknown.returncode == 1 and unknown.stdout == ""
    assert unknown.stderr.strip().splitlines()[-1].startswith("error: zed@example.org is not a member of project")
    issued = _cli(server, module_database_url, "--project", project, "--member", "ANN@example.org", "--name", "ann")
    assert issued.returncode == 0, issued.stderr
    assert "member: ann@example.org (READER)" in issued.stdout
    reader_key = issued.stdout.strip().splitlines()[-1]
    add = {"messages": "I keep bees.", "user_id": user, "infer": False}
    search = {"query": "What do I grow?", "filters": {"user_id": user}, "threshold": 0}

    with server.client(reader_key) as reader, server.client(admin_key) as admin:
        ping = reader.get("/v1/ping/").json()
        assert (ping["project_id"], ping["user_email"], ping["read_only"]) == (project, "ann@example.org", True)
        assert reader.post("/v3/memories/search/", json=search).json()["results"]
        assert reader.get(_path(org, project)).json()["user_role"] == "READER"
        assert reader.post("/v3/memories/add/", json=add).status_code == 403
        assert reader.post(members, json={"email": "eve@example.org"}).status_code == 403
        assert reader.patch(_path(org, project), json={"decay": True}).status_code == 403
        assert reader.delete(_path(org, project)).status_code == 403

        # The role is read at each request: promoted, the same key writes; demoted, it reads only again.
        assert admin.put(members, json={"email": "ann@example.org", "role": "OWNER"}).status_code == 200
        assert reader.get("/v1/ping/").json()["read_only"] is False
        assert reader.post("/v3/memories/add/", json=add).status_code == 200
        assert reader.post(members, json={"email": "eve@example.org"}).status_code == 200
        assert admin.put(members, json={"email": "ann@example.org", "role": "READER"}).status_code == 200
        assert reader.post("/v3/memories/add/", json=add).status_code == 403

        # Removed, the member's keys are revoked: 401, and re-adding the email does not revive them.
        removed = admin.delete(members, params={"email": "Ann@example.org"})
        assert removed.status_code == 200 and "1 API key revoked" in removed.json()["message"]
        assert reader.get("/v1/ping/").status_code == 401
        assert admin.post(members, json={"email": "ann@example.org"}).status_code == 200
        assert reader.get("/v1/ping/").status_code == 401
        assert admin.delete(members, params={"email": "nobody@example.org"}).status_code == 404
        assert admin.delete(members).status_code == 400


def test_a_read_only_owner_key_stays_read_only(server: MnemoServer, module_database_url: str) -> None:
    org, project, admin_key = _new_project(server)
    with server.client(admin_key) as admin:
        admin.post(_path(org, project, "members/"), json={"email": "own@example.org", "role": "OWNER"})
    issued = _cli(server, module_database_url, "--project", project, "--member", "own@example.org", "--read-only")
    key = issued.stdout.strip().splitlines()[-1]
    with server.client(key) as owner:
        assert owner.get("/v1/ping/").json()["read_only"] is True
        assert owner.patch(_path(org, project), json={"decay": True}).status_code == 403


def _rows_of(database_url: str, project: str) -> dict[str, int]:
    """Rows holding ``project`` in every table with a project_id column (and the project's own row)."""
    with psycopg.connect(database_url, autocommit=True) as conn:
        tables = [
            row[0]
            for row in conn.execute(
                "SELECT table_name FROM information_schema.columns"
                " WHERE table_schema = 'public' AND column_name = 'project_id'"
            )
        ]
        counts = {
            table: _count(conn, f'SELECT count(*) FROM "{table}" WHERE project_id = %s', project) for table in tables
        }
        counts["projects"] = _count(conn, "SELECT count(*) FROM projects WHERE id = %s", project)
    return counts


def _count(conn: psycopg.Connection[tuple[int]], statement: str, project: str) -> int:
    row = conn.execute(statement.encode(), (project,)).fetchone()
    assert row is not None
    return row[0]


def _fill(client: httpx.Client, user: str) -> None:
    stored = client.post("/v3/memories/add/", json={"messages": "My dog is Rex.", "user_id": user, "infer": False})
    assert stored.status_code == 200, stored.text
    memory = stored.json()["results"][0]["id"]
    assert client.post("/v1/feedback/", json={"memory_id": memory, "feedback": "POSITIVE"}).status_code == 200
    hook = {"url": "http://127.0.0.1:9/hook", "name": "h", "event_types": ["memory_add"]}
    project = client.get("/v1/ping/").json()["project_id"]
    assert client.post(f"/api/v1/webhooks/projects/{project}/", json=hook).status_code == 201
    export = {"schema": {"type": "object"}, "filters": {"user_id": user}}
    assert client.post("/v1/exports/", json=export).status_code == 201


def test_deleting_a_project_deletes_all_its_data_and_nothing_else(
    server: MnemoServer, module_database_url: str
) -> None:
    org, doomed, doomed_key = _new_project(server, "doomed")
    _, kept, kept_key = _new_project(server, "kept")
    user = f"shared-{uuid.uuid4().hex[:6]}"  # the same user id in both projects
    with server.client(doomed_key) as client:
        client.post(_path(org, doomed, "members/"), json={"email": "m@example.org"})
        _fill(client, user)
        queued = client.post("/v3/memories/add/", json={"messages": "I like tea.", "user_id": user})
        wait_event(server, queued.json()["event_id"], key=doomed_key)
    member_key = _cli(server, module_database_url, "--project", doomed, "--member", "m@example.org").stdout
    member_key = member_key.strip().splitlines()[-1]
    with server.client(kept_key) as client:
        _fill(client, user)
    doomed_rows, kept_rows = _rows_of(module_database_url, doomed), _rows_of(module_database_url, kept)
    for table in ("memories", "memory_history", "events", "webhooks", "memory_exports", "api_keys", "project_members"):
        assert doomed_rows[table] > 0, (table, doomed_rows)

    with server.client(member_key) as member:
        assert member.delete(_path(org, doomed)).status_code == 403  # a READER may not
    with server.client(doomed_key) as client:
        assert client.delete(_path(org, kept)).status_code == 404  # nor another project's key
        deleted = client.delete(_path(org, doomed))
        assert deleted.status_code == 200 and deleted.json() == {
            "message": "Project and related data deleted successfully."
        }
        gone = client.get("/v1/ping/")
        assert gone.status_code == 401 and "revoked" in gone.json()["detail"]
    with server.client(member_key) as member:
        assert member.get("/v1/ping/").status_code == 401

    assert set(_rows_of(module_database_url, doomed).values()) == {0}
    assert _rows_of(module_database_url, kept) == kept_rows
    with server.client(kept_key) as client:
        listed = client.post("/v3/memories/", json={"filters": {"user_id": user}}).json()
        assert [m["memory"] for m in listed["results"]] == ["My dog is Rex."]


@pytest.mark.parametrize("role", ["READER", "OWNER"])
def test_keys_list_names_the_member(server: MnemoServer, module_database_url: str, role: str) -> None:
    org, project, admin_key = _new_project(server)
    email = f"{role.lower()}-{uuid.uuid4().hex[:6]}@example.org"
    with server.client(admin_key) as admin:
        admin.post(_path(org, project, "members/"), json={"email": email, "role": role})
    assert _cli(server, module_database_url, "--project", project, "--member", email).returncode == 0
    env = {**server.env, "MNEMO_DATABASE_URL": module_database_url}
    listing = run_cli(["keys", "list"], env=env).stdout
    assert any(project in line and f"member {email}" in line for line in listing.splitlines()), listing


def test_member_key_for_a_missing_project_is_one_line(server: MnemoServer, module_database_url: str) -> None:
    result = _cli(server, module_database_url, "--project", "proj_nowhere", "--member", "a@example.org")
    assert result.returncode == 1 and result.stderr.strip().splitlines()[-1] == "error: no project proj_nowhere"
