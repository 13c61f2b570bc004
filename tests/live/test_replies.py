"""Replies and mentions: the link in ACS metadata, quotes resolved per viewer (never leaking a
message the viewer cannot see), mentions kept only for participants and told to the mentioned."""

from __future__ import annotations

import pytest
from django.utils import timezone

from chat.actions.participants import do_add_participants
from chat.actions.threads import ParticipantChoice, access_thread
from chat.people import raw_id_of
from chat.replies import REPLY_TO_KEY
from tests.fixtures.outside import sdk_thread
from tests.live.conftest import a_later_second, run, signed_in_client

pytestmark = pytest.mark.django_db(transaction=True)

SECRET = "the secret plan"


async def _send(socket, thread: str, content: str, request: str, **extra) -> dict:
    return await socket.request(
        {"action": "send", "thread": thread, "request": request, "content": content, **extra}
    )


def _page(user, thread: str) -> str:
    return signed_in_client(user).get(f"/chat/t/{thread}/").content.decode()


async def test_a_reply_quotes_its_original_and_keeps_the_link_in_acs_metadata(people, ws, thread):
    alice, bob = await ws(people.alice), await ws(people.bob)
    await alice.subscribe(thread)
    await bob.subscribe(thread)
    original = (await _send(alice, thread, "Pizza tonight? " + "x" * 200, "1"))["result"]["id"]
    ack = await _send(bob, thread, "Yes!", "2", replyTo=original)
    assert ack["ok"], ack
    reply = await alice.message("message.added", ack["result"]["id"])
    quote = reply["data"]["reply"]
    assert (quote["id"], quote["name"]) == (original, "Alice")
    assert quote["text"].startswith("Pizza tonight?") and len(quote["text"]) <= 100
    assert f'data-reply-to="{original}"' in reply["data"]["markup"]
    # Any ACS client sees the link.
    stored = await run(lambda: sdk_thread(people.alice, thread).get_message(ack["result"]["id"]))
    assert stored.metadata[REPLY_TO_KEY] == original
    # The page shows the same quote on load.
    html = await run(_page, people.alice, thread)
    assert 'class="msg__reply"' in html and f'href="/chat/t/{thread}/m/{original}/"' in html


async def test_a_reply_to_a_message_before_the_viewers_history_shows_nothing_of_it(
    people, ws, thread
):
    alice = await ws(people.alice)
    await alice.subscribe(thread)
    old = (await _send(alice, thread, SECRET, "1"))["result"]["id"]
    await alice.message("message.added", old)
    await a_later_second()
    access = await run(access_thread, people.alice, thread)
    await run(do_add_participants, access, [ParticipantChoice(people.carol, timezone.now())])
    carol = await ws(people.carol)
    await carol.subscribe(thread)
    # Carol cannot reply to what she cannot see.
    refused = await _send(carol, thread, "what plan?", "c", replyTo=old)
    assert (refused["ok"], refused["status"]) == (False, 400)
    assert "can only reply" in refused["error"]
    reply_id = (await _send(alice, thread, "as I said", "2", replyTo=old))["result"]["id"]
    frame = await carol.message("message.added", reply_id)
    assert frame["data"]["reply"] == {
        "id": old, "permalink": f"/chat/t/{thread}/m/{old}/", "hidden": True
    }  # fmt: skip
    assert SECRET not in str(carol.frames) and "Alice</span> <span" not in frame["data"]["markup"]
    assert "can&#x27;t see" in frame["data"]["markup"] or "can't see" in frame["data"]["markup"]
    # Alice, who sees it, gets the quote in the same event.
    mine = await alice.message("message.added", reply_id)
    assert SECRET in mine["data"]["reply"]["text"]
    # The page: the same.
    html = await run(_page, people.carol, thread)
    assert SECRET not in html and "msg__reply--hidden" in html


async def test_a_reply_to_a_deleted_or_unknown_message_shows_nothing_of_it(people, ws, thread):
    alice, bob = await ws(people.alice), await ws(people.bob)
    await alice.subscribe(thread)
    await bob.subscribe(thread)
    original = (await _send(alice, thread, SECRET, "1"))["result"]["id"]
    reply_id = (await _send(bob, thread, "noted", "2", replyTo=original))["result"]["id"]
    first = await bob.message("message.added", reply_id)
    assert SECRET in first["data"]["reply"]["text"]  # resolved (and cached) before the deletion
    delete = {"action": "delete", "thread": thread, "request": "3", "message": original}
    assert (await alice.request(delete))["ok"]
    await bob.message("message.deleted", original)
    html = await run(_page, people.bob, thread)
    assert SECRET not in html and "msg__reply--hidden" in html
    # Replies from other ACS clients, to the deleted message and to one that never existed.
    client = await run(sdk_thread, people.alice, thread)
    for target in (original, "1700000000000"):
        sent = await run(
            lambda t=target: client.send_message("outside", metadata={REPLY_TO_KEY: t}).id
        )
        frame = await bob.message("message.added", sent)
        assert frame["data"]["reply"]["hidden"] is True
        assert SECRET not in str(frame)
    # Kwebbel itself refuses such replies, and a malformed id, with a clear error.
    for target in (original, "1700000000000", "../x", ""):
        ack = await _send(bob, thread, "again", f"r{target}", replyTo=target or None)
        if target == "":
            assert ack["ok"]  # no reply at all
            continue
        assert (ack["ok"], ack["status"]) == (False, 400), ack
        assert "can only reply" in ack["error"]
    bad = await _send(bob, thread, "x", "r-type", replyTo=12)
    assert (bad["ok"], bad["status"]) == (False, 400)


async def test_the_no_script_form_sends_a_reply(people, ws, thread):
    alice = await ws(people.alice)
    await alice.subscribe(thread)
    original = (await _send(alice, thread, "form original", "1"))["result"]["id"]
    client = await run(signed_in_client, people.bob)
    detail = await run(client.get, f"/chat/t/{thread}/m/{original}/")
    assert 'name="reply_to"' in detail.content.decode()
    sent = await run(
        client.post, f"/chat/t/{thread}/", {"content": "by form", "reply_to": original}
    )
    assert sent.status_code == 302
    reply_id = sent["Location"].split("#m-")[1]
    frame = await alice.message("message.added", reply_id)
    assert frame["data"]["reply"]["text"] == "form original"
    refused = await run(client.post, f"/chat/t/{thread}/", {"content": "x", "reply_to": "99"})
    assert refused.status_code == 400 and "can only reply" in refused.content.decode()
    malformed = await run(client.post, f"/chat/t/{thread}/", {"content": "x", "reply_to": "9x"})
    assert malformed.status_code == 400 and "Enter a valid value." in malformed.content.decode()


async def test_a_mention_reaches_the_mentioned_and_not_the_others(people, ws, thread):
    access = await run(access_thread, people.alice, thread)
    await run(do_add_participants, access, [ParticipantChoice(people.carol, timezone.now())])
    dave = await run(
        lambda: type(people.alice).objects.create_user("dave", password="x", first_name="Dave")
    )
    bob_raw, dave_raw = await run(raw_id_of, people.bob), await run(raw_id_of, dave)
    alice = await ws(people.alice)
    await alice.subscribe(thread)
    bob_list, carol_list = await ws(people.bob), await ws(people.carol)
    content = (
        f'Hi <span data-mention="{bob_raw}">@Bob</span> and '
        f'<span data-mention="{dave_raw}">@Dave</span> <b>now</b> &amp; then&nbsp;'
    )
    ack = await _send(alice, thread, content, "1", format="html")
    assert ack["ok"], ack
    to_bob = await bob_list.next("inbox", kind="message", id=ack["result"]["id"])
    to_carol = await carol_list.next("inbox", kind="message", id=ack["result"]["id"])
    assert (to_bob["mentionsMe"], to_carol["mentionsMe"]) == (True, False)
    assert to_bob["preview"] == "Hi @Bob and @Dave now & then"  # plain text, not HTML
    event = await alice.message("message.added", ack["result"]["id"])
    # Dave is not in the thread: his mention is plain text now.
    assert event["data"]["mentions"] == [bob_raw]
    assert f'data-mention="{bob_raw}"' in event["data"]["html"]
    assert dave_raw not in event["data"]["html"] and "@Dave" in event["data"]["html"]
    stored = await run(lambda: sdk_thread(people.bob, thread).get_message(ack["result"]["id"]))
    assert dave_raw not in stored.content.message
