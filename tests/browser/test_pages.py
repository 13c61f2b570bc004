"""The chat pages in real Chromium on pytest-django's live server (no websockets there: these
are the parts that need none): the no-script flow, Kwebbel's own dead-end pages, the profile
and time zones, the settings page, long topics on a phone, "show in the conversation" far back,
loading older messages, and axe-core on the pages."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from playwright.sync_api import expect

from chat.actions.messages import MESSAGES_PER_PAGE
from chat.actions.threads import EPOCH, ParticipantChoice, do_create_thread
from chat.people import raw_id_of
from tests.browser.conftest import DESKTOP, PHONE, axe_violations, screenshot
from tests.fixtures.outside import sdk_thread

pytestmark = pytest.mark.browser

# Each payload sets a flag if it ever runs; the flag must stay unset on every page.
SCRIPT_TEXT = "<script>window.__xss = 'text'</script>"
SCRIPT_TOPIC = "Plans <img src=x onerror=\"window.__xss = 'topic'\">"
SCRIPT_NAME = "<img src=x onerror=\"window.__xss = 'name'\">"


def assert_no_script_ran(page: Any) -> None:
    if page.context.pages and page.evaluate("true"):
        assert page.evaluate("window.__xss") is None
    assert [d for d in page.dialogs if d[0] != "confirm"] == []
    assert page.csp_violations == []


def thread_with(alice: Any, people: list[Any], topic: str = "Plans") -> str:
    return do_create_thread(
        alice, topic, [ParticipantChoice(p, EPOCH) for p in people], f"t-{topic[:20]}"
    ).thread_id


def test_without_script_the_forms_work_and_dead_ends_are_pages(
    sign_in: Any, make_site_user: Any, live_server: Any
) -> None:
    alice = make_site_user("alice", first_name="Alice")
    bob = make_site_user("bob", first_name="Bob", last_name=SCRIPT_NAME)
    a = sign_in(alice, javascript=False)
    b = sign_in(bob, javascript=False)
    a.goto(f"{live_server.url}/chat/")
    a.click("text=Start a new conversation")
    a.fill("input[name=topic]", SCRIPT_TOPIC)
    a.check(f"input[name=people-pick_{bob.pk}]")
    a.select_option(f"select[name=people-history_{bob.pk}]", "all")
    a.click("button:has-text('Create')")
    a.wait_for_url("**/chat/t/**")
    thread_url = a.url.split("#")[0]
    expect(a.locator("h1 [data-topic]")).to_have_text(SCRIPT_TOPIC)
    # The composer posts plain text; the page shows it escaped.
    a.fill("textarea[name=content]", SCRIPT_TEXT)
    with a.expect_navigation():
        a.click("button:has-text('Send')")
    b.goto(thread_url)
    expect(b.locator(".msg", has_text=SCRIPT_TEXT)).to_be_visible()
    expect(b.locator(".msg__sender", has_text="Alice")).to_be_visible()
    # The permalink page offers editing and deleting without script.
    message_url = (
        a.locator(".msg", has_text=SCRIPT_TEXT).locator("a.msg__time").get_attribute("href")
    )
    a.goto(live_server.url + message_url)
    a.click("text=Edit")
    a.fill("textarea[name=content]", "edited without script")
    a.click("button:has-text('Save')")
    expect(a.locator(".msg", has_text="edited without script").locator(".msg__flag")).to_have_text(
        "edited"
    )

    # Removed: Kwebbel's own page, saying so, with a way back.
    a.goto(thread_url + "people/")
    with a.expect_navigation():
        a.locator(".chat-people__row", has_text="Bob").locator("button", has_text="Remove").click()
    response = b.goto(thread_url)
    assert response.status == 404
    expect(b.locator("h1")).to_have_text("You are not in this conversation")
    expect(b.locator("a", has_text="Back to your conversations")).to_be_visible()
    b.goto(thread_url + "people/")
    expect(b.locator("[data-gone=no-access]")).to_be_visible()
    # An old permalink: the message is gone, the conversation is still there.
    a.goto(live_server.url + message_url.replace("/m/", "/m/1"))
    expect(a.locator("[data-gone=missing] h1")).to_have_text("There is nothing here")
    expect(a.locator("[data-gone=missing]")).to_contain_text("No such message.")
    expect(a.locator("a", has_text="Open the conversation")).to_be_visible()
    # Deleted: said as much.
    a.goto(thread_url + "delete/")
    with a.expect_navigation():
        a.click("button:has-text('Delete')")
    a.goto(thread_url)
    expect(a.locator("h1")).to_have_text("This conversation was deleted")
    # A page that does not exist at all, and the favicon.
    a.goto(f"{live_server.url}/chat/t/not-a-thread/")
    expect(a.locator("[data-gone=missing]")).to_be_visible()
    expect(a.locator("a", has_text="Open the conversation")).to_have_count(0)
    assert a.locator("link[rel=icon]").get_attribute("href").endswith("favicon.svg")
    icon = a.request.get(f"{live_server.url}/favicon.ico")
    assert icon.ok and icon.headers["content-type"].startswith("image/svg")
    for page in (a, b):
        assert [d for d in page.dialogs if d[0] != "confirm"] == []
        assert page.csp_violations == []


def test_profile_name_and_time_zone(sign_in: Any, make_site_user: Any, live_server: Any) -> None:
    alice = make_site_user("alice")
    bob = make_site_user("bob")  # no full name: shown once in the picker, not "bob bob"
    carol = make_site_user("carol", first_name="Carol")
    thread_id = thread_with(alice, [bob])
    page = sign_in(alice)
    page.goto(f"{live_server.url}/accounts/profile/")
    page.fill("input[name=display_name]", "Alice de Vries")
    page.select_option("select[name=time_zone]", "Asia/Tokyo")
    page.click("button:has-text('Save')")
    expect(page.locator(".messages")).to_have_text("Profile saved.")
    expect(page.locator(".chat-profile__shown strong")).to_have_text("Alice de Vries")
    expect(page.locator(".site-me .avatar")).to_have_text("AV")
    assert axe_violations(page) == []
    for label, viewport in (("desktop", DESKTOP), ("phone", PHONE)):
        page.set_viewport_size(viewport)
        screenshot(page, f"profile-{label}")
    page.set_viewport_size(DESKTOP)

    page.goto(f"{live_server.url}/chat/t/{thread_id}/people/")
    expect(page.locator(".chat-people__name", has_text="Alice de Vries")).to_be_visible()
    bob_row = page.locator(".chat-picker__row", has_text="bob")
    assert page.locator(".chat-picker__row", has_text="Carol").count() == 1
    assert bob_row.count() == 0  # bob is in it already
    carol_row = page.locator(".chat-picker__row", has_text="Carol")
    # The names are on screen at 1280x800 (they were squeezed to nothing beside the choices).
    assert carol_row.locator(".chat-picker__name").bounding_box()["width"] > 30
    expect(page.locator(".chat-picker")).to_contain_text("Dates and times are in Asia/Tokyo.")
    # History "from" a time entered in Tokyo time means that time in Tokyo.
    start = datetime.now(UTC).replace(second=0, microsecond=0)  # within the thread's life
    local = start.astimezone(ZoneInfo("Asia/Tokyo")).strftime("%Y-%m-%dT%H:%M")
    page.check(f"input[name=people-pick_{carol.pk}]")
    page.select_option(f"select[name=people-history_{carol.pk}]", "since")
    page.fill(f"input[name=people-since_{carol.pk}]", local)
    with page.expect_navigation():
        page.click("button:has-text('Add')")
    expect(page.locator(".messages")).to_have_text("Added 1 person.")
    shared = {
        p.identifier.raw_id: p.share_history_time
        for p in sdk_thread(None, thread_id).list_participants()
    }
    assert shared[raw_id_of(carol)] == start
    assert page.csp_violations == []


def test_settings_and_a_long_topic_on_a_phone(sign_in: Any, make_site_user: Any, live_server):
    alice = make_site_user("alice", first_name="Alice")
    bob = make_site_user("bob", first_name="Bob")
    make_site_user("dave", first_name="Dave")
    topic = "A very long topic " + "that goes on and on " * 12
    topic = topic[:250].strip()
    thread_id = thread_with(alice, [bob], topic)
    sdk_thread(bob, thread_id).send_message("hello there")
    page = sign_in(alice, PHONE)
    page.goto(f"{live_server.url}/chat/t/{thread_id}/")
    header = page.locator(".chat-thread-header")
    line = page.evaluate(
        "parseFloat(getComputedStyle(document.querySelector('.chat-thread-header h1')).lineHeight)"
    )
    assert header.bounding_box()["height"] <= 2 * line + 30, "the header takes at most two lines"
    expect(page.locator(".chat-thread-header h1")).to_have_attribute("title", topic)
    expect(page.locator("[data-composer]")).to_be_in_viewport(ratio=1)
    site_header = page.locator(".site-header").bounding_box()["height"]
    assert site_header < 60, "the site's links fold behind the menu button"
    page.click("[data-menu-toggle]")
    expect(page.locator("#site-nav a", has_text="Conversations")).to_be_visible()

    # The settings page shows the whole topic; a topic too long is counted and refused.
    page.goto(f"{live_server.url}/chat/t/{thread_id}/people/")
    expect(page.locator("[data-full-topic]")).to_have_text(topic)
    field = page.locator("input[name=topic]")
    field.fill("x" * 1000)
    expect(page.locator(".chat-count", has_text="1000 / 250")).to_be_visible()
    expect(page.locator("button:has-text('Change topic')")).to_be_disabled()
    assert len(field.input_value()) == 1000  # never cut short
    field.fill("Shorter")
    for label, viewport in (("desktop", DESKTOP), ("phone", PHONE)):
        page.set_viewport_size(viewport)
        screenshot(page, f"settings-{label}")
    assert axe_violations(page) == []
    assert page.csp_violations == []


def test_show_in_the_conversation_far_back(sign_in: Any, make_site_user: Any, live_server):
    alice = make_site_user("alice", first_name="Alice")
    bob = make_site_user("bob", first_name="Bob")
    thread_id = thread_with(alice, [bob])
    client = sdk_thread(bob, thread_id)
    target = client.send_message("the one to find").id
    for n in range(200):
        client.send_message(f"later {n:03d}")
    page = sign_in(alice)
    page.goto(f"{live_server.url}/chat/t/{thread_id}/m/{target}/")
    page.click("text=Show in the conversation")
    found = page.locator(f"#m-{target}")
    expect(found).to_have_class(lambda_class("msg--highlight"))
    expect(found).to_be_in_viewport()
    expect(page.locator(".msg", has_text="later 199")).to_be_attached()
    assert page.csp_violations == []


def test_load_older_puts_the_servers_markup_in_place(sign_in, make_site_user, live_server):
    alice = make_site_user("alice", first_name="Alice")
    bob = make_site_user("bob", first_name="Bob")
    thread_id = thread_with(alice, [bob], "Long story")
    client = sdk_thread(alice, thread_id)
    client.send_message(
        "<b>early</b><img src=x onerror=\"window.__xss = 'older'\">", chat_message_type="html"
    )
    for n in range(MESSAGES_PER_PAGE + 3):
        client.send_message(f"line {n:03d}")
    page = sign_in(alice)
    page.goto(f"{live_server.url}/chat/t/{thread_id}/")
    expect(page.locator(".msg", has_text="line 032")).to_be_visible()
    expect(page.locator(".msg", has_text="line 001")).to_have_count(0)
    page.click("text=Load older messages")
    expect(page.locator(".msg", has_text="line 001")).to_be_visible()
    expect(page.locator(".msg__body b", has_text="early")).to_be_attached()
    expect(page.locator(".msg__system", has_text="Alice added Bob")).to_be_attached()
    expect(page.locator("text=Load older messages")).to_have_count(0)
    # Laid out like the rest: alice's own, grouped under one name.
    older = page.locator(".msg", has_text="line 001")
    assert "msg--mine" in older.get_attribute("class")
    assert "msg--continued" in older.get_attribute("class")
    assert page.evaluate("window.__xss") is None
    assert page.csp_violations == []


def test_staff_page_and_the_list_pass_axe(sign_in, make_site_user, live_server):
    staff = make_site_user("sam", first_name="Sam", is_staff=True)
    bob = make_site_user("bob", first_name="Bob")
    thread_with(staff, [bob], "Moderated")
    page = sign_in(staff)
    page.goto(f"{live_server.url}/chat/staff/")
    expect(page.locator(".chat-staff__thread")).to_have_count(1)
    assert axe_violations(page) == []
    page.goto(f"{live_server.url}/chat/")
    assert axe_violations(page) == []
    assert page.csp_violations == []


def lambda_class(name: str) -> Any:
    import re

    return re.compile(rf"\b{re.escape(name)}\b")
