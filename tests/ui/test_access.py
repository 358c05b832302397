"""What a key may do in the dashboard: a read-only key sees no write control (and the API refuses anyway),
cross-site posts are refused, and the pages work at phone width and from the keyboard."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Browser, Page, expect

from testkit.scripted_llm import ScriptedLLM, openai_reply
from testkit.server import MnemoServer
from tests.ui.conftest import create_key
from tests.ui.support import add, no_write_controls, shot, sign_in


@pytest.fixture(scope="module")
def project(ui_server: MnemoServer, llm: ScriptedLLM) -> dict[str, Any]:
    """A project of its own with a memory, a FAILED event, a read-write and a read-only key."""
    name = f"ui-ro-{uuid.uuid4().hex[:6]}"
    writer = create_key(ui_server, "--project", name, "--name", "writer")
    reader = create_key(ui_server, "--project", name, "--name", "reader", "--read-only")
    with ui_server.client(writer) as client:
        ping = client.get("/v1/ping/").json()
        path = f"/api/v1/orgs/organizations/{ping['org_id']}/projects/{ping['project_id']}/"
        assert client.patch(path, json={"llm": {"profile": "scripted"}}).status_code == 200
    memory = add(ui_server, writer, "I keep bees in my garden.", user_id="dana", infer=False)["results"][0]
    llm.clear()
    llm.script(openai_reply("not json"), openai_reply("not json either"))
    failed = add(ui_server, writer, "I keep goats too.", user_id="dana")
    assert failed["status"] == "FAILED", failed
    return {"writer": writer, "reader": reader, "memory": memory["id"], "event": failed["id"]}


def test_a_read_only_key_sees_no_write_controls(page: Page, ui_server: MnemoServer, project: dict[str, Any]) -> None:
    sign_in(page, project["reader"])
    expect(page.locator("#access")).to_contain_text("read-only")
    page.get_by_role("link", name="dana").click()
    expect(page.get_by_text("I keep bees in my garden.")).to_be_visible()
    for path in (f"/ui/memories/{project['memory']}", f"/ui/events/{project['event']}", "/ui/project", "/ui/events"):
        page.goto(path)
        expect(page.get_by_role("heading", level=1)).to_be_visible()
        no_write_controls(page)
    page.goto(f"/ui/events/{project['event']}")
    expect(page.locator("pre.raw-output")).to_contain_text("not json either")
    page.goto("/ui/project")
    expect(page.locator("dl.facts")).to_contain_text("scripted")

    # The controls are absent, and the API refuses the posts all the same (with its own detail).
    origin = {"Origin": ui_server.url}
    refused = page.request.post(f"/ui/memories/{project['memory']}/delete", headers=origin, form={})
    assert refused.status == 403 and "read-only" in refused.text()
    refused = page.request.post(f"/ui/events/{project['event']}/retry", headers=origin, form={})
    assert refused.status == 403 and "read-only" in refused.text()
    with ui_server.client(project["writer"]) as client:
        assert client.get(f"/v1/memories/{project['memory']}/").status_code == 200
        assert client.get(f"/v1/event/{project['event']}/").json()["status"] == "FAILED"


def test_posts_from_another_site_are_refused(page: Page, ui_server: MnemoServer, project: dict[str, Any]) -> None:
    sign_in(page, project["writer"])
    target = f"/ui/memories/{project['memory']}/delete"
    for headers in ({"Origin": "http://evil.example"}, {"Referer": "http://evil.example/page"}, {}):
        refused = page.request.post(target, headers=headers, form={})
        assert refused.status == 403 and "not sent from a page of this dashboard" in refused.text(), headers
    with ui_server.client(project["writer"]) as client:
        assert client.get(f"/v1/memories/{project['memory']}/").status_code == 200
    signed_in = page.request.post("/ui/signin", headers={"Origin": "http://evil.example"}, form={"api_key": "x"})
    assert signed_in.status == 403


def test_the_key_cookie_is_http_only_and_same_site_strict(page: Page, project: dict[str, Any]) -> None:
    sign_in(page, project["writer"])
    cookies = {cookie["name"]: cookie for cookie in page.context.cookies()}
    assert cookies["mnemo_key"]["httpOnly"] and cookies["mnemo_key"]["sameSite"] == "Strict"
    assert cookies["mnemo_key"]["path"] == "/ui"
    assert page.evaluate("document.cookie") == ""
    page.get_by_role("button", name="Sign out").click()
    assert "mnemo_key" not in {cookie["name"] for cookie in page.context.cookies()}


@pytest.fixture
def phone(browser: Browser, ui_server: MnemoServer) -> Iterator[Page]:
    context = browser.new_context(base_url=ui_server.url, viewport={"width": 390, "height": 844}, is_mobile=True)
    try:
        yield context.new_page()
    finally:
        context.close()


def _fits(page: Page) -> None:
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= 390, f"{page.url} is {width}px wide at a phone's 390px"


def test_phone_width_and_keyboard_only(
    phone: Page, ui_server: MnemoServer, project: dict[str, Any], screenshots: Path
) -> None:
    phone.goto("/ui/signin")
    expect(phone.get_by_label("API key")).to_be_focused()
    phone.keyboard.type(project["writer"])
    phone.keyboard.press("Enter")
    expect(phone.get_by_role("heading", name="Entities")).to_be_visible()
    _fits(phone)
    shot(phone, screenshots, "phone-entities")

    phone.keyboard.press("Tab")
    expect(phone.get_by_role("link", name="Skip to content")).to_be_focused()
    for _ in range(3):
        phone.keyboard.press("Tab")
    expect(phone.get_by_role("link", name="Search", exact=True)).to_be_focused()
    phone.keyboard.press("Enter")
    expect(phone.get_by_label("Query")).to_be_visible()
    phone.get_by_label("Query").focus()
    phone.keyboard.type("bees")
    phone.keyboard.press("Tab")
    phone.keyboard.type("dana")
    phone.keyboard.press("Enter")
    expect(phone.locator("ol.results")).to_contain_text("I keep bees in my garden.")
    _fits(phone)

    for path in (f"/ui/memories/{project['memory']}", f"/ui/events/{project['event']}", "/ui/events", "/ui/project"):
        phone.goto(path)
        expect(phone.get_by_role("heading", level=1)).to_be_visible()
        _fits(phone)
    phone.goto(f"/ui/memories/{project['memory']}")
    shot(phone, screenshots, "phone-memory")
