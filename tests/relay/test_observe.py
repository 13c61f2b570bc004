"""observe_*: only differences from what was published become events, exactly once."""

from __future__ import annotations

import itertools
import time
from datetime import UTC, datetime, timedelta

import pytest
from channels.db import database_sync_to_async
from channels.layers import get_channel_layer
from django.utils import timezone

from chat.relay import (
    MessageState,
    events_after,
    group_name,
    observe_members,
    observe_members_added,
    observe_members_removed,
    observe_messages,
    observe_receipts,
    observe_topic,
)
from chat.relay.log import current_cursor
from tokens.models import AcsIdentity
from tokens.services import SERVICE_NAME

pytestmark = pytest.mark.django_db(transaction=True)
THREAD = "19:relay-observe@thread.v2"
ALICE, BOB, CAROL = "8:acs:r_alice", "8:acs:r_bob", "8:acs:r_carol"
# Message ids are epoch milliseconds in ACS; one counter keeps them unique here.
_ids = itertools.count(int(time.time() * 1000))


def message(seq: int, text: str = "", **fields) -> MessageState:
    created = fields.pop("created_on", timezone.now())
    number = next(_ids)
    return MessageState(
        id=str(number),
        type="text",
        content=text or f"m{seq}",
        sender_id=ALICE,
        created_on=created,
        sequence_id=seq,
        version=fields.pop("version", number),
        **fields,
    )


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
    # What a send action knows: no sequence id, no version.
    partial = MessageState(
        id=full.id, type="text", content="hello", sender_id=ALICE, metadata=dict(full.metadata)
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
    edited = MessageState(
        **{
            **original.__dict__,
            "content": "final",
            "edited_on": timezone.now(),
            "version": original.version + 5,
        }
    )
    assert kinds(observe_messages(THREAD, [edited])) == ["message.edited"]
    assert observe_messages(THREAD, [edited]) == []
    # A metadata change is an edit too.
    tagged = MessageState(
        **{**edited.__dict__, "metadata": {"k": "v"}, "version": edited.version + 1}
    )
    assert kinds(observe_messages(THREAD, [tagged])) == ["message.edited"]
    # An observation older than what was published (lower version) changes nothing.
    assert observe_messages(THREAD, [original]) == []
    deleted = MessageState(
        **{
            **tagged.__dict__,
            "content": "",
            "deleted_on": timezone.now(),
            "version": tagged.version + 1,
        }
    )
    events = observe_messages(THREAD, [deleted])
    assert kinds(events) == ["message.deleted"]
    assert events[0].data["deleted_on"] is not None
    # Deletion is final: a late observation without a version cannot bring it back.
    late = MessageState(id=original.id, type="text", content="final", sender_id=ALICE)
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
    edited = MessageState(
        **{
            **old.__dict__,
            "content": "changed",
            "edited_on": timezone.now(),
            "version": old.version + 1,
        }
    )
    assert kinds(observe_messages(THREAD, [edited])) == ["message.edited"]


def test_members_first_observation_is_the_baseline_then_differences_are_published():
    AcsIdentity.objects.create(service_name=SERVICE_NAME, communication_user_id="8:acs:r_svc")
    epoch = datetime(1970, 1, 1, tzinfo=UTC)
    later = timezone.now() - timedelta(hours=1)
    assert observe_members(THREAD, {"8:acs:r_svc": epoch, ALICE: epoch, BOB: None}) == []
    assert observe_members(THREAD, {ALICE: epoch, BOB: None, "8:acs:r_svc": epoch}) == []
    events = observe_members(THREAD, {ALICE: epoch, CAROL: later}, initiator=ALICE)
    assert kinds(events) == ["participants.removed", "participants.added"]
    assert events[0].data == {
        "participants": [{"raw_id": BOB, "share_history_time": None}],
        "initiator": ALICE,
    }
    assert events[1].data["participants"] == [
        {"raw_id": CAROL, "share_history_time": later.isoformat()}
    ]
    # The service identity never appears, whoever passes it in.
    assert observe_members(THREAD, {ALICE: epoch, CAROL: later}) == []


def test_partial_member_observations_agree_with_the_full_list():
    epoch = datetime(1970, 1, 1, tzinfo=UTC)
    observe_members(THREAD, {ALICE: epoch})
    assert kinds(observe_members_added(THREAD, {BOB: epoch}, ALICE)) == ["participants.added"]
    assert observe_members(THREAD, {ALICE: epoch, BOB: epoch}) == []
    assert kinds(observe_members_removed(THREAD, [BOB], ALICE)) == ["participants.removed"]
    assert observe_members_removed(THREAD, [BOB], ALICE) == []
    assert observe_members(THREAD, {ALICE: epoch}) == []


def test_topic_changes_are_published_once():
    assert kinds(observe_topic(THREAD, "One", ALICE)) == ["topic.changed"]
    assert observe_topic(THREAD, "One") == []
    events = observe_topic(THREAD, "Two", BOB)
    assert events[0].data == {"topic": "Two", "initiator": BOB}


def test_receipts_are_published_when_they_move_forward():
    events = observe_receipts(THREAD, {ALICE: "1000", BOB: "900"})
    assert [(e.kind, e.data["reader"]) for e in events] == [("receipt", ALICE), ("receipt", BOB)]
    assert observe_receipts(THREAD, {ALICE: "1000", BOB: "900"}) == []
    assert observe_receipts(THREAD, {ALICE: "999"}) == []  # stale
    assert [e.data for e in observe_receipts(THREAD, {BOB: "1001"})] == [
        {"reader": BOB, "message_id": "1001"}
    ]


async def test_events_are_pushed_to_the_thread_group_after_commit():
    layer = get_channel_layer()
    channel = await layer.new_channel()
    await layer.group_add(group_name(THREAD), channel)
    events = await database_sync_to_async(observe_topic)(THREAD, "Pushed")
    received = await layer.receive(channel)
    assert received == {
        "type": "relay.event",
        "thread": THREAD,
        "cursor": events[0].cursor,
        "event": events[0].as_json(),
    }
    assert received["event"]["kind"] == "topic.changed"
