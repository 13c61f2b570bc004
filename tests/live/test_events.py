"""Every event kind, the per-viewer filter, and the removal cut-off."""

from __future__ import annotations

import asyncio

import pytest
from django.utils import timezone

from chat.actions.participants import do_add_participants, do_remove_participant
from chat.actions.threads import ParticipantChoice, access_thread, do_update_topic
from chat.people import raw_id_of
from tests.fixtures.outside import identifier, sdk_thread
from tests.live.conftest import a_later_second, run
from tests.relay.conftest import wait_for as wait_until

pytestmark = pytest.mark.django_db(transaction=True)


def straight_to_acs(user, thread: str, content: str) -> str:
    """Send with the SDK and the user's own token, bypassing Kwebbel entirely."""
    return sdk_thread(user, thread).send_message(content).id


async def test_messages_sent_straight_to_acs_arrive_through_the_poller(people, ws, thread):
    bob = await ws(people.bob)
    await bob.subscribe(thread)
    message_id = await run(straight_to_acs, people.alice, thread, "from a script")
    event = await bob.message("message.added", message_id)
    assert event["data"]["html"] == "<p>from a script</p>"
    # An edit and a deletion made straight in ACS arrive too.
    client = await run(sdk_thread, people.alice, thread)
    await run(client.update_message, message_id, content="edited by script")
    edited = await bob.message("message.edited", message_id)
    assert edited["data"]["html"] == "<p>edited by script</p>"
    await run(client.delete_message, message_id)
    await bob.message("message.deleted", message_id)
    cursors = [f["cursor"] for f in bob.events()]
    assert cursors == sorted(set(cursors))


async def test_topic_and_participant_changes_are_pushed(people, ws, thread):
    bob = await ws(people.bob)
    await bob.subscribe(thread)

    access = await run(access_thread, people.alice, thread)
    await run(do_update_topic, access, "Renamed")
    assert (await bob.event("topic.changed"))["data"] == {"topic": "Renamed"}

    await run(do_add_participants, access, [ParticipantChoice(people.carol, timezone.now())])
    added = (await bob.event("participants.added"))["data"]["participants"]
    carol_id = await run(raw_id_of, people.carol)
    assert added == [{"rawId": carol_id, "name": "Carol", "me": False}]

    await run(do_remove_participant, access, carol_id)
    removed = (await bob.event("participants.removed"))["data"]["participants"]
    assert removed == [{"rawId": carol_id, "name": "Carol", "me": False}]
    # The system messages ACS wrote about these changes come through the poller, in words.
    texts: set[str] = set()
    while (
        not {"Alice changed the topic to “Renamed”", "Alice added Carol", "Alice removed Carol"}
        <= texts
    ):
        texts.add((await bob.event("message.added"))["data"]["html"])


async def test_a_viewer_added_with_history_from_t_never_gets_older_messages(people, ws, thread):
    alice = await ws(people.alice)
    await alice.subscribe(thread)
    before = (
        await alice.request(
            {"action": "send", "thread": thread, "request": "1", "content": "before carol"}
        )
    )["result"]["id"]
    await alice.message("message.added", before)
    # ACS reports times to the second: T must fall in a later second than the old message.
    await a_later_second()
    access = await run(access_thread, people.alice, thread)
    cursor_before_carol = (await alice.subscribe(thread))["cursor"]
    await run(do_add_participants, access, [ParticipantChoice(people.carol, timezone.now())])

    carol = await ws(people.carol)
    # Even asking for everything from before she joined replays nothing from before T.
    await carol.subscribe(thread, cursor=0)
    # An edit and a deletion of the old message after she joined are not hers to see either.
    await alice.request(
        {"action": "edit", "thread": thread, "request": "2", "message": before, "content": "old!"}
    )
    await alice.request({"action": "delete", "thread": thread, "request": "3", "message": before})
    after = (
        await alice.request(
            {"action": "send", "thread": thread, "request": "4", "content": "after carol"}
        )
    )["result"]["id"]
    await carol.message("message.added", after)
    seen_ids = {f["data"].get("id") for f in carol.events()}
    assert before not in seen_ids
    assert all("before carol" not in str(f) and "old!" not in str(f) for f in carol.frames)
    assert cursor_before_carol >= 1


async def test_a_participant_removed_through_kwebbel_gets_removed_and_nothing_after(
    people, ws, thread
):
    bob = await ws(people.bob)
    await bob.subscribe(thread)
    access = await run(access_thread, people.alice, thread)
    await run(do_remove_participant, access, await run(raw_id_of, people.bob))
    assert await bob.next("removed") == {"type": "removed", "thread": thread}
    await run(straight_to_acs, people.alice, thread, "after bob left")
    await run(do_update_topic, access, "Without Bob")
    await bob.nothing(1.5)
    assert all("after bob left" not in str(f) for f in bob.frames)


async def test_a_removal_before_the_pollers_first_read_still_cuts_the_viewer_off(
    people, ws, thread, monkeypatch
):
    """The membership is recorded as the page subscribes, so a removal made straight through
    ACS before the thread's poller first read the thread is still applied when it is."""
    from chat import gateway
    from chat.relay import observe, relay

    class IdlePoller:  # holds the thread's lock but never reads ACS
        def __init__(self, thread_id: str) -> None:
            self.thread_id = thread_id

        async def run(self) -> None:
            await asyncio.Event().wait()

    idle = relay.Relay(poller_factory=IdlePoller)
    monkeypatch.setattr(relay, "_relay", idle)
    try:
        bob = await ws(people.bob)
        await bob.subscribe(thread)
        client = await run(sdk_thread, people.alice, thread)
        await run(client.remove_participant, identifier(await run(raw_id_of, people.bob)))
        # What the poller does with the participantRemoved system message it reads.
        newest = await run(lambda: gateway.service_thread(thread).list_messages(50).items)
        await run(observe.observe_messages, thread, newest)
        assert await bob.next("removed") == {"type": "removed", "thread": thread}
    finally:
        await idle.stop()


async def test_a_participant_removed_straight_through_acs_is_cut_off_within_a_poll(
    people, ws, thread
):
    bob = await ws(people.bob)
    await bob.subscribe(thread)
    client = await run(sdk_thread, people.alice, thread)
    bob_id = await run(raw_id_of, people.bob)
    await run(client.remove_participant, identifier(bob_id))
    assert await bob.next("removed") == {"type": "removed", "thread": thread}
    await run(client.send_message, "secret after removal")
    await bob.nothing(1.5)
    assert all("secret after removal" not in str(f) for f in bob.frames)
    # And Bob cannot subscribe again.
    ack = await bob.request({"action": "subscribe", "thread": thread, "request": "again"})
    assert (ack["ok"], ack["status"]) == (False, 404)


async def test_events_the_layer_drops_are_read_back_from_the_log(people, ws, thread, monkeypatch):
    from chat.relay import log

    bob = await ws(people.bob)
    start = (await bob.subscribe(thread))["cursor"]
    original = log.push
    dropped = []

    def lossy_push(events, *rest):
        if any(e.data.get("body") == "m0" for e in events):
            dropped.extend(events)  # the layer loses this push
            return
        original(events, *rest)

    monkeypatch.setattr(log, "push", lossy_push)
    alice = await ws(people.alice)
    ids = []
    for n in range(3):
        ack = await alice.request(
            {"action": "send", "thread": thread, "request": str(n), "content": f"m{n}"}
        )
        ids.append(ack["result"]["id"])
    await bob.message("message.added", ids[-1])
    assert [e.data["id"] for e in dropped] == [ids[0]]
    cursors = [f["cursor"] for f in bob.events()]
    assert cursors == list(range(start + 1, start + 1 + len(cursors)))  # no gap, no repeat
    added = [f["data"]["id"] for f in bob.events() if f["kind"] == "message.added"]
    assert [i for i in added if i in ids] == ids


async def test_each_change_reaches_each_viewer_once_in_order_however_it_was_made(
    people, ws, thread, live_site, django_user_model
):
    """Two topic changes and an add through Kwebbel, then the same straight through ACS: every
    viewer gets exactly one event per change, in order, and ends where ACS is."""
    from chat.relay.relay import get_relay
    from tests.fixtures.outside import participant

    live_site.RELAY_DEEP_SCAN_EVERY = 0.5  # reconcile with ACS often: it must add nothing
    dave = await run(django_user_model.objects.create_user, "dave", password="x", first_name="Dave")
    viewers = [await ws(people.alice), await ws(people.bob)]
    for viewer in viewers:
        await viewer.subscribe(thread)
    access = await run(access_thread, people.alice, thread)
    await run(do_update_topic, access, "Kwebbel one")
    await run(do_update_topic, access, "Kwebbel two")
    await run(do_add_participants, access, [ParticipantChoice(people.carol, timezone.now())])
    outside = await run(sdk_thread, people.bob, thread)
    await run(outside.update_topic, "Outside one")
    await run(outside.update_topic, "Outside two")
    dave_id = await run(raw_id_of, dave)
    await run(outside.add_participants, [participant(dave_id, share_history_time=timezone.now())])

    for viewer in viewers:
        while True:  # bounded: each wait fails after WAIT
            frame = await viewer.next("event", kind="participants.added")
            if frame["data"]["participants"][0]["rawId"] == dave_id:
                break
    # The relay has moved past all of it: several more polls, each reconciling with ACS.
    poller = get_relay().pollers[thread]
    polls = poller.polls
    await wait_until(lambda: poller.polls >= polls + 4, "four more polls")
    for viewer in viewers:
        await viewer.drain(quiet=0.3)
        events = viewer.events()
        topics = [e["data"]["topic"] for e in events if e["kind"] == "topic.changed"]
        added = [
            p["rawId"] for e in events if e["kind"] == "participants.added"
            for p in e["data"]["participants"]
        ]  # fmt: skip
        assert topics == ["Kwebbel one", "Kwebbel two", "Outside one", "Outside two"]
        assert added == [await run(raw_id_of, people.carol), dave_id]
        assert [e["kind"] for e in events].count("participants.removed") == 0
        cursors = [e["cursor"] for e in events]
        assert cursors == sorted(set(cursors))
    # The final state is ACS's.
    props = await run(lambda: sdk_thread(None, thread).get_properties())
    assert props.topic == topics[-1]
    members = await run(
        lambda: {p.identifier.raw_id for p in sdk_thread(None, thread).list_participants()}
    )
    assert {await run(raw_id_of, people.carol), dave_id} <= members


async def test_a_late_joiner_replaying_from_cursor_0_gets_nothing_from_before_her_start(
    people, ws, thread
):
    """The history boundary holds for every kind: topics, membership changes and read
    receipts from before she joined are as hidden from her as the messages (ACS hides them)."""
    alice = await ws(people.alice)
    await alice.subscribe(thread)
    access = await run(access_thread, people.alice, thread)
    before = (
        await alice.request({"action": "send", "thread": thread, "request": "1", "content": "old"})
    )["result"]["id"]
    await run(do_update_topic, access, "Before Carol")
    bob = await ws(people.bob)
    await bob.subscribe(thread)
    await bob.request({"action": "read", "thread": thread, "message": before, "request": "r"})
    await alice.event("receipt")
    await a_later_second()  # ACS reports times to the second
    await run(do_add_participants, access, [ParticipantChoice(people.carol, timezone.now())])
    after = (
        await alice.request({"action": "send", "thread": thread, "request": "2", "content": "new"})
    )["result"]["id"]

    carol = await ws(people.carol)
    for cursor in (0, 1):  # from the start of the log, and from an old cursor
        await carol.subscribe(thread, cursor=cursor)
        await carol.message("message.added", after)
        kinds = {f["kind"] for f in carol.events()}
        assert "topic.changed" not in kinds and "receipt" not in kinds
        assert all(before not in str(f) and "Before Carol" not in str(f) for f in carol.frames)
        await carol.send({"action": "unsubscribe", "thread": thread})
        carol.frames.clear()
        carol.unread.clear()


@pytest.mark.parametrize("how", ["creator", "staff", "straight through ACS"])
async def test_a_deleted_thread_tells_open_pages_once_and_nothing_follows(people, ws, thread, how):
    from chat.actions.threads import do_delete_thread, do_staff_delete_thread
    from chat.models import ThreadRecord
    from tests.fixtures.outside import sdk_chat

    viewers = [await ws(people.alice), await ws(people.bob)]
    for viewer in viewers:
        await viewer.subscribe(thread)
    if how == "creator":
        await run(do_delete_thread, await run(access_thread, people.alice, thread))
    elif how == "staff":
        record = await run(ThreadRecord.objects.get, chat_thread_id=thread)
        await run(do_staff_delete_thread, record)
    else:
        await run(lambda: sdk_chat(people.bob).delete_chat_thread(thread))
    for viewer in viewers:
        assert await viewer.next("deleted") == {"type": "deleted", "thread": thread}
    record = await run(ThreadRecord.objects.get, chat_thread_id=thread)
    assert record.deleted_on is not None
    # Subscribing again is answered the same way, and nothing else arrives.
    ack = await viewers[0].request(
        {"action": "subscribe", "thread": thread, "cursor": None, "request": "again"}
    )
    assert ack["result"] == {"thread": thread, "deleted": True}
    assert await viewers[0].next("deleted") == {"type": "deleted", "thread": thread}
    from chat.relay.relay import get_relay

    assert get_relay().viewers(thread) == 0 and not get_relay().polling(thread)
    for viewer in viewers:
        assert [f for f in viewer.frames if f["type"] == "deleted"] == [
            {"type": "deleted", "thread": thread}
        ] * (2 if viewer is viewers[0] else 1)
