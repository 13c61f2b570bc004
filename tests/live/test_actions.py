"""Every websocket action, done with the user's own token and acknowledged with its result."""

from __future__ import annotations

import uuid

import pytest

from chat.actions.messages import CLIENT_ID_KEY
from chat.models import SentMessage
from tests.fixtures.outside import sdk_thread
from tests.live.conftest import run

pytestmark = pytest.mark.django_db(transaction=True)


def send_frame(thread: str, content: str, fmt: str = "text", **extra) -> dict:
    return {
        "action": "send",
        "thread": thread,
        "request": str(uuid.uuid4()),
        "content": content,
        "format": fmt,
        **extra,
    }


def messages_with(user, thread: str, client_id: str) -> list:
    client = sdk_thread(user, thread)
    return [m for m in client.list_messages() if (m.metadata or {}).get(CLIENT_ID_KEY) == client_id]


async def test_send_text_and_html_are_acknowledged_and_pushed_to_everyone(people, ws, thread):
    alice, bob = await ws(people.alice), await ws(people.bob)
    await alice.subscribe(thread)
    await bob.subscribe(thread)

    ack = await alice.request(send_frame(thread, "<script>x()</script> hi\nthere"))
    assert ack["ok"] is True and ack["result"]["id"].isdigit()
    mine = await alice.message("message.added", ack["result"]["id"])
    theirs = await bob.message("message.added", ack["result"]["id"])
    assert mine["data"]["id"] == theirs["data"]["id"] == ack["result"]["id"]
    assert mine["cursor"] == theirs["cursor"]
    assert mine["data"]["mine"] is True and "editUrl" in mine["data"]
    assert theirs["data"]["mine"] is False and "editUrl" not in theirs["data"]
    assert theirs["data"]["sender"]["name"] == "Alice"
    assert theirs["data"]["html"] == "<p>&lt;script&gt;x()&lt;/script&gt; hi<br>there</p>"

    ack = await alice.request(
        send_frame(
            thread, '<b>bold</b><img src=x onerror="x()"><a href="javascript:x()">l</a>', "html"
        )
    )
    assert ack["ok"]
    html = (await bob.message("message.added", ack["result"]["id"]))["data"]["html"]
    assert "<b>bold</b>" in html
    assert "onerror" not in html and "javascript" not in html and "<img" not in html


async def test_edit_and_delete_own_messages_only(people, ws, thread):
    alice, bob = await ws(people.alice), await ws(people.bob)
    await alice.subscribe(thread)
    await bob.subscribe(thread)
    message_id = (await alice.request(send_frame(thread, "first")))["result"]["id"]
    await bob.message("message.added", message_id)

    ack = await alice.request(
        {
            "action": "edit",
            "thread": thread,
            "request": "e",
            "message": message_id,
            "content": "1st",
        }
    )
    assert ack == {"type": "ack", "request": "e", "ok": True, "result": {"id": message_id}}
    edited = (await bob.message("message.edited", message_id))["data"]
    assert (edited["id"], edited["html"]) == (message_id, "<p>1st</p>")
    assert edited["editedOn"]

    # Bob may not change Alice's message.
    for frame in (
        {"action": "edit", "thread": thread, "request": "x", "message": message_id, "content": "!"},
        {"action": "delete", "thread": thread, "request": "y", "message": message_id},
    ):
        ack = await bob.request(frame)
        assert (ack["ok"], ack["status"]) == (False, 403)
        assert ack["error"] == "You can only change your own messages."

    ack = await alice.request(
        {"action": "delete", "thread": thread, "request": "d", "message": message_id}
    )
    assert ack["ok"]
    deleted = (await bob.message("message.deleted", message_id))["data"]
    assert deleted["id"] == message_id and deleted["deletedOn"] and deleted["html"] == ""
    # A deleted message can no longer be edited.
    ack = await alice.request(
        {"action": "edit", "thread": thread, "request": "z", "message": message_id, "content": "x"}
    )
    assert (ack["ok"], ack["status"]) == (False, 400)


async def test_typing_reaches_the_others_with_a_name(people, ws, thread):
    alice, bob = await ws(people.alice), await ws(people.bob)
    await alice.subscribe(thread)
    await bob.subscribe(thread)
    ack = await alice.request({"action": "typing", "thread": thread, "request": "t"})
    assert ack["ok"] and ack["result"] == {"sent": True}
    typing = await bob.next("typing")
    assert typing == {"type": "typing", "thread": thread, "user": typing["user"], "name": "Alice"}
    assert typing["user"].startswith("8:acs:")
    assert [f for f in await alice.drain(0.5) if f["type"] == "typing"] == []  # not echoed
    # A second notification right away is dropped before it reaches ACS's limit.
    ack = await alice.request({"action": "typing", "thread": thread, "request": "t2"})
    assert ack["result"] == {"sent": False}


async def test_read_receipts_reach_the_others(people, ws, thread, acs_counts):
    alice, bob = await ws(people.alice), await ws(people.bob)
    await alice.subscribe(thread)
    await bob.subscribe(thread)
    message_id = (await alice.request(send_frame(thread, "read me")))["result"]["id"]
    await bob.message("message.added", message_id)
    ack = await bob.request(
        {"action": "read", "thread": thread, "request": "r", "message": message_id}
    )
    assert ack["ok"]
    receipt = (await alice.event("receipt"))["data"]
    assert receipt["name"] == "Bob" and receipt["messageId"] == message_id
    assert receipt["me"] is False
    assert acs_counts()["ChatThread_SendChatReadReceipt"] >= 1


async def test_the_same_client_id_twice_sends_one_message(people, ws, thread):
    alice = await ws(people.alice)
    await alice.subscribe(thread)
    client_id = str(uuid.uuid4())
    first = await alice.request(send_frame(thread, "once", clientId=client_id))
    again = await alice.request(send_frame(thread, "once", clientId=client_id))
    assert first["ok"] and again["ok"]
    assert first["result"]["id"] == again["result"]["id"]
    added = await alice.message("message.added", first["result"]["id"])
    assert added["data"]["clientId"] == client_id
    assert len(await run(messages_with, people.alice, thread, client_id)) == 1
    await alice.drain(1.0)
    ids = [f["data"]["id"] for f in alice.events() if f["kind"] == "message.added"]
    assert ids.count(first["result"]["id"]) == 1  # no second event either


async def test_a_retry_after_a_lost_answer_finds_the_message_instead_of_sending_again(
    people, ws, thread
):
    """The first attempt reached ACS but its answer was lost: only the reservation is left."""
    client_id = str(uuid.uuid4())

    def first_attempt() -> str:
        SentMessage.objects.create(user=people.alice, client_id=client_id, chat_thread_id=thread)
        sent = sdk_thread(people.alice, thread).send_message(
            "lost answer", metadata={CLIENT_ID_KEY: client_id}
        )
        return sent.id

    created = await run(first_attempt)
    alice = await ws(people.alice)
    ack = await alice.request(send_frame(thread, "lost answer", clientId=client_id))
    assert ack["ok"] and ack["result"]["id"] == created
    assert len(await run(messages_with, people.alice, thread, client_id)) == 1
    reservation = await run(SentMessage.objects.get, user=people.alice, client_id=client_id)
    assert reservation.message_id == created


async def test_a_client_id_is_bound_to_one_thread(people, ws, thread):
    from chat.actions.threads import EPOCH, ParticipantChoice, do_create_thread

    other = (
        await run(
            do_create_thread, people.alice, "Other", [ParticipantChoice(people.bob, EPOCH)], "o"
        )
    ).thread_id
    alice = await ws(people.alice)
    client_id = str(uuid.uuid4())
    assert (await alice.request(send_frame(thread, "here", clientId=client_id)))["ok"]
    ack = await alice.request(send_frame(other, "there", clientId=client_id))
    assert (ack["ok"], ack["status"], ack["error"]) == (False, 400, "Invalid client id.")
    assert await run(messages_with, people.alice, other, client_id) == []
