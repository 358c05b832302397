"""The dashboard in a real browser with a read-write key: see, search, edit, delete; settings; events."""

from __future__ import annotations

import re
import uuid
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from testkit.scripted_llm import ScriptedLLM, openai_reply
from testkit.server import MnemoServer, wait_event
from tests.ui.conftest import create_key
from tests.ui.support import add, shot, sign_in


@pytest.fixture(autouse=True)
def _offline_extraction(ui_server: MnemoServer) -> None:
    """Tests of this module start with the server key's project on the offline extractor."""
    with ui_server.client() as client:
        ping = client.get("/v1/ping/").json()
        path = f"/api/v1/orgs/organizations/{ping['org_id']}/projects/{ping['project_id']}/"
        assert client.patch(path, json={"llm": None}).status_code == 200


def test_sign_in_shows_the_api_detail_for_a_bad_key(page: Page, ui_server: MnemoServer, screenshots: Path) -> None:
    page.goto("/ui/events")
    expect(page).to_have_url(re.compile(r"/ui/signin$"))
    shot(page, screenshots, "signin")
    page.get_by_label("API key").fill("m0-not-a-key")
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("alert")).to_contain_text("Invalid API key")
    sign_in(page, ui_server.api_key)
    expect(page.locator("#access")).to_contain_text("read-write")
    page.get_by_role("button", name="Sign out").click()
    expect(page.get_by_role("status")).to_contain_text("Signed out")
    page.goto("/ui/")
    expect(page).to_have_url(re.compile(r"/ui/signin$"))


def test_see_search_edit_and_delete_a_memory(page: Page, ui_server: MnemoServer, screenshots: Path) -> None:
    user = f"alice-{uuid.uuid4().hex[:6]}"
    key = ui_server.api_key
    older = add(ui_server, key, "I work at Acme.", user_id=user)
    newer = add(ui_server, key, "I just started a new job at Globex!", user_id=user)
    assert older["status"] == newer["status"] == "SUCCEEDED", (older, newer)
    added = add(
        ui_server, key, "I live in Lisbon and surf on weekends.", user_id=user, infer=False, metadata={"source": "chat"}
    )
    memory_id = added["results"][0]["id"]
    add(ui_server, key, "Book aisle seats for Alice.", agent_id="travel-agent", user_id=user, infer=False)
    add(
        ui_server,
        key,
        "Alice asked for a vegetarian menu.",
        run_id=f"chat-{uuid.uuid4().hex[:6]}",
        user_id=user,
        infer=False,
    )

    sign_in(page, key)
    row = page.get_by_role("row").filter(has_text=user)
    expect(row).to_contain_text("5")
    shot(page, screenshots, "entities")
    row.get_by_role("link", name=user).click()
    expect(page.get_by_role("heading", name=user)).to_contain_text("5 memories")
    expect(page.get_by_text("I live in Lisbon and surf on weekends.")).to_be_visible()
    superseded = page.locator("li.superseded")
    expect(superseded).to_contain_text("works at Acme")
    expect(superseded).to_contain_text("superseded by")
    expect(page.locator("li.card").filter(has_text="Globex")).to_contain_text("Replaces")
    shot(page, screenshots, "memories")
    page.get_by_label("Current only").check()
    page.get_by_role("button", name="Apply").click()
    expect(page.get_by_role("heading", name=user)).to_contain_text("4 memories")

    page.get_by_role("link", name=f"Search {user}'s memories").click()
    expect(page.get_by_label("user_id")).to_have_value(user)
    page.get_by_label("Query").fill("Where does Alice live?")
    page.get_by_role("button", name="Search").click()
    first = page.locator("ol.results > li").filter(has_text="Lisbon")
    expect(first.locator("table.breakdown")).to_contain_text("semantic")
    expect(first.locator("table.breakdown")).to_contain_text("bm25")
    expect(page.locator("pre.request")).to_contain_text(f'"user_id": "{user}"')
    shot(page, screenshots, "search")

    first.get_by_role("link").first.click()
    expect(page).to_have_url(re.compile(f"/ui/memories/{memory_id}$"))
    page.get_by_label("Text").fill("I live in Porto and surf on weekends.")
    page.get_by_label("Metadata").fill('{"source": "chat", "checked": true}')
    page.get_by_label("Expires on").fill("2999-12-31")
    page.get_by_role("button", name="Save").click()
    expect(page.get_by_role("status")).to_contain_text("Saved")
    expect(page.get_by_role("heading", level=1)).to_have_text("I live in Porto and surf on weekends.")
    history = page.locator("table.history")
    expect(history).to_contain_text("UPDATE")
    expect(history).to_contain_text("I live in Lisbon and surf on weekends.")
    expect(history).to_contain_text("I live in Porto and surf on weekends.")
    expect(page.locator("dl.facts")).to_contain_text("2999-12-31")
    with ui_server.client() as client:
        stored = client.get(f"/v1/memories/{memory_id}/").json()
    assert stored["metadata"] == {"source": "chat", "checked": True}
    assert stored["expiration_date"].startswith("2999-12-31")
    shot(page, screenshots, "memory")

    page.get_by_label("Metadata").fill("[1, 2]")
    page.get_by_role("button", name="Save").click()
    expect(page.get_by_role("alert")).to_contain_text("Metadata must be a JSON object")
    page.get_by_label("Metadata").fill("")
    page.get_by_label("Expires on").fill("")
    page.get_by_role("button", name="Save").click()
    expect(page.get_by_role("status")).to_contain_text("Saved")
    with ui_server.client() as client:
        stored = client.get(f"/v1/memories/{memory_id}/").json()
    assert stored["expiration_date"] is None and not stored["metadata"]

    page.once("dialog", lambda dialog: dialog.accept())
    page.get_by_role("button", name="Delete").click()
    expect(page.get_by_role("status")).to_contain_text("Deleted")
    expect(page.get_by_text("This memory was deleted.")).to_be_visible()
    expect(page.locator("table.history")).to_contain_text("DELETE")
    with ui_server.client() as client:
        assert client.get(f"/v1/memories/{memory_id}/").status_code == 404
    page.goto(f"/ui/entities/user/{user}")
    expect(page.get_by_role("heading", name=user)).to_contain_text("4 memories")


def test_delete_linked_removes_the_supersede_chain(page: Page, ui_server: MnemoServer) -> None:
    user = f"bob-{uuid.uuid4().hex[:6]}"
    key = ui_server.api_key
    add(ui_server, key, "I work at Acme.", user_id=user)
    newer = add(ui_server, key, "I just started a new job at Globex!", user_id=user)
    sign_in(page, key)
    page.goto(f"/ui/memories/{newer['results'][0]['id']}")
    page.get_by_label("Also delete the memories linked").check()
    page.once("dialog", lambda dialog: dialog.accept())
    page.get_by_role("button", name="Delete").click()
    expect(page.get_by_role("status")).to_contain_text("1 linked memory deleted with it")
    with ui_server.client() as client:
        assert client.post("/v3/memories/", json={"filters": {"user_id": user}}).json()["count"] == 0


def test_settings_and_a_failed_event_retried(
    page: Page, ui_server: MnemoServer, llm: ScriptedLLM, screenshots: Path
) -> None:
    key = create_key(ui_server, "--project", f"ui-llm-{uuid.uuid4().hex[:6]}", "--name", "ui")
    sign_in(page, key)
    page.get_by_role("link", name="Project").click()
    page.get_by_label("Instructions (custom_instructions)").fill("Only remember sports.")
    page.get_by_label("Profile", exact=True).fill("missing")
    page.get_by_role("button", name="Save").click()
    expect(page.get_by_role("alert")).to_contain_text("Unknown LLM profile 'missing'")
    expect(page.get_by_role("alert")).to_contain_text("scripted")
    page.get_by_label("Profile", exact=True).fill("scripted")
    page.get_by_role("button", name="Save").click()
    expect(page.get_by_role("status")).to_contain_text("Saved")
    expect(page.get_by_label("Instructions (custom_instructions)")).to_have_value("Only remember sports.")
    expect(page.locator("legend")).to_contain_text("scripted, openai, scripted-model")
    expect(page.get_by_role("heading", name="Keys")).to_be_visible()
    shot(page, screenshots, "project")

    llm.clear()
    llm.script(openai_reply("this is not json"), openai_reply("{still not json"))
    failed = add(ui_server, key, "I run marathons.", user_id="carol")
    assert failed["status"] == "FAILED", failed
    page.get_by_role("link", name="Events").click()
    row = page.get_by_role("row").filter(has_text="FAILED")
    expect(row).to_contain_text("JSON")
    shot(page, screenshots, "events")
    row.get_by_role("link").click()
    expect(page.locator("pre.error-text")).to_contain_text("JSON")
    expect(page.locator("pre.raw-output")).to_contain_text("still not json")
    shot(page, screenshots, "event-failed")

    llm.script(
        openai_reply(
            '{"facts": [{"text": "Carol runs marathons.", "attributed_to": "user",'
            ' "categories": ["sports"], "linked_ids": []}]}'
        )
    )
    page.get_by_role("button", name="Retry").click()
    expect(page.get_by_role("heading", level=1)).to_contain_text("SUCCEEDED", timeout=60_000)
    expect(page.get_by_role("link", name="Carol runs marathons.")).to_be_visible()
    assert wait_event(ui_server, failed["id"], key=key)["status"] == "SUCCEEDED"
    expect(page.get_by_role("button", name="Retry")).to_have_count(0)
