"""The conversation list, live, in real Chromium against a real Daphne process: a new
conversation appears, new messages move it up with their text and an unread count, the tab
title counts them, desktop notifications (opted in) fire, removals and deletions take it away,
and the filter finds conversations by topic or person."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from playwright.sync_api import expect

from livesite import Thread, sqlite_database
from tests.browser.conftest import DESKTOP, PHONE, axe_violations, screenshot, site_page
from tests.live.harness import running_site

pytestmark = [pytest.mark.browser, pytest.mark.own_site]

# Records the notifications the page shows (the browser's own would need a display).
RECORD_NOTIFICATIONS = """
window.__notes = [];
class RecordedNotification {
  static permission = "default";
  static async requestPermission() {
    RecordedNotification.permission = "granted";
    return "granted";
  }
  constructor(title, options) { window.__notes.push({title, ...options}); }
  addEventListener() {}
  close() {}
}
window.Notification = RecordedNotification;
"""


@pytest.fixture(scope="module")
def site(acs_emulator: Any, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    work = tmp_path_factory.mktemp("live-list")
    with running_site(acs_emulator, sqlite_database(work), work) as live:
        yield live


def test_the_list_follows_new_conversations_messages_removals_and_deletions(browser, site):
    seeded = site.seed(["alice", "bob", "carol"], [Thread("Old news", "carol", ["bob"])])
    users, server = seeded.users, site.servers[0]
    bob = site_page(browser, server, users["bob"].session, "/chat/")
    bob.context.add_init_script(RECORD_NOTIFICATIONS)
    bob.reload()
    expect(bob.locator("[data-status=connected]")).to_be_attached(timeout=15_000)
    expect(bob.locator("[data-thread-row]")).to_have_count(1)
    bob.click("[data-notify-toggle]")
    expect(bob.locator("[data-notify-toggle]")).to_have_attribute("aria-pressed", "true")
    assert bob.title() == "Conversations"

    # Alice starts a conversation with bob and writes in it: it appears in his open list with
    # her message (creating a thread publishes no event; its first message does).
    alice = site_page(browser, server, users["alice"].session, "/chat/new/")
    alice.fill("input[name=topic]", "Lunch on Friday")
    alice.check(f"input[name=people-pick_{users['bob'].id}]")
    alice.select_option(f"select[name=people-history_{users['bob'].id}]", "all")
    with alice.expect_navigation():
        alice.click("button:has-text('Create')")
    expect(alice.locator("[data-status=connected]")).to_be_attached(timeout=15_000)
    lunch = bob.locator("[data-thread-row]", has_text="Lunch on Friday")
    alice.click("#composer-box")
    alice.keyboard.type("are you in?")
    alice.keyboard.press("Enter")
    expect(lunch).to_be_visible()
    expect(lunch).to_contain_text("With alice")
    expect(lunch.locator(".chat-badge")).to_have_text("1")

    # Her next message updates the row in place: its text, the unread count, the tab title.
    alice.keyboard.type("see you at 3")
    alice.keyboard.press("Enter")
    expect(lunch.locator("[data-row-preview]")).to_have_text("alice: see you at 3")
    expect(lunch.locator(".chat-badge")).to_have_text("2")
    expect(bob.locator("[data-thread-row]").first).to_have_attribute(
        "data-thread-row", lunch.get_attribute("data-thread-row")
    )
    expect(bob).to_have_title("(2) Conversations")
    notes = bob.evaluate("window.__notes")
    assert notes and notes[-1]["title"] == "Lunch on Friday"
    assert notes[-1]["body"] == "alice: see you at 3"

    # The filter finds conversations by topic or person.
    bob.fill("[data-filter]", "carol")
    expect(bob.locator("[data-thread-row]:visible")).to_have_count(1)
    expect(bob.locator("[data-thread-row]:visible")).to_contain_text("Old news")
    bob.fill("[data-filter]", "nothing like this")
    expect(bob.locator("[data-no-match]")).to_have_text(
        "No conversation matches “nothing like this”."
    )
    bob.fill("[data-filter]", "")
    assert axe_violations(bob) == []
    for label, viewport in (("desktop", DESKTOP), ("phone", PHONE)):
        bob.set_viewport_size(viewport)
        screenshot(bob, f"thread-list-{label}")
    bob.set_viewport_size(DESKTOP)

    # Removed from it: gone from the list, and from the count.
    alice.goto(f"{alice.url}people/")
    with alice.expect_navigation():
        alice.locator("[data-participant=bob] button", has_text="Remove").click()
    expect(lunch).to_have_count(0)
    expect(bob).to_have_title("Conversations")

    # Carol deletes the other one: gone too.
    carol = site_page(
        browser, server, users["carol"].session, f"/chat/t/{seeded.threads[0]}/delete/"
    )
    with carol.expect_navigation():
        carol.click("button:has-text('Delete')")
    expect(bob.locator("[data-thread-row]")).to_have_count(0)
    assert bob.csp_violations == [] and alice.csp_violations == []
