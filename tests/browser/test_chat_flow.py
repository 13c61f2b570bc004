"""Two and three people chatting in real Chromium, through the pages only."""

from __future__ import annotations

from typing import Any

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import DESKTOP, PHONE, screenshot

pytestmark = pytest.mark.browser

# Each payload sets a flag if it ever runs; the flag must stay unset on every page.
SCRIPT_TEXT = "<script>window.__xss = 'text'</script>"
SCRIPT_HTML = "<b>bold</b><img src=x onerror=\"window.__xss = 'html'\">"
SCRIPT_TOPIC = "Plans <img src=x onerror=\"window.__xss = 'topic'\">"
SCRIPT_NAME = "<img src=x onerror=\"window.__xss = 'name'\">"


def assert_no_script_ran(page: Any) -> None:
    assert page.evaluate("window.__xss") is None
    assert [d for d in page.dialogs if d[0] != "confirm"] == []
    # And the site's own pages never need anything the Content-Security-Policy forbids.
    assert page.csp_violations == []


def open_thread(page: Any, url: str) -> None:
    page.goto(url)
    assert_no_script_ran(page)


def send(page: Any, text: str, fmt: str = "text") -> None:
    page.select_option("select[name=format]", fmt)
    page.fill("textarea[name=content]", text)
    with page.expect_navigation():
        page.keyboard.press("Enter")  # chat.js sends on Enter


def message(page: Any, text: str) -> Any:
    return page.locator(".msg", has_text=text)


def test_alice_bob_and_carol_chat(sign_in: Any, make_site_user: Any, live_server: Any) -> None:
    alice = make_site_user("alice", first_name="Alice")
    bob = make_site_user("bob", first_name="Bob", last_name=SCRIPT_NAME)
    carol = make_site_user("carol", first_name="Carol")
    make_site_user("dave", first_name="Dave")  # stays addable, so the add form shows a row
    a, b, c = sign_in(alice), sign_in(bob), sign_in(carol)

    # Alice starts a thread with Bob; the empty list offered the way in.
    a.goto(f"{live_server.url}/chat/")
    expect(a.locator(".chat-empty")).to_be_visible()
    a.click("text=Start a new conversation")
    screenshot(a, "new-thread-desktop")
    a.fill("input[name=topic]", SCRIPT_TOPIC)
    a.check(f"input[name=people-pick_{bob.pk}]")
    a.select_option(f"select[name=people-history_{bob.pk}]", "all")
    a.click("button:has-text('Create')")
    a.wait_for_url("**/chat/t/**")
    thread_url = a.url.split("#")[0]
    expect(a.locator("h1 [data-topic]")).to_have_text(SCRIPT_TOPIC)
    assert_no_script_ran(a)

    # Both exchange messages (reloading to see the other's).
    send(a, "Hello Bob")
    send(a, "oops, wrong thread")
    open_thread(b, thread_url)
    expect(message(b, "Hello Bob")).to_be_visible()
    send(b, "Hi Alice")
    open_thread(a, thread_url)
    expect(message(a, "Hi Alice")).to_be_visible()
    expect(message(a, "Hi Alice").locator(".msg__sender")).to_have_text(f"Bob {SCRIPT_NAME}")

    # Script payloads in a text and an HTML message stay inert.
    send(a, SCRIPT_TEXT)
    send(a, SCRIPT_HTML, "html")
    expect(message(a, SCRIPT_TEXT)).to_be_visible()
    expect(a.locator(".msg__body b", has_text="bold")).to_be_visible()
    assert_no_script_ran(a)

    # Alice edits one message and deletes another; Bob sees both results.
    message(a, "Hello Bob").locator("text=Edit").click()
    a.fill("textarea[name=content]", "Hello Bob, welcome")
    a.click("button:has-text('Save')")
    a.wait_for_url("**/chat/t/**")
    with a.expect_navigation():
        message(a, "oops, wrong thread").locator("button:has-text('Delete')").click()
    open_thread(b, thread_url)
    expect(message(b, "Hello Bob, welcome").locator(".msg__flag")).to_have_text("edited")
    expect(b.locator(".msg--deleted .msg__body--deleted")).to_have_text("This message was deleted.")
    expect(b.locator("text=oops, wrong thread")).to_have_count(0)
    assert_no_script_ran(b)

    # Read receipts go over the live connection, which this server does not have; opening a
    # page sends none (see tests/browser/test_live.py for "Seen by").
    open_thread(a, thread_url)
    expect(a.locator(".msg__seen")).to_have_count(0)

    # Alice adds Carol without history: Carol sees nothing from before.
    a.click("text=People & settings")
    a.check(f"input[name=people-pick_{carol.pk}]")
    expect(a.locator(f"input[name=people-since_{carol.pk}]")).to_be_hidden()
    a.select_option(f"select[name=people-history_{carol.pk}]", "none")
    a.click("button:has-text('Add')")
    expect(a.locator("[data-participant=Carol]")).to_be_visible()
    open_thread(a, thread_url)
    send(a, "Welcome Carol")
    open_thread(c, thread_url)
    expect(message(c, "Welcome Carol")).to_be_visible()
    expect(c.locator("text=Hello Bob")).to_have_count(0)
    expect(c.locator("text=Hi Alice")).to_have_count(0)
    expect(c.locator(".msg__system", has_text="Alice added Carol")).to_be_visible()

    # The topic change is shown to everyone, in words.
    a.goto(thread_url + "people/")
    a.fill("input[name=topic]", "Weekend plans")
    with a.expect_navigation():
        a.click("button:has-text('Change topic')")
    open_thread(c, thread_url)
    expect(c.locator("h1 [data-topic]")).to_have_text("Weekend plans")
    expect(
        c.locator(".msg__system", has_text="changed the topic to “Weekend plans”")
    ).to_be_visible()

    # Screenshots of the thread list, a thread and the participants, desktop and phone.
    for label, viewport in (("desktop", DESKTOP), ("phone", PHONE)):
        a.set_viewport_size(viewport)
        a.goto(f"{live_server.url}/chat/")
        expect(a.locator(".chat-thread-list")).to_be_visible()
        screenshot(a, f"thread-list-{label}")
        open_thread(a, thread_url)
        screenshot(a, f"thread-{label}")
        a.goto(thread_url + "people/")
        screenshot(a, f"participants-{label}")
    a.set_viewport_size(DESKTOP)

    # Alice removes Bob, and Bob is refused at once.
    a.goto(thread_url + "people/")
    with a.expect_navigation():
        a.locator("[data-participant^='Bob']").locator("button:has-text('Remove')").click()
    expect(a.locator("[data-participant^='Bob']")).to_have_count(0)
    response = b.goto(thread_url)
    assert response.status == 404
    assert_no_script_ran(a)
    assert_no_script_ran(b)
    assert_no_script_ran(c)
