"""A conversation, live, in real Chromium against a real Daphne process: sending (rich text and
plain), typing, "seen by", editing and deleting in place, the "new messages" line and button,
sending while offline, keyboard use, removal and deletion while the page is open.

One Daphne site per module (starting one costs seconds); each test makes its own thread.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Iterator
from typing import Any

import pytest
from azure.communication.chat import ChatClient, CommunicationTokenCredential
from playwright.sync_api import expect

from livesite import Thread, sqlite_database
from tests.browser.conftest import (
    DESKTOP,
    PHONE,
    axe_violations,
    screenshot,
    site_page,
    watch_page,
)
from tests.live.harness import running_site

pytestmark = [pytest.mark.browser, pytest.mark.own_site]

CONNECTED = 15_000
_topics = itertools.count(1)


@pytest.fixture(scope="module")
def site(acs_emulator: Any, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    work = tmp_path_factory.mktemp("live-thread")
    with running_site(acs_emulator, sqlite_database(work), work) as live:
        yield live


def new_thread(site: Any, members: tuple[str, ...] = ("alice", "bob")) -> tuple[Any, str]:
    topic = f"Live {next(_topics)}"
    seeded = site.seed(list(members), [Thread(topic, members[0], list(members[1:]))])
    return seeded, seeded.threads[0]


def open_thread(browser: Any, site: Any, user: Any, thread: str, viewport: dict = DESKTOP) -> Any:
    page = site_page(browser, site.servers[0], user.session, f"/chat/t/{thread}/", viewport)
    expect(page.locator("[data-status=connected]")).to_be_attached(timeout=CONNECTED)
    return page


def acs_thread(acs_emulator: Any, user: Any, thread: str) -> Any:
    client = ChatClient(
        acs_emulator.endpoint,
        CommunicationTokenCredential(user.token),
        connection_verify=acs_emulator.ca_bundle,
    )
    return client.get_chat_thread_client(thread, connection_verify=acs_emulator.ca_bundle)


def texts_in_acs(acs_emulator: Any, user: Any, thread: str, text: str) -> int:
    messages = acs_thread(acs_emulator, user, thread).list_messages(results_per_page=200)
    return sum(1 for m in messages if m.content and m.content.message and text in m.content.message)


def type_message(page: Any, text: str) -> None:
    page.click("#composer-box")
    page.keyboard.type(text)


def paste(page: Any, *, text: str, html: str = "") -> None:
    """What the browser does on Ctrl+V with this on the clipboard, into the composer."""
    page.evaluate(
        """([html, text]) => {
            const data = new DataTransfer();
            if (html) data.setData("text/html", html);
            data.setData("text/plain", text);
            const box = document.getElementById("composer-box");
            box.focus();
            const init = {clipboardData: data, bubbles: true, cancelable: true};
            box.dispatchEvent(new ClipboardEvent("paste", init));
        }""",
        [html, text],
    )


def clean(page: Any) -> None:
    assert page.csp_violations == []
    assert [d for d in page.dialogs if d[0] != "confirm"] == []
    assert page.evaluate("window.__xss") is None


def test_rich_text_typing_seen_by_and_what_screen_readers_hear(browser, site, acs_emulator):
    seeded, thread = new_thread(site)
    alice = open_thread(browser, site, seeded.users["alice"], thread)
    bob = open_thread(browser, site, seeded.users["bob"], thread)
    bob_url = bob.url

    # Plain text stays text, whatever it looks like.
    type_message(alice, "Hello <b>Bob</b>")
    expect(bob.locator("[data-typing]")).to_have_text("alice is typing…")
    # The typing line is outside the scrolling list.
    assert bob.locator("[data-scroll] [data-typing]").count() == 0
    alice.keyboard.press("Enter")
    theirs = bob.locator(".msg", has_text="Hello <b>Bob</b>")
    expect(theirs).to_be_visible()
    expect(theirs.locator(".msg__body")).to_have_attribute("dir", "auto")
    assert theirs.locator(".msg__body b").count() == 0
    assert bob.url == bob_url  # never reloaded
    expect(bob.locator("[data-typing]")).to_have_text("")  # the message ended the typing
    # Screen readers are told politely of messages from others (not of their own).
    expect(bob.locator("[data-announce][role=log]")).to_contain_text("alice: Hello <b>Bob</b>")
    expect(alice.locator("[data-announce]")).to_have_text("")
    mine = alice.locator(".msg--mine", has_text="Hello <b>Bob</b>")
    expect(mine).to_have_attribute("id", re.compile(r"^m-\d+$"))
    # Bob's page has it in view, so it sends a read receipt; alice sees it live.
    expect(mine.locator(".msg__seen")).to_have_text("Seen by bob")

    # Formatting with the shortcuts and the toolbar: sent as HTML the sanitiser keeps.
    alice.click("#composer-box")
    alice.keyboard.press("Control+b")
    alice.keyboard.type("bold")
    alice.keyboard.press("Control+b")
    alice.keyboard.type(" and ")
    alice.keyboard.press("Control+i")
    alice.keyboard.type("italic")
    alice.keyboard.press("Control+i")
    expect(alice.locator(".rich-toolbar button[aria-label^=Bold]")).to_have_attribute(
        "aria-pressed", "false"
    )
    alice.keyboard.press("Enter")
    rich = bob.locator(".msg", has_text="bold and italic")
    expect(rich.locator(".msg__body b")).to_have_text("bold")
    expect(rich.locator(".msg__body i")).to_have_text("italic")
    # After sending, the next message is plain again: no format to reset.
    type_message(alice, "plain again")
    alice.keyboard.press("Enter")
    expect(
        bob.locator(".msg", has_text="plain again").locator(".msg__body b, .msg__body i")
    ).to_have_count(0)
    # A list from the toolbar; pasted formatting survives as far as the sanitiser allows.
    alice.click("#composer-box")
    alice.click(".rich-toolbar button[aria-label^='Bulleted list']")
    alice.keyboard.type("one")
    alice.keyboard.press("Enter")  # in a list, Enter makes the next item
    alice.keyboard.type("two")
    alice.keyboard.press("Control+Enter")
    expect(bob.locator(".msg__body ul li")).to_have_count(2)
    # A link from the keyboard: a bare address becomes https; a script link is refused, saying why.
    type_message(alice, "see ")
    alice.keyboard.press("Control+k")
    alice.locator(".rich-link input").fill("javascript:alert(1)")
    alice.keyboard.press("Enter")
    expect(alice.locator(".rich-link [role=alert]")).to_have_text(
        "Only web (http, https) and e-mail (mailto) links can be added."
    )
    alice.keyboard.press("Escape")
    alice.keyboard.press("Control+k")
    alice.locator(".rich-link input").fill("example.com/docs")
    alice.keyboard.press("Enter")
    alice.keyboard.press("Enter")
    linked = bob.locator(".msg", has_text="see example.com/docs")
    expect(linked.locator(".msg__body a")).to_have_attribute("href", "https://example.com/docs")
    expect(linked.locator(".msg__body a")).to_have_text("example.com/docs")
    paste(
        alice,
        html='<p>Pasted <strong>strong</strong> <span style="color:red">red</span>'
        ' <a href="https://example.com/x">link</a><img src=x onerror="window.__xss=1"></p>',
        text="Pasted strong red link",
    )
    alice.keyboard.press("Enter")
    pasted = bob.locator(".msg", has_text="Pasted strong red")
    expect(pasted.locator(".msg__body b")).to_have_text("strong")
    expect(pasted.locator(".msg__body a")).to_have_attribute("href", "https://example.com/x")
    assert pasted.locator(".msg__body img, .msg__body span[style]").count() == 0

    # Grouped: one name and avatar for alice's run of messages this minute.
    expect(bob.locator(".msg.msg--continued")).not_to_have_count(0)
    expect(bob.locator(".chat-day")).to_have_text(["Today"])
    # An Arabic message is laid out right to left by the browser (dir=auto).
    acs_thread(acs_emulator, seeded.users["bob"], thread).send_message("مرحبا بالجميع")
    arabic = alice.locator(".msg__body", has_text="مرحبا")
    expect(arabic).to_be_visible()
    assert arabic.evaluate("e => getComputedStyle(e).direction") == "rtl"
    clean(alice)
    clean(bob)


def test_edit_and_delete_in_place_are_seen_live_and_stay_out_of_the_way(browser, site):
    seeded, thread = new_thread(site)
    alice = open_thread(browser, site, seeded.users["alice"], thread)
    bob = open_thread(browser, site, seeded.users["bob"], thread)
    for text in ("first try", "second try", "oops"):
        type_message(alice, text)
        alice.keyboard.press("Enter")
        expect(bob.locator(".msg", has_text=text)).to_be_visible()
    first = alice.locator(".msg", has_text="first try")
    # No actions on show until a message is pointed at or focused.
    expect(alice.locator(".msg-actions")).to_be_hidden()
    first.hover()
    expect(first.locator(".msg-actions")).to_be_visible()
    expect(first.locator(".msg-actions button", has_text="Edit")).to_be_visible()
    # Someone else's message offers the link only.
    theirs_on_bob = bob.locator(".msg", has_text="first try")
    theirs_on_bob.hover()
    expect(theirs_on_bob.locator(".msg-actions button:visible")).to_have_text(
        ["Reply", "React", "Copy link"]
    )

    # Edit in place: Escape cancels, Enter saves; bob sees it without reloading.
    first.locator(".msg-actions button", has_text="Edit").click()
    editor = first.locator(".msg-edit textarea")
    expect(editor).to_be_focused()
    editor.fill("never mind")
    editor.press("Escape")
    expect(alice.locator(".msg-edit")).to_have_count(0)
    expect(first.locator(".msg__body")).to_have_text("first try")
    first.hover()
    first.locator(".msg-actions button", has_text="Edit").click()
    first.locator(".msg-edit textarea").fill("first try, fixed")
    first.locator(".msg-edit textarea").press("Enter")
    fixed = bob.locator(".msg", has_text="first try, fixed")
    expect(fixed.locator(".msg__flag")).to_have_text("edited")
    assert alice.url.endswith(f"/chat/t/{thread}/")

    # Up in the empty composer edits the last own message.
    alice.click("#composer-box")
    alice.keyboard.press("ArrowUp")
    last = alice.locator(".msg", has_text="oops")
    expect(last.locator(".msg-edit textarea")).to_be_focused()
    last.locator(".msg-edit textarea").press("Escape")

    # Deleting asks once, in place (no dialog), and bob sees the tombstone.
    last.hover()
    last.locator(".msg-actions button", has_text="Delete").click()
    confirm = last.locator(".msg-confirm")
    expect(confirm).to_contain_text("Delete this message?")
    confirm.locator("button", has_text="Delete").click()
    expect(bob.locator(".msg--deleted .msg__body--deleted")).to_have_text(
        "This message was deleted."
    )
    expect(bob.locator(".msg", has_text="oops")).to_have_count(0)
    assert alice.dialogs == []

    # The keyboard: the list is one Tab stop, then that message's actions, then the composer.
    newest = alice.locator("li.msg[tabindex='0']")
    expect(newest).to_have_count(1)
    newest.focus()
    alice.keyboard.press("ArrowUp")
    focused = alice.evaluate("document.activeElement.textContent")
    assert "second try" in focused
    # Its actions (reply, react, copy link, edit, delete), then the composer's toolbar and box.
    actions = alice.locator("li.msg:focus .msg-actions button:visible")
    expect(actions).to_have_count(5)
    stops = 0
    while alice.evaluate("document.activeElement.id") != "composer-box":
        alice.keyboard.press("Tab")
        stops += 1
        assert stops <= 7, "Tab should reach the composer after one message's actions"
    # Copy link puts the permalink on the clipboard.
    alice.context.grant_permissions(["clipboard-read", "clipboard-write"])
    second = alice.locator(".msg", has_text="second try")
    second.hover()
    second.locator(".msg-actions button", has_text="Copy link").click()
    expect(alice.locator(".chat-toast")).to_have_text("Link copied.")
    copied = alice.evaluate("navigator.clipboard.readText()")
    assert re.search(rf"/chat/t/{re.escape(thread)}/m/\d+/$", copied)
    clean(alice)
    clean(bob)


def test_new_messages_line_and_button(browser, site, acs_emulator):
    seeded, thread = new_thread(site)
    alice_user, bob_user = seeded.users["alice"], seeded.users["bob"]
    acs_thread(acs_emulator, alice_user, thread).send_message("I wrote this before")
    bob_acs = acs_thread(acs_emulator, bob_user, thread)
    for n in range(40):
        bob_acs.send_message(f"unread {n:02d}")
    alice = open_thread(browser, site, alice_user, thread)
    line = alice.locator(".chat-unread-line")
    expect(line).to_have_text("New messages")
    # Right above bob's first message after alice's own, and that is what she sees first.
    assert line.evaluate("e => e.nextElementSibling.textContent").find("unread 00") >= 0
    expect(line).to_be_in_viewport()
    expect(alice.locator(".msg", has_text="unread 39")).not_to_be_in_viewport()

    # Scrolled up, a new message gives a cue instead of moving the page.
    bob_acs.send_message("one more")
    jump = alice.locator("[data-jump]")
    expect(jump).to_have_text("1 new message")
    jump.click()
    expect(jump).to_be_hidden()
    expect(alice.locator(".msg", has_text="one more")).to_be_in_viewport()
    clean(alice)


def test_a_message_sent_offline_is_kept_across_a_reload_and_delivered_once(
    browser, site, acs_emulator
):
    seeded, thread = new_thread(site)
    server = site.servers[0]
    alice = open_thread(browser, site, seeded.users["alice"], thread)
    status = alice.locator("[data-status]")
    expect(status).to_have_text("Connected")

    server.stop()
    expect(alice.locator("[data-status=reconnecting], [data-status=offline]")).to_be_attached()
    type_message(alice, "written while offline")
    alice.keyboard.press("Enter")  # never a form post: the page stays
    waiting = alice.locator(".msg--pending", has_text="written while offline")
    expect(waiting).to_have_attribute("data-state", "waiting")
    expect(waiting.locator(".msg__state")).to_have_text("Waiting for the connection…")
    # Sent straight to ACS while the site is down: the page catches up from its cursor.
    acs_thread(acs_emulator, seeded.users["bob"], thread).send_message("while you were away")
    with pytest.raises(Exception, match="ERR_CONNECTION_REFUSED"):
        alice.reload()  # the browser cannot reach the site; the message is kept in it
    server.start()
    alice.goto(f"{server.url}/chat/t/{thread}/")
    expect(alice.locator("[data-status=connected]")).to_be_attached(timeout=CONNECTED)
    sent = alice.locator(".msg", has_text="written while offline")
    expect(sent).to_have_count(1)
    expect(sent).not_to_have_class(re.compile("msg--pending"))
    expect(alice.locator(".msg", has_text="while you were away")).to_have_count(1)
    bob = open_thread(browser, site, seeded.users["bob"], thread)
    expect(bob.locator(".msg", has_text="written while offline")).to_have_count(1)
    alice.reload()
    expect(alice.locator(".msg", has_text="written while offline")).to_have_count(1)
    assert texts_in_acs(acs_emulator, seeded.users["alice"], thread, "written while offline") == 1
    clean(bob)


def test_a_message_sent_straight_to_acs_appears_within_two_seconds(browser, site, acs_emulator):
    seeded, thread = new_thread(site)
    alice = open_thread(browser, site, seeded.users["alice"], thread)
    acs_thread(acs_emulator, seeded.users["bob"], thread).send_message(
        "<img src=x onerror=\"window.__xss='live'\">hi"
    )
    # Shown within 2 s of the send (the relay polls every second), and inert.
    expect(alice.locator(".msg", has_text="onerror")).to_be_visible(timeout=2_000)
    clean(alice)


def test_over_long_input_is_refused_with_a_count_and_nothing_is_cut(browser, site, acs_emulator):
    seeded, thread = new_thread(site)
    alice = open_thread(browser, site, seeded.users["alice"], thread)
    paste(alice, text="x" * 30000)
    count = alice.locator("[data-count]")
    expect(count).to_have_text(re.compile(r"30,000 / 8,000 · Too long by 22,000\."))
    alice.keyboard.press("Enter")
    expect(alice.locator(".chat-composer__error")).to_have_text("Too long by 22,000.")
    assert alice.locator(".msg--pending").count() == 0
    assert len(alice.evaluate("document.getElementById('composer-box').innerText")) == 30000
    assert texts_in_acs(acs_emulator, seeded.users["alice"], thread, "xxxxxxxxxx") == 0


def test_removal_and_deletion_reach_open_pages(browser, site):
    seeded, thread = new_thread(site, ("alice", "bob", "carol"))
    users = seeded.users
    alice_settings = site_page(
        browser, site.servers[0], users["alice"].session, f"/chat/t/{thread}/people/"
    )
    bob = open_thread(browser, site, users["bob"], thread)
    carol = open_thread(browser, site, users["carol"], thread)
    bob_settings = site_page(
        browser, site.servers[0], users["bob"].session, f"/chat/t/{thread}/people/"
    )
    expect(carol.locator("[data-people]")).to_have_text("alice, bob")
    with alice_settings.expect_navigation():
        alice_settings.locator("[data-participant=bob] button", has_text="Remove").click()
    # Bob's conversation says so, sends nothing more, and its settings link is gone.
    expect(bob.locator("[data-ended]")).to_contain_text(
        "You no longer have access to this conversation."
    )
    expect(bob.locator("[data-settings-link]")).to_have_attribute("aria-disabled", "true")
    expect(bob.locator("#composer-box")).to_have_attribute("aria-disabled", "true")
    expect(bob_settings.locator("[data-ended]")).to_contain_text("You no longer have access")
    # Carol's header follows.
    expect(carol.locator("[data-people]")).to_have_text("alice")
    # Reloading shows Kwebbel's own page, not a technical one.
    bob.reload()
    expect(bob.locator("[data-gone=no-access] h1")).to_have_text("You are not in this conversation")

    alice_settings.click("text=Delete conversation")
    with alice_settings.expect_navigation():
        alice_settings.click("button:has-text('Delete')")
    expect(carol.locator("[data-ended]")).to_contain_text("This conversation was deleted.")
    expect(carol.locator("[data-ended] button")).to_have_count(0)  # no Retry: nothing to retry
    carol.reload()
    expect(carol.locator("[data-gone=deleted] h1")).to_have_text("This conversation was deleted")
    clean(carol)


def test_screenshots_and_accessibility_of_a_conversation(browser, site, acs_emulator):
    seeded, thread = new_thread(site)
    alice = open_thread(browser, site, seeded.users["alice"], thread)
    bob = open_thread(browser, site, seeded.users["bob"], thread)
    bob_acs = acs_thread(acs_emulator, seeded.users["bob"], thread)
    bob_acs.send_message("Are we still on for Friday?")
    bob_acs.send_message(
        "I can bring the <b>slides</b> and a <i>projector</i>.", chat_message_type="html"
    )
    expect(alice.locator(".msg", has_text="projector")).to_be_visible()
    for text in ("Yes! 10:00 in the big room.", "I'll book it now."):
        type_message(alice, text)
        alice.keyboard.press("Enter")
    expect(alice.locator(".msg--mine .msg__seen")).to_have_text("Seen by bob", timeout=10_000)
    assert axe_violations(alice) == []
    for label, viewport in (("desktop", DESKTOP), ("phone", PHONE)):
        alice.set_viewport_size(viewport)
        type_message(bob, "typing")
        expect(alice.locator("[data-typing]")).to_have_text("bob is typing…")
        composer = alice.locator("[data-composer]")
        expect(composer).to_be_in_viewport(ratio=1)
        screenshot(alice, f"thread-{label}")
        bob.keyboard.press("Control+a")
        bob.keyboard.press("Backspace")
    clean(alice)


def test_signing_out_in_another_tab_leaves_the_page_saying_so_and_sending_nothing(browser, site):
    seeded, thread = new_thread(site)
    alice = open_thread(browser, site, seeded.users["alice"], thread)
    other_tab = watch_page(alice.context.new_page())
    other_tab.goto(f"{site.servers[0].url}/chat/")
    other_tab.locator("[data-sign-out] button").click()
    expect(other_tab.locator("[data-testid=signed-in-as]")).to_have_count(0)
    note = alice.locator("[data-signed-out]")
    expect(note).to_be_visible(timeout=CONNECTED)
    expect(note.get_by_role("link", name="Sign in")).to_be_visible()
    # The header no longer claims a signed-in user; nothing can be written or attached.
    expect(alice.locator("[data-testid=signed-in-as]")).to_be_hidden()
    expect(alice.locator("[data-sign-out]")).to_be_hidden()
    expect(alice.locator("#composer-box")).to_have_attribute("contenteditable", "false")
    expect(alice.locator("#composer-files")).to_be_disabled()
    clean(alice)
