"""What the browser tests do again and again: sign in, add through the API, take a screenshot."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from playwright.sync_api import Page, expect

from testkit.server import MnemoServer, wait_event

#: Form controls that change something; a read-only key must see none of them.
WRITE_BUTTONS = ("Save", "Delete", "Retry")


def sign_in(page: Page, key: str) -> None:
    page.goto("/ui/signin")
    page.get_by_label("API key").fill(key)
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("heading", name="Entities")).to_be_visible()


def shot(page: Page, directory: Path, name: str) -> None:
    page.screenshot(path=str(directory / f"{name}.png"), full_page=True)


def add(server: MnemoServer, key: str | None, content: str, *, wait: bool = True, **body: Any) -> dict[str, Any]:
    """One user message added through the API (``infer`` as given, default true); the finished event, or the
    add's answer when ``infer`` is false or ``wait`` is off."""
    with server.client(key) as client:
        response = client.post("/v3/memories/add/", json={"messages": [{"role": "user", "content": content}], **body})
        assert response.status_code == 200, response.text
    answer: dict[str, Any] = response.json()
    if answer["status"] != "PENDING" or not wait:
        return answer
    return wait_event(server, answer["event_id"], key=key)


def no_write_controls(page: Page) -> None:
    expect(page.locator("form.write")).to_have_count(0)
    for name in WRITE_BUTTONS:
        expect(page.get_by_role("button", name=name)).to_have_count(0)
