"""A real browser (Debian's chromium, driven by Playwright) against a real ``mnemo serve``.

No browser is downloaded: Playwright drives the system chromium through ``executable_path``. ``./test``
installs the package when it is missing; without it these tests fail, saying so (they never skip).
Set ``DASHBOARD_SCREENSHOTS=docs/screenshots`` to refresh the README's screenshots."""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from testkit.scripted_llm import ScriptedLLM
from testkit.server import MnemoServer, run_cli, serving

if TYPE_CHECKING:
    from playwright.sync_api import Browser, Page

CHROMIUM = ("chromium", "chromium-browser")


def chromium_path() -> str:
    configured = os.environ.get("DASHBOARD_CHROMIUM")
    if configured:
        return configured
    for name in CHROMIUM:
        found = shutil.which(name)
        if found:
            return found
    pytest.fail(
        "The dashboard's browser tests need Debian's chromium package, which is not installed. ./test installs it"
        " (apt-get install -y chromium); or point DASHBOARD_CHROMIUM at a Chromium binary.",
        pytrace=False,
    )


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    path = chromium_path()
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        pytest.fail("Playwright is not installed: run ./test (it installs the test extras).", pytrace=False)
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=path)
        try:
            yield launched
        finally:
            launched.close()


@pytest.fixture(scope="module")
def ui_server(
    llm: ScriptedLLM, module_database_url: str, model_dir: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[MnemoServer]:
    """``mnemo serve`` whose default extraction is offline, with an LLM profile ``scripted`` a project may pick."""
    profiles = {
        "scripted": {
            "provider": "openai",
            "base_url": llm.openai_url,
            "model": "scripted-model",
            "api_key": "sk-test",
            "timeout_seconds": 2,
            "total_timeout_seconds": 3,
        }
    }
    with serving(
        tmp_path_factory.mktemp("ui-serve"),
        database_url=module_database_url,
        model_dir=model_dir,
        extra_env={"MNEMO_LLM_PROFILES": json.dumps(profiles), "MNEMO_JOB_MAX_ATTEMPTS": "2"},
    ) as running:
        yield running


def create_key(server: MnemoServer, *args: str) -> str:
    """``mnemo keys create ARGS`` against the server's database; the new key."""
    command = server.process.args
    assert isinstance(command, list)
    env = {**server.env, "MNEMO_DATABASE_URL": str(command[command.index("--database-url") + 1])}
    created = run_cli(["keys", "create", *args], env=env)
    assert created.returncode == 0, created.stderr
    return created.stdout.strip().splitlines()[-1]


@pytest.fixture
def page(browser: Browser, ui_server: MnemoServer) -> Iterator[Page]:
    """A fresh browser context on the server, failing the test if a page reaches anything but the server."""
    context = browser.new_context(base_url=ui_server.url, viewport={"width": 1280, "height": 860})
    outside: list[str] = []

    def watch(request: Any) -> None:
        if not request.url.startswith((ui_server.url, "data:")):
            outside.append(request.url)

    context.on("request", watch)
    opened = context.new_page()
    opened.set_default_timeout(20_000)
    try:
        yield opened
    finally:
        context.close()
    assert outside == [], f"the dashboard made requests outside mnemo: {outside}"


@pytest.fixture(scope="session")
def screenshots(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Where :func:`shot` saves: ``DASHBOARD_SCREENSHOTS`` (e.g. docs/screenshots), else a temporary directory."""
    configured = os.environ.get("DASHBOARD_SCREENSHOTS")
    path = Path(configured) if configured else tmp_path_factory.mktemp("screenshots")
    path.mkdir(parents=True, exist_ok=True)
    return path
