"""The official ``mem0ai`` 2.2.1 clients' project methods (``client.project.*``, sync and async, and the
deprecated ``get_project``/``update_project``) against mnemo, each in a project of its own."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

import httpx
import pytest

from testkit.server import MnemoServer, run_cli

pytestmark = pytest.mark.usefixtures("mem0_dir")


def _fresh_key(server: MnemoServer) -> str:
    """The key of a project made for one test (by the default key, over the API)."""
    with server.client() as client:
        org = client.get("/v1/ping/").json()["org_id"]
        created = client.post(f"/api/v1/orgs/organizations/{org}/projects/", json={"name": "client test"})
    assert created.status_code == 200, created.text
    return str(created.json()["api_key"])


def _member_key(server: MnemoServer, database_url: str, project: str, email: str) -> str:
    env = {**server.env, "MNEMO_DATABASE_URL": database_url}
    result = run_cli(["keys", "create", "--project", project, "--member", email], env=env)
    assert result.returncode == 0, result.stderr
    return result.stdout.strip().splitlines()[-1]


def test_sync_project_methods(server: MnemoServer, module_database_url: str) -> None:
    from mem0 import MemoryClient
    from mem0.exceptions import ValidationError

    client = MemoryClient(api_key=_fresh_key(server), host=server.url)
    assert client.project.update(decay=True) == {"message": "Project updated successfully"}
    assert client.project.get(fields=["decay", "custom_instructions"]) == {"decay": True, "custom_instructions": None}
    client.project.update(multilingual=True, agent_custom_instructions="Keep the tools used.")
    shown = client.project.get()
    assert (shown["multilingual"], shown["agent_custom_instructions"]) == (True, "Keep the tools used.")

    # The deprecated methods: memory_depth and usecase_setting are stored and shown.
    client.update_project(memory_depth="deep", usecase_setting="tutor", custom_instructions="Keep grades.")
    shown = client.get_project()
    assert (shown["memory_depth"], shown["usecase_setting"], shown["custom_instructions"]) == (
        "deep",
        "tutor",
        "Keep grades.",
    )
    assert client.get_project(fields=["memory_depth"]) == {"memory_depth": "deep"}

    email = f"r-{uuid.uuid4().hex[:6]}@example.org"
    assert client.project.add_member(email)["message"]  # READER by default
    assert client.project.get_members()["members"] == [{"username": email, "email": email, "role": "READER"}]
    with pytest.raises(ValidationError):
        client.project.add_member(email)  # already a member: 409, which the client reports as a ValidationError

    reader = MemoryClient(api_key=_member_key(server, module_database_url, client.project_id, email), host=server.url)
    assert reader.user_email == email
    assert reader.search("anything", filters={"user_id": "u"})["results"] == []
    with pytest.raises(Exception, match="read-only"):
        reader.add("I like tea.", user_id="u", infer=False)
    client.project.update_member(email, "OWNER")
    assert reader.add("I like tea.", user_id="u", infer=False)["status"] == "SUCCEEDED"
    client.project.remove_member(email)
    assert client.project.get_members() == {"members": []}
    with pytest.raises(ValueError, match="Invalid API key"):
        MemoryClient(api_key=reader.api_key, host=server.url)

    created = client.project.create("made by the client", description="from project.create")
    assert created["project_id"].startswith("proj_") and created["message"]
    second = MemoryClient(api_key=created["api_key"], host=server.url)
    assert second.project.get(fields=["name", "description"]) == {
        "name": "made by the client",
        "description": "from project.create",
    }
    assert second.project.delete() == {"message": "Project and related data deleted successfully."}
    with pytest.raises(ValueError, match="Invalid API key"):
        MemoryClient(api_key=created["api_key"], host=server.url)
    assert client.project.get()["name"] == "client test"  # the creator's project is untouched


def test_async_project_methods(server: MnemoServer) -> None:
    asyncio.run(_async_project_methods(server, _fresh_key(server)))


async def _async_project_methods(server: MnemoServer, key: str) -> None:
    from mem0 import AsyncMemoryClient

    async with AsyncMemoryClient(api_key=key, host=server.url) as client:
        await client.project.update(decay=True, custom_categories=[{"pets": "animals the user keeps"}])
        shown: dict[str, Any] = await client.project.get()
        assert (shown["decay"], shown["custom_categories"]) == (True, [{"pets": "animals the user keeps"}])
        assert await client.project.get(fields=["decay"]) == {"decay": True}
        await client.update_project(usecase_setting="coach")
        assert (await client.get_project(fields=["usecase_setting"])) == {"usecase_setting": "coach"}

        await client.project.add_member("o@example.org", role="OWNER")
        await client.project.update_member("o@example.org", "READER")
        assert (await client.project.get_members())["members"][0]["role"] == "READER"
        await client.project.remove_member("o@example.org")
        assert (await client.project.get_members())["members"] == []

        created = await client.project.create("async second")
        assert created["project_id"] != client.project_id
        assert (await client.project.delete())["message"] == "Project and related data deleted successfully."
    response = httpx.get(f"{server.url}/v1/ping/", headers=server.headers(key))
    assert response.status_code == 401
    response = httpx.get(f"{server.url}/v1/ping/", headers=server.headers(created["api_key"]))
    assert response.json()["project_id"] == created["project_id"]  # the project it made lives on
