""" "Load older" in the browser: chat.js renders older messages from the JSON shape."""

from __future__ import annotations

from typing import Any

import pytest
from playwright.sync_api import expect

from chat.actions.messages import MESSAGES_PER_PAGE
from chat.actions.threads import EPOCH, ParticipantChoice, do_create_thread
from tests.browser.test_chat_flow import assert_no_script_ran
from tests.fixtures.outside import sdk_thread

pytestmark = pytest.mark.browser


def test_load_older_renders_like_the_server(sign_in: Any, make_site_user: Any, live_server: Any):
    alice = make_site_user("alice", first_name="Alice")
    bob = make_site_user("bob", first_name="Bob")
    thread_id = do_create_thread(
        alice, "Long story", [ParticipantChoice(bob, EPOCH)], "t-1"
    ).thread_id
    client = sdk_thread(alice, thread_id)
    # Sent straight to ACS, so only the sanitising before display protects the page.
    client.send_message(
        "<b>early</b><img src=x onerror=\"window.__xss = 'older'\">", chat_message_type="html"
    )
    for n in range(MESSAGES_PER_PAGE + 3):
        client.send_message(f"line {n:03d}")
    page = sign_in(alice)
    page.goto(f"{live_server.url}/chat/t/{thread_id}/")
    expect(page.locator(".msg", has_text="line 032")).to_be_visible()
    expect(page.locator(".msg", has_text="line 001")).to_have_count(0)
    server_item = page.locator(".msg", has_text="line 032").evaluate("e => e.outerHTML")

    page.click("text=Load older messages")
    expect(page.locator(".msg", has_text="line 001")).to_be_visible()
    expect(page.locator(".msg__body b", has_text="early")).to_be_visible()
    expect(page.locator(".msg__system", has_text="Alice added Bob")).to_be_visible()
    expect(page.locator("text=Load older messages")).to_have_count(0)
    # The script-rendered message has the same parts as the server-rendered one.
    older = page.locator(".msg", has_text="line 001")
    for part in (
        ".msg__sender",
        ".msg__time time[datetime]",
        ".msg__actions a",
        ".msg__actions button",
    ):
        assert older.locator(part).count() == 1, part
    assert "msg--mine" in older.get_attribute("class") and "msg--mine" in server_item
    assert_no_script_ran(page)
