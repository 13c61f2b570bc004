"""Inbox frames: a user's sockets hear of their other threads' changes (chat.relay.inbox)."""

from __future__ import annotations

import pytest
from django.utils import timezone

from chat.actions.participants import do_add_participants, do_remove_participant
from chat.actions.threads import ParticipantChoice, access_thread, do_update_topic
from chat.people import raw_id_of
from tests.live.conftest import run

pytestmark = pytest.mark.django_db(transaction=True)


async def test_a_new_message_reaches_the_inboxes_of_members_not_following_the_thread(
    people, ws, thread
):
    alice = await ws(people.alice)
    await alice.subscribe(thread)
    bob_list = await ws(people.bob)  # e.g. bob's conversation list: follows no thread
    ack = await alice.request(
        {"action": "send", "thread": thread, "request": "1", "content": "<b>lunch</b> at 12?",
         "format": "html"}
    )  # fmt: skip
    frame = await bob_list.next("inbox", kind="message")
    assert frame == {
        "type": "inbox",
        "thread": thread,
        "topic": "Live",
        "at": frame["at"],
        "kind": "message",
        "id": ack["result"]["id"],
        "sender": {"rawId": await run(raw_id_of, people.alice), "name": "Alice"},
        "mine": False,
        "preview": "lunch at 12?",
        "mentionsMe": False,
    }
    # The sender's own socket follows the thread: it gets the event, not an inbox frame.
    await alice.message("message.added", ack["result"]["id"])
    assert [f for f in alice.frames if f["type"] == "inbox"] == []


async def test_being_added_removed_and_renamed_reaches_the_inbox(people, ws, thread):
    carol = await ws(people.carol)
    access = await run(access_thread, people.alice, thread)
    await run(do_add_participants, access, [ParticipantChoice(people.carol, timezone.now())])
    added = await carol.next("inbox", kind="added")
    assert (added["thread"], added["topic"], added["me"]) == (thread, "Live", True)
    await run(do_update_topic, access, "Lunch")
    assert (await carol.next("inbox", kind="topic"))["topic"] == "Lunch"
    await run(do_remove_participant, access, await run(raw_id_of, people.carol))
    removed = await carol.next("inbox", kind="removed")
    assert (removed["me"], removed["topic"]) == (True, "Lunch")


async def test_reading_in_one_tab_tells_the_users_other_tabs(people, ws, thread):
    alice = await ws(people.alice)
    await alice.subscribe(thread)
    message_id = (
        await alice.request({"action": "send", "thread": thread, "request": "1", "content": "hi"})
    )["result"]["id"]
    bob_thread, bob_list = await ws(people.bob), await ws(people.bob)
    await bob_thread.subscribe(thread)
    await bob_thread.request(
        {"action": "read", "thread": thread, "message": message_id, "request": "r"}
    )
    assert (await bob_list.next("inbox", kind="read"))["id"] == message_id
    # Alice is not told of bob's receipt in her inbox; her page has the receipt event.
    assert (await alice.event("receipt"))["data"]["messageId"] == message_id
    assert [f for f in alice.frames if f["type"] == "inbox"] == []


async def test_a_new_conversation_reaches_its_members_inboxes_at_once(people, ws):
    from chat.actions.threads import EPOCH, do_create_thread

    bob_list = await ws(people.bob)
    created = await run(
        do_create_thread, people.alice, "Fresh", [ParticipantChoice(people.bob, EPOCH)], "fresh"
    )
    frame = await bob_list.next("inbox", kind="added")
    assert (frame["thread"], frame["topic"], frame["me"]) == (created.thread_id, "Fresh", True)
