"""Sending, showing, editing, deleting, permalinks, paging, receipts and typing."""

from __future__ import annotations

import pytest
from django.urls import reverse

from chat.actions.messages import MESSAGES_PER_PAGE
from chat.people import raw_id_of
from tests.chat.helpers import create_thread, page, send
from tests.fixtures.outside import sdk_thread

pytestmark = pytest.mark.django_db


@pytest.fixture
def pair(make_site_user, signed_in):
    """alice and bob in one thread: (alice client, bob client, thread id, alice, bob)."""
    alice = make_site_user("alice", first_name="Alice")
    bob = make_site_user("bob", first_name="Bob")
    a, b = signed_in(alice), signed_in(bob)
    thread_id = create_thread(a, "Chat", {bob: "all"})
    return a, b, thread_id, alice, bob


def stored_content(thread_id: str, message_id: str) -> str:
    """What ACS holds for a message, read as Kwebbel's service identity."""
    return sdk_thread(None, thread_id).get_message(message_id).content.message


def test_text_message_is_escaped_with_sender_name(pair):
    a, b, thread_id, *_ = pair
    send(a, thread_id, "<script>alert(1)</script>\nline two")
    body = page(b, thread_id)
    assert "&lt;script&gt;alert(1)&lt;/script&gt;<br>line two" in body
    assert "<script>alert(1)" not in body
    assert '<span class="msg__sender" dir="auto">Alice</span>' in body
    # The body says which way its text runs (Arabic and Hebrew read right to left).
    assert '<div class="msg__body" dir="auto"><p>&lt;script&gt;' in body


def test_html_is_sanitised_before_send_and_before_show(pair):
    a, b, thread_id, *_ = pair
    message_id = send(
        a,
        thread_id,
        '<b onclick="x()">bold</b><script>alert(1)</script><img src=x onerror=y>',
        "html",
    )
    assert stored_content(thread_id, message_id) == "<b>bold</b>"
    # Someone sending straight to ACS (not through Kwebbel) is cleaned when shown.
    raw = sdk_thread(pair[4], thread_id).send_message(
        '<a href="javascript:alert(2)">x</a><i>ok</i>', chat_message_type="html"
    )
    body = page(b, thread_id)
    assert '<div class="msg__body" dir="auto"><b>bold</b></div>' in body
    assert "javascript:alert(2)" not in body
    assert "<i>ok</i>" in body
    assert f'id="m-{raw.id}"' in body


def test_html_with_nothing_visible_is_refused(pair):
    a, _, thread_id, *_ = pair
    response = a.post(
        reverse("chat:thread", args=[thread_id]),
        {"content": "<script>alert(1)</script>", "format": "html"},
    )
    assert response.status_code == 400
    assert "empty once unsupported HTML is removed" in response.content.decode()


def test_sender_display_name_from_acs_is_not_trusted(pair):
    _, b, thread_id, alice, _ = pair
    sdk_thread(alice, thread_id).send_message(
        "hello", sender_display_name="<img src=x onerror=alert(1)>Mallory"
    )
    body = page(b, thread_id)
    assert "Mallory" not in body
    assert '<span class="msg__sender" dir="auto">Alice</span>' in body


def test_edit_own_message_shows_edited_marker(pair):
    a, b, thread_id, *_ = pair
    message_id = send(a, thread_id, "tpyo")
    edit_url = reverse("chat:edit", args=[thread_id, message_id])
    assert "tpyo" in a.get(edit_url).content.decode()
    assert a.post(edit_url, {"content": "typo fixed"}).status_code == 302
    body = page(b, thread_id)
    assert "typo fixed" in body and "tpyo" not in body
    assert '<span class="msg__flag">edited</span>' in body


def test_cannot_edit_or_delete_someone_elses_message(pair):
    a, b, thread_id, *_ = pair
    message_id = send(a, thread_id, "mine")
    assert b.get(reverse("chat:edit", args=[thread_id, message_id])).status_code == 403
    assert (
        b.post(reverse("chat:edit", args=[thread_id, message_id]), {"content": "x"}).status_code
        == 403
    )
    assert b.post(reverse("chat:delete_message", args=[thread_id, message_id])).status_code == 403
    assert stored_content(thread_id, message_id) == "mine"


def test_delete_own_message_leaves_a_marker(pair):
    a, b, thread_id, *_ = pair
    message_id = send(a, thread_id, "regret")
    assert a.post(reverse("chat:delete_message", args=[thread_id, message_id])).status_code == 302
    body = page(b, thread_id)
    assert "regret" not in body
    assert "This message was deleted." in body
    assert a.get(reverse("chat:edit", args=[thread_id, message_id])).status_code == 400


def test_permalink_shows_one_message(pair):
    a, b, thread_id, *_ = pair
    send(a, thread_id, "first")
    message_id = send(a, thread_id, "the one")
    response = b.get(reverse("chat:message", args=[thread_id, message_id]))
    body = response.content.decode()
    assert response.status_code == 200
    assert "the one" in body and "first" not in body
    data = b.get(reverse("chat:message", args=[thread_id, message_id]), {"format": "json"}).json()
    assert data["message"]["id"] == message_id
    assert data["message"]["html"] == "<p>the one</p>"
    assert b.get(reverse("chat:message", args=[thread_id, "999"])).status_code == 404
    assert b.get(reverse("chat:message", args=[thread_id, "abc"])).status_code == 404


def test_load_older_pages_back_through_history(pair):
    a, b, thread_id, alice, _ = pair
    client = sdk_thread(alice, thread_id)
    for n in range(MESSAGES_PER_PAGE + 5):
        client.send_message(f"message number {n:03d}")
    # Alice wrote them all, so she has seen them: her page opens with one page of history.
    newest = a.get(reverse("chat:thread", args=[thread_id]))
    body = newest.content.decode()
    assert "message number 034" in body and "message number 004" not in body
    # The newest message is at the bottom.
    assert body.index("message number 033") < body.index("message number 034")
    cursor = newest.context["older_cursor"]
    assert cursor
    older = page(a, thread_id, cursor=cursor)
    assert "message number 004" in older and "message number 034" not in older
    assert "alice changed the topic to" in older.lower()


def test_system_messages_in_words(pair, make_site_user, signed_in):
    a, b, thread_id, alice, bob = pair
    carol = make_site_user("carol", first_name="Carol")
    a.post(
        reverse("chat:participants", args=[thread_id]),
        {f"people-pick_{carol.pk}": "on", f"people-history_{carol.pk}": "all"},
    )
    b.post(reverse("chat:leave", args=[thread_id]))
    body = page(a, thread_id)
    assert "Alice added Bob" in body
    assert "Alice added Carol" in body
    assert "Bob left" in body
    assert "Alice changed the topic to “Chat”" in body


def live_config(client, thread_id: str) -> dict:
    response = client.get(reverse("chat:thread", args=[thread_id]))
    return response.context["live"]


def test_seen_by_names_who_read_up_to_a_message(pair):
    a, b, thread_id, alice, bob = pair
    message_id = send(a, thread_id, "did you see this?")
    # Opening the page is not reading it: no receipt is sent by a GET.
    page(b, thread_id)
    assert live_config(a, thread_id)["receipts"] == []
    sdk_thread(bob, thread_id).send_read_receipt(message_id)  # as bob's page does when it sees it
    # The page puts "Seen by Bob" under that message (tests/browser/test_thread_live.py).
    assert live_config(a, thread_id)["receipts"] == [
        {"reader": raw_id_of(bob), "name": "Bob", "messageId": message_id}
    ]


def test_the_sending_pages_client_id_is_kept_on_the_message(pair):
    a, _, thread_id, alice, _bob = pair
    # Pages send over the websocket with a client id in the metadata (see tests/live).
    message_id = (
        sdk_thread(alice, thread_id)
        .send_message("with id", metadata={"kwebbelClientId": "c-123"})
        .id
    )
    body = page(a, thread_id)
    assert f'id="m-{message_id}" data-message-id="{message_id}"' in body
    assert 'data-client-id="c-123"' in body


def test_empty_and_oversized_messages_are_refused_and_nothing_is_sent(pair, acs_counts):
    a, _, thread_id, *_ = pair
    url = reverse("chat:thread", args=[thread_id])
    sent = acs_counts()["ChatThread_SendChatMessage"]
    for data, error in [
        ({"content": "   ", "format": "text"}, "The message cannot be empty."),
        ({"content": "x" * 8001, "format": "text"}, "at most 8000 characters"),
        ({"content": "x", "format": "markdown"}, "Select a valid choice."),
        ({"content": "nul \x00", "format": "text"}, "Null characters are not allowed."),
    ]:
        response = a.post(url, data)
        assert response.status_code == 400, data
        assert error in response.content.decode(), (data, error)
    assert acs_counts()["ChatThread_SendChatMessage"] == sent


def test_spaces_between_formatted_words_are_kept_on_the_page(pair):
    a, b, thread_id, *_ = pair
    send(a, thread_id, "<b>Hello</b> <i>World</i> <code>x</code> end", "html")
    assert "<b>Hello</b> <i>World</i> <code>x</code> end" in page(b, thread_id)
