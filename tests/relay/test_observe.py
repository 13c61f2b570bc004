"""observe_*: only differences from what was published become events, exactly once."""

from __future__ import annotations

import itertools
import time
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest
from channels.db import database_sync_to_async
from channels.layers import get_channel_layer
from django.utils import timezone

from chat.models import RelayEvent, RelayThread, ThreadRecord
from chat.relay import (
    events_after,
    group_name,
    observe_members,
    observe_messages,
    observe_receipts,
    observe_thread_deleted,
    observe_topic,
)
from chat.relay.log import current_cursor, layer_message
from chat.relay.observe import applied, observe_service_present, observe_service_removed
from chat.types import EPOCH, Message, Participant
from tokens.models import AcsIdentity
from tokens.services import SERVICE_NAME

pytestmark = pytest.mark.django_db(transaction=True)
THREAD = "19:relay-observe@thread.v2"
ALICE, BOB, CAROL = "8:acs:r_alice", "8:acs:r_bob", "8:acs:r_carol"
# Message ids are epoch milliseconds in ACS; one counter keeps them unique here.
_ids = itertools.count(int(time.time() * 1000))


def message(seq: int, text: str = "", **fields) -> Message:
    created = fields.pop("created_on", timezone.now())
    number = next(_ids)
    return Message(
        id=str(number),
        type="text",
        body=text or f"m{seq}",
        sender_id=ALICE,
        created_on=created,
        sequence_id=seq,
        version=fields.pop("version", number),
        **fields,
    )


def changed(message: Message, **fields) -> Message:
    return replace(message, **fields)


def members(**history) -> list[Participant]:
    """members(alice=EPOCH, bob=None) -> participants by their test raw ids."""
    ids = {"alice": ALICE, "bob": BOB, "carol": CAROL, "svc": "8:acs:r_svc"}
    return [Participant(ids[name], None, sht) for name, sht in history.items()]


def kinds(events) -> list[str]:
    return [e.kind for e in events]


def test_the_same_state_observed_twice_appends_nothing():
    current_cursor(THREAD)
    states = [message(3), message(4)]
    assert kinds(observe_messages(THREAD, states)) == ["message.added", "message.added"]
    assert observe_messages(THREAD, states) == []
    assert observe_messages(THREAD, list(reversed(states))) == []
    assert current_cursor(THREAD) == 2


def test_new_messages_are_added_in_sequence_order():
    current_cursor(THREAD)
    states = [message(seq) for seq in (7, 5, 6, 3)]
    events = observe_messages(THREAD, states)
    assert [e.data["sequence_id"] for e in events] == [3, 5, 6, 7]
    assert [e.cursor for e in events] == [1, 2, 3, 4]


def test_a_message_seen_by_an_action_then_by_the_poll_is_published_once():
    current_cursor(THREAD)
    full = message(3, "hello", metadata={"kwebbelClientId": "c1"})
    # What an observer that had no sequence id or version knows.
    partial = Message(
        id=full.id, type="text", body="hello", sender_id=ALICE, metadata=dict(full.metadata)
    )
    first = observe_messages(THREAD, [partial])
    assert kinds(first) == ["message.added"]
    # The id is the creation time in ms, so the history filter has a time even here.
    assert first[0].data["created_on"] is not None
    assert observe_messages(THREAD, [full]) == []
    assert current_cursor(THREAD) == 1


def test_edits_and_deletions_become_events_and_stale_states_are_ignored():
    current_cursor(THREAD)
    original = message(3, "draft")
    observe_messages(THREAD, [original])
    edited = changed(original, body="final", edited_on=timezone.now(), version=original.version + 5)
    assert kinds(observe_messages(THREAD, [edited])) == ["message.edited"]
    assert observe_messages(THREAD, [edited]) == []
    # A metadata change is an edit too.
    tagged = changed(edited, metadata={"k": "v"}, version=edited.version + 1)
    assert kinds(observe_messages(THREAD, [tagged])) == ["message.edited"]
    # An observation older than what was published (lower version) changes nothing.
    assert observe_messages(THREAD, [original]) == []
    deleted = changed(tagged, body="", deleted_on=timezone.now(), version=tagged.version + 1)
    events = observe_messages(THREAD, [deleted])
    assert kinds(events) == ["message.deleted"]
    assert events[0].data["deleted_on"] is not None
    # Deletion is final: a late observation without a version cannot bring it back.
    late = Message(id=original.id, type="text", body="final", sender_id=ALICE)
    assert observe_messages(THREAD, [late, deleted]) == []
    assert kinds(events_after(THREAD, 0)) == [
        "message.added",
        "message.edited",
        "message.edited",
        "message.deleted",
    ]


def test_unknown_messages_from_before_tracking_began_are_history_not_news():
    current_cursor(THREAD)
    old = message(1, created_on=datetime(2020, 1, 1, tzinfo=UTC))
    new = message(2)
    assert [e.data["id"] for e in observe_messages(THREAD, [old, new])] == [new.id]
    # Once recorded, an edit of the old message is news.
    edited = changed(old, body="changed", edited_on=timezone.now(), version=old.version + 1)
    assert kinds(observe_messages(THREAD, [edited])) == ["message.edited"]


def test_members_first_observation_is_the_baseline_then_differences_are_published():
    AcsIdentity.objects.create(service_name=SERVICE_NAME, communication_user_id="8:acs:r_svc")
    later = timezone.now() - timedelta(hours=1)
    assert observe_members(THREAD, members(svc=EPOCH, alice=EPOCH, bob=None)) == []
    assert observe_members(THREAD, members(alice=EPOCH, bob=None, svc=EPOCH)) == []
    events = observe_members(THREAD, members(alice=EPOCH, carol=later), initiator=ALICE)
    assert kinds(events) == ["participants.removed", "participants.added"]
    assert events[0].data == {
        "participants": [{"raw_id": BOB, "share_history_time": None}],
        "initiator": ALICE,
    }
    assert events[1].data["participants"] == [
        {"raw_id": CAROL, "share_history_time": later.isoformat()}
    ]
    # The service identity never appears, whoever passes it in.
    assert observe_members(THREAD, members(alice=EPOCH, carol=later, svc=EPOCH)) == []


def test_a_changed_history_start_is_published_as_joining_again_with_it():
    observe_members(THREAD, members(alice=EPOCH, bob=EPOCH))
    now = timezone.now()
    events = observe_members(THREAD, members(alice=EPOCH, bob=now))
    assert kinds(events) == ["participants.added"]
    assert events[0].data["participants"] == [
        {"raw_id": BOB, "share_history_time": now.isoformat()}
    ]


def test_topic_first_observation_is_the_baseline_then_changes_are_published_once():
    assert observe_topic(THREAD, "One", ALICE) == []  # what the page read itself
    assert observe_topic(THREAD, "One") == []
    events = observe_topic(THREAD, "Two", BOB)
    assert events[0].data == {"topic": "Two", "initiator": BOB}
    assert observe_topic(THREAD, "Two") == []


def test_receipts_are_published_when_they_move_forward():
    events = observe_receipts(THREAD, {ALICE: "1000", BOB: "900"})
    assert [(e.kind, e.data["reader"]) for e in events] == [("receipt", ALICE), ("receipt", BOB)]
    assert observe_receipts(THREAD, {ALICE: "1000", BOB: "900"}) == []
    assert observe_receipts(THREAD, {ALICE: "999"}) == []  # stale
    assert [e.data for e in observe_receipts(THREAD, {BOB: "1001"})] == [
        {"reader": BOB, "message_id": "1001"}
    ]


def test_a_deleted_thread_is_published_once_and_nothing_follows():
    ThreadRecord.objects.create(chat_thread_id=THREAD, topic="Doomed")
    observe_topic(THREAD, "Doomed")
    observe_messages(THREAD, [message(3)])
    events = observe_thread_deleted(THREAD, ALICE)
    assert kinds(events) == ["thread.deleted"]
    assert events[0].data == {"initiator": ALICE}
    assert observe_thread_deleted(THREAD) == []
    assert ThreadRecord.objects.get(chat_thread_id=THREAD).deleted_on is not None
    # Late observations of the deleted thread publish nothing.
    assert observe_messages(THREAD, [message(4)]) == []
    assert observe_topic(THREAD, "Renamed") == []
    assert observe_receipts(THREAD, {ALICE: "99999999999999"}) == []
    assert kinds(events_after(THREAD, 0)) == ["message.added", "thread.deleted"]


def test_a_removed_service_identity_is_published_once_and_marked_on_the_record():
    ThreadRecord.objects.create(chat_thread_id=THREAD, topic="Lost")
    events = observe_service_removed(THREAD)
    assert [(e.kind, e.data) for e in events] == [("relay.stopped", {"reason": "service-removed"})]
    assert observe_service_removed(THREAD) == []
    assert ThreadRecord.objects.get(chat_thread_id=THREAD).service_removed_on is not None
    observe_service_present(THREAD)
    assert ThreadRecord.objects.get(chat_thread_id=THREAD).service_removed_on is None
    assert RelayThread.objects.get(chat_thread_id=THREAD).service_removed_on is None


@pytest.mark.parametrize("text", ["nul \x00 in the middle", "lone \ud800 surrogate", "émoji 🎉"])
def test_any_text_acs_accepts_is_stored_and_read_back(text):
    """PostgreSQL's jsonb refuses \\u0000 and its text refuses NUL; a lone surrogate is not
    UTF-8. The relay keeps them all (this runs on SQLite and, in CI, on PostgreSQL)."""
    current_cursor(THREAD)
    sent = message(3, text)
    observe_messages(THREAD, [sent])
    observe_topic(THREAD, "baseline")
    observe_topic(THREAD, text)
    observe_members(THREAD, members(alice=EPOCH))
    events = events_after(THREAD, 0)
    assert [e.data.get("body", e.data.get("topic")) for e in events] == [text, text]
    assert RelayThread.objects.get(chat_thread_id=THREAD).topic == text
    assert RelayEvent.objects.filter(chat_thread_id=THREAD).count() == 2


async def test_events_are_pushed_to_the_thread_group_after_commit():
    layer = get_channel_layer()
    channel = await layer.new_channel()
    await layer.group_add(group_name(THREAD), channel)
    await database_sync_to_async(observe_topic)(THREAD, "Baseline")
    events = await database_sync_to_async(observe_topic)(THREAD, "Pushed")
    received = await layer.receive(channel)
    assert received == layer_message(events[0])
    assert received["event"]["kind"] == "topic.changed"
    assert received["event"]["at"] == events[0].at.isoformat()


def announcement(seq: int, kind: str, **fields) -> Message:
    """A system message as ACS writes it (topicUpdated, participantAdded, participantRemoved)."""
    return replace(message(seq, "", **fields), type=kind, body="", sender_id=None)


def test_each_announced_topic_change_is_published_once_in_order_by_either_observer():
    current_cursor(THREAD)
    observe_topic(THREAD, "Start")  # the baseline a page read
    one = announcement(3, "topicUpdated", topic="One", initiator_id=ALICE)
    two = announcement(4, "topicUpdated", topic="Two", initiator_id=BOB)
    # The action that made "One" reads back the newest messages...
    first = observe_messages(THREAD, [one])
    # ...then a poll reads both announcements, newest first as ACS lists them.
    second = observe_messages(THREAD, [two, one])
    topics = [(e.kind, e.data) for e in first + second if e.kind == "topic.changed"]
    assert topics == [
        ("topic.changed", {"topic": "One", "initiator": ALICE}),
        ("topic.changed", {"topic": "Two", "initiator": BOB}),
    ]
    # Read again by anyone, nothing more; and the topic is the newest.
    assert observe_messages(THREAD, [one, two]) == []
    assert RelayThread.objects.get(chat_thread_id=THREAD).topic == "Two"


def test_an_older_topic_announcement_read_late_is_not_published_after_a_newer_one():
    current_cursor(THREAD)
    observe_topic(THREAD, "Start")
    assert kinds(observe_messages(THREAD, [announcement(9, "topicUpdated", topic="New")])) == [
        "message.added",
        "topic.changed",
    ]
    late = observe_messages(THREAD, [announcement(8, "topicUpdated", topic="Old")])
    assert kinds(late) == ["message.added"]  # the system message shows, the topic stays
    assert RelayThread.objects.get(chat_thread_id=THREAD).topic == "New"


def test_membership_announcements_apply_per_person_and_once():
    current_cursor(THREAD)
    observe_members(THREAD, members(alice=EPOCH))
    carol = Participant(CAROL, None, EPOCH)
    bob = Participant(BOB, None, EPOCH)
    added_carol = announcement(5, "participantAdded", participants=(carol,), initiator_id=ALICE)
    added_bob = announcement(4, "participantAdded", participants=(bob,), initiator_id=ALICE)
    removed_carol = announcement(3, "participantRemoved", participants=(carol,))
    events = observe_messages(THREAD, [added_carol])
    # Bob's addition was older than Carol's but about someone else: it still counts. Carol's
    # removal is older than her addition: it is overtaken and changes nothing.
    events += observe_messages(THREAD, [added_bob, removed_carol])
    changes = [
        (e.kind, e.data["participants"][0]["raw_id"]) for e in events if "participants" in e.kind
    ]
    assert changes == [("participants.added", CAROL), ("participants.added", BOB)]
    assert set(RelayThread.objects.get(chat_thread_id=THREAD).members) == {ALICE, BOB, CAROL}
    assert observe_messages(THREAD, [added_carol, added_bob, removed_carol]) == []


def test_a_reading_of_the_members_older_than_an_announcement_is_not_published():
    current_cursor(THREAD)
    observe_members(THREAD, members(alice=EPOCH))
    _topic_seq, version = applied(THREAD)
    # While the poll reads the participants, an action's announcement is applied.
    carol = Participant(CAROL, None, EPOCH)
    observe_messages(THREAD, [announcement(5, "participantAdded", participants=(carol,))])
    # The poll's reading (without carol) is older than what was published: nothing happens.
    assert observe_members(THREAD, members(alice=EPOCH), expected=version) == []
    assert set(RelayThread.objects.get(chat_thread_id=THREAD).members) == {ALICE, CAROL}
    # A reading that began after it, and differs, means an announcement was missed.
    _topic_seq, version = applied(THREAD)
    events = observe_members(THREAD, members(alice=EPOCH), expected=version)
    assert kinds(events) == ["participants.removed"]


def test_baseline_readings_never_publish():
    observe_members(THREAD, members(alice=EPOCH), baseline_only=True)
    observe_topic(THREAD, "One", baseline_only=True)
    assert observe_members(THREAD, members(bob=EPOCH), baseline_only=True) == []
    assert observe_topic(THREAD, "Two", baseline_only=True) == []
    assert events_after(THREAD, 0) == []
