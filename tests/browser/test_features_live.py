"""Replies, @mentions and reactions in real Chromium against a real Daphne process, each seen
live on a second user's page."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from playwright.sync_api import expect

from livesite import sqlite_database
from tests.browser.conftest import axe_violations, screenshot, site_page
from tests.browser.test_thread_live import (
    CONNECTED,
    clean,
    new_thread,
    open_thread,
    type_message,
)
from tests.live.harness import running_site

pytestmark = [pytest.mark.browser, pytest.mark.own_site]


@pytest.fixture(scope="module")
def site(acs_emulator: Any, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    work = tmp_path_factory.mktemp("live-features")
    with running_site(acs_emulator, sqlite_database(work), work) as live:
        yield live


def test_reply_mention_and_react_arrive_live_on_the_other_page(browser, site):
    seeded, thread = new_thread(site)
    alice = open_thread(browser, site, seeded.users["alice"], thread)
    bob = open_thread(browser, site, seeded.users["bob"], thread)

    type_message(alice, "Lunch at noon?")
    alice.keyboard.press("Enter")
    expect(bob.locator(".msg", has_text="Lunch at noon?")).to_be_visible()
    # The replies below quote it too: from here on it is found by its id.
    original_id = bob.locator(".msg", has_text="Lunch at noon?").get_attribute("id")
    original = bob.locator(f"#{original_id}")

    # A reply, from the message's actions: quoted above the composer, then above the reply.
    original.hover()
    bob.get_by_role("button", name="Reply", exact=True).click()
    expect(bob.locator(".chat-replying")).to_contain_text("Replying to alice: Lunch at noon?")
    bob.keyboard.type("Yes, the usual place")
    bob.keyboard.press("Enter")
    expect(bob.locator(".chat-replying")).to_be_hidden()
    reply = alice.locator(".msg", has_text="Yes, the usual place")
    quote = reply.locator("a.msg__reply")
    expect(quote).to_contain_text("alice")
    expect(quote).to_contain_text("Lunch at noon?")
    quote.click()  # jumps to the original on this page
    expect(alice.locator(f"#{original_id}.msg--highlight")).to_be_focused()

    # A mention, chosen with the keyboard from the listbox; bob's and alice's conversation lists
    # are open too.
    bob_list = site_page(browser, site.servers[0], seeded.users["bob"].session, "/chat/")
    alice_list = site_page(browser, site.servers[0], seeded.users["alice"].session, "/chat/")
    for page in (bob_list, alice_list):
        expect(page.locator("[data-status=connected]")).to_be_attached(timeout=CONNECTED)
    alice.click("#composer-box")
    alice.keyboard.type("Great @b")
    listbox = alice.locator(".mention-list[role=listbox]")
    expect(listbox).to_be_visible()
    expect(listbox.locator("[role=option][aria-selected=true]")).to_have_text("@bob")
    assert axe_violations(alice) == []
    expect(listbox).to_be_visible()
    alice.keyboard.press("Enter")
    expect(listbox).to_be_hidden()
    expect(alice.locator("#composer-box [data-mention]")).to_have_text("@bob")
    alice.keyboard.type("see you there")
    alice.keyboard.press("Enter")
    mentioned = bob.locator(".msg.msg--mentions-me", has_text="see you there")
    expect(mentioned.locator(".msg__body [data-mention]")).to_have_text("@bob")
    expect(mentioned.locator(".msg__flag--mention")).to_have_text("mentions you")
    # Alice's own copy is not marked for her.
    expect(alice.locator(".msg", has_text="see you there")).not_to_have_class("msg--mentions-me")
    # Bob's list counts the mention apart; alice's (her own message) shows no badge at all.
    row = bob_list.locator(f'[data-thread-row="{thread}"]')
    expect(row.locator("[data-mention-badge]")).to_have_text("@1")
    expect(row.locator("[data-mention-badge]")).to_have_attribute(
        "aria-label", "1 message mentions you"
    )
    alice_row = alice_list.locator(f'[data-thread-row="{thread}"]')
    expect(alice_row.locator("[data-row-preview]")).to_contain_text("see you there")
    assert alice_row.locator("[data-mention-badge]").count() == 0
    assert axe_violations(bob_list) == []

    # Reactions: bob from the picker, alice with the chip; both pages count them live.
    original.hover()
    bob.get_by_role("button", name="React", exact=True).click()
    picker = bob.locator(".reaction-picker[role=toolbar]")
    expect(picker).to_be_visible()
    assert axe_violations(bob) == []
    picker.get_by_role("button", name="React 👍").click()
    chip = alice.locator(f'#{original_id} button.reaction[data-emoji="👍"]')
    expect(chip.locator(".reaction__count")).to_have_text("1")
    expect(chip).to_have_attribute("title", "bob")
    expect(chip).to_have_attribute("aria-pressed", "false")
    chip.click()
    expect(chip.locator(".reaction__count")).to_have_text("2")
    expect(chip).to_have_attribute("aria-pressed", "true")
    bob_chip = original.locator('button.reaction[data-emoji="👍"]')
    expect(bob_chip.locator(".reaction__count")).to_have_text("2")
    expect(bob_chip).to_have_attribute("aria-label", "👍 2: bob, alice")
    bob_chip.click()  # bob takes his back
    expect(chip.locator(".reaction__count")).to_have_text("1")
    expect(chip).to_have_attribute("title", "alice")

    # Alice corrects the original: bob's quote of it follows.
    alice.locator(f"#{original_id}").hover()
    alice.get_by_role("button", name="Edit", exact=True).click()
    alice.locator(f"#{original_id} .msg-edit textarea").fill("Lunch at one?")
    alice.keyboard.press("Enter")
    bob_reply = bob.locator(".msg", has_text="Yes, the usual place")
    expect(bob_reply.locator("a.msg__reply .msg__reply-text")).to_have_text("Lunch at one?")

    screenshot(alice, "features-alice")
    screenshot(bob, "features-bob")
    for page in (alice, bob):
        assert axe_violations(page) == []
        clean(page)


def test_only_mentions_notify_when_the_user_asks_for_that(browser, site):
    from tests.browser.test_list_live import RECORD_NOTIFICATIONS

    seeded, thread = new_thread(site)
    bob = site_page(browser, site.servers[0], seeded.users["bob"].session, "/chat/")
    bob.context.add_init_script(RECORD_NOTIFICATIONS)
    bob.reload()
    expect(bob.locator("[data-status=connected]")).to_be_attached(timeout=CONNECTED)
    only = bob.locator("[data-notify-mentions]")
    expect(only).to_be_hidden()  # offered once notifications are on
    bob.click("[data-notify-toggle]")
    expect(only).to_have_attribute("aria-pressed", "false")
    only.click()
    expect(only).to_have_attribute("aria-pressed", "true")
    assert axe_violations(bob) == []

    alice = open_thread(browser, site, seeded.users["alice"], thread)
    type_message(alice, "just chatting")
    alice.keyboard.press("Enter")
    row = bob.locator(f'[data-thread-row="{thread}"]')
    expect(row.locator("[data-row-preview]")).to_have_text("alice: just chatting")
    alice.keyboard.type("over to you @bo")
    expect(alice.locator(".mention-list [role=option]")).to_have_text(["@bob"])
    alice.keyboard.press("Tab")
    alice.keyboard.press("Enter")
    expect(row.locator("[data-mention-badge]")).to_have_text("@1")
    # The plain message came first and notified nobody; the mention did.
    notes = bob.evaluate("window.__notes")
    assert [n["body"] for n in notes] == ["alice mentioned you: over to you @bob"]
    assert bob.csp_violations == [] and alice.csp_violations == []
