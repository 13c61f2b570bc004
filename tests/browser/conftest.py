"""Real Chromium (Playwright) against the site served by pytest-django's live server."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

SCREENSHOTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "screenshots"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
DESKTOP = {"width": 1280, "height": 800}
PHONE = {"width": 390, "height": 844}


@pytest.fixture
def chat_site(acs_settings: Any, settings: Any, transactional_db: None) -> Iterator[Any]:
    """The site on the emulator (for the live server thread too), with no cached clients."""
    from chat import gateway

    gateway.reset()
    yield settings
    gateway.reset()


@pytest.fixture
def browser(chromium_executable: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    # Playwright's sync API keeps an event loop running in this thread; the test's own ORM
    # calls are still plain blocking calls, as Django's docs note for Playwright.
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=chromium_executable, args=CHROMIUM_ARGS
        )
        yield browser
        browser.close()


class ScriptRan(AssertionError):
    """A page ran script that came from user content."""


def watch_page(page: Any) -> Any:
    """Record the page's dialogs (accepting them) and any Content-Security-Policy violation the
    browser reports: ``page.dialogs``, ``page.csp_violations``."""
    page.dialogs = []
    page.csp_violations = []

    def on_dialog(dialog: Any) -> None:
        page.dialogs.append((dialog.type, dialog.message))
        dialog.accept()

    def on_console(message: Any) -> None:
        if "Content Security Policy" in message.text:
            page.csp_violations.append(message.text)

    page.on("dialog", on_dialog)
    page.on("console", on_console)
    return page


@pytest.fixture
def sign_in(browser: Any, live_server: Any, chat_site: Any) -> Callable[..., Any]:
    """``sign_in(user, viewport=DESKTOP)`` -> a Playwright page signed in as that user.

    Any dialog (alert/confirm from user content) is recorded; `page.dialogs` lists them and
    confirm() dialogs from the app's own delete/remove forms are accepted.
    """
    from tests.fixtures.site import TEST_PASSWORD

    def open_page(user: Any, viewport: dict[str, int] = DESKTOP) -> Any:
        context = browser.new_context(viewport=viewport, locale="en-US")
        page = watch_page(context.new_page())
        page.goto(f"{live_server.url}/accounts/login/")
        page.fill("input[name=username]", user.get_username())
        page.fill("input[name=password]", TEST_PASSWORD)
        page.click("button[type=submit]")
        page.wait_for_load_state()
        return page

    return open_page


def screenshot(page: Any, name: str) -> Path:
    """Save a full-page screenshot under test-artifacts/screenshots/."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    return path
