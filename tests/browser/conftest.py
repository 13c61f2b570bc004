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

    def open_page(user: Any, viewport: dict[str, int] = DESKTOP, javascript: bool = True) -> Any:
        context = browser.new_context(
            viewport=viewport, locale="en-US", java_script_enabled=javascript
        )
        page = watch_page(context.new_page())
        page.goto(f"{live_server.url}/accounts/login/")
        page.fill("input[name=username]", user.get_username())
        page.fill("input[name=password]", TEST_PASSWORD)
        page.click("main button[type=submit]")
        page.wait_for_load_state()
        return page

    return open_page


def screenshot(page: Any, name: str) -> Path:
    """Save a full-page screenshot under test-artifacts/screenshots/."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    return path


# --- Live pages (a real Daphne site: websockets need ASGI) ----------------------------------------

AXE = Path(__file__).resolve().parents[2] / "node_modules" / "axe-core" / "axe.min.js"


def axe_violations(page: Any, impacts: tuple[str, ...] = ("serious", "critical")) -> list[str]:
    """axe-core's WCAG 2.x A/AA findings of those impacts on the page as it is now.

    Evaluated through the devtools protocol, which a page's Content-Security-Policy does not
    govern (an injected <script> would break the policy the tests hold the site to).
    """
    if not AXE.is_file():
        pytest.fail(f"{AXE} is missing: `make setup` installs axe-core (npm ci)")
    if not page.evaluate("typeof window.axe !== 'undefined'"):
        page.evaluate(AXE.read_text() + "\n;void 0")
    found = page.evaluate(
        """async () => {
            const tags = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22aa"];
            const result = await axe.run(document, {runOnly: {type: "tag", values: tags}});
            return result.violations.map(v => ({id: v.id, impact: v.impact,
                nodes: v.nodes.slice(0, 3).map(n => n.target.join(" "))}));
        }"""
    )
    return [f"{v['id']} ({v['impact']}): {v['nodes']}" for v in found if v["impact"] in impacts]


def site_page(
    browser: Any, server: Any, session: str, path: str, viewport: dict | None = None, **options: Any
) -> Any:
    """A page of a Daphne site signed in by session cookie, watched as ``watch_page`` does."""
    context = browser.new_context(locale="en-US", viewport=viewport or DESKTOP, **options)
    context.add_cookies([{"name": "sessionid", "value": session, "url": server.url}])
    page = watch_page(context.new_page())
    page.goto(f"{server.url}{path}")
    return page
