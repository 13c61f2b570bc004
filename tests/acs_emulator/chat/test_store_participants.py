"""ChatStore participants: add/remove, limits, shareHistoryTime and removed users."""

from __future__ import annotations

from datetime import timedelta

import pytest

from acs_emulator.chat.models import ParticipantSpec
from acs_emulator.errors import AcsError


@pytest.fixture
def thread(store, clock, users):
    alice = users.new()
    result = store.create_chat_thread(
        alice, topic="t", participants=[], repeatability_request_id=None, now=clock.tick()
    )
    return result.thread.id, alice


def messages(store, thread_id, caller):
    return store.list_chat_messages(thread_id, caller, max_page_size=200, start_time=None).items


def test_add_reports_unknown_and_skips_members(store, clock, users, thread):
    thread_id, alice = thread
    bob, ghost = users.new(), users.unknown()
    invalid = store.add_chat_participants(
        thread_id,
        alice,
        [ParticipantSpec(bob, "Bob"), ParticipantSpec(ghost), ParticipantSpec(alice, "Renamed")],
        now=clock.tick(),
    )
    assert invalid == [ghost]
    page = store.list_chat_participants(thread_id, alice, max_page_size=10, skip=0)
    assert [(p.raw_id, p.display_name) for p in page.items] == [(alice, None), (bob, "Bob")]
    added = messages(store, thread_id, alice)[0]
    assert added.type == "participantAdded" and added.initiator == alice
    assert [p.raw_id for p in added.participants] == [bob]


def test_adding_only_members_creates_no_message(store, clock, thread):
    thread_id, alice = thread
    assert (
        store.add_chat_participants(thread_id, alice, [ParticipantSpec(alice)], now=clock.tick())
        == []
    )
    assert len(messages(store, thread_id, alice)) == 2


def test_participant_limits(store, clock, users, thread):
    thread_id, alice = thread
    with pytest.raises(AcsError) as info:
        store.add_chat_participants(thread_id, alice, [], now=clock.tick())
    assert info.value.status == 400
    store.add_chat_participants(
        thread_id, alice, [ParticipantSpec(users.new()) for _ in range(200)], now=clock.tick()
    )
    with pytest.raises(AcsError) as info:
        store.add_chat_participants(
            thread_id, alice, [ParticipantSpec(users.new()) for _ in range(50)], now=clock.tick()
        )
    assert info.value.status == 400
    page = store.list_chat_participants(thread_id, alice, max_page_size=200, skip=200)
    assert len(page.items) == 1  # 201 members: nothing of the refused batch was kept
    store.add_chat_participants(
        thread_id, alice, [ParticipantSpec(users.new()) for _ in range(49)], now=clock.tick()
    )
    assert (
        len(store.list_chat_participants(thread_id, alice, max_page_size=200, skip=200).items) == 50
    )


def test_skip_paging(store, clock, users, thread):
    thread_id, alice = thread
    others = [users.new() for _ in range(4)]
    store.add_chat_participants(
        thread_id, alice, [ParticipantSpec(o) for o in others], now=clock.tick()
    )
    first = store.list_chat_participants(thread_id, alice, max_page_size=2, skip=0)
    assert first.next_state == {"skip": 2, "maxPageSize": 2}
    last = store.list_chat_participants(thread_id, alice, max_page_size=2, skip=4)
    assert last.next_state is None
    assert [p.raw_id for p in last.items] == [others[3]]


def test_share_history_time_hides_earlier_messages(store, clock, users, thread):
    thread_id, alice = thread
    early = store.send_chat_message(thread_id, alice, content="early", now=clock.tick())
    share = clock.tick()
    bob = users.new()
    store.add_chat_participants(
        thread_id, alice, [ParticipantSpec(bob, share_history_time=share)], now=clock.tick()
    )
    late = store.send_chat_message(thread_id, alice, content="late", now=clock.tick())
    seen = [m.id for m in messages(store, thread_id, bob)]
    assert late.id in seen and early.id not in seen
    assert all(m.created_on >= share for m in messages(store, thread_id, bob))
    with pytest.raises(AcsError) as info:
        store.get_chat_message(thread_id, bob, early.id)
    assert info.value.status == 404
    with pytest.raises(AcsError) as info:
        store.send_chat_read_receipt(thread_id, bob, early.id, now=clock.tick())
    assert info.value.status == 404
    # Alice (creator, history from 1970) still sees everything.
    assert early.id in [m.id for m in messages(store, thread_id, alice)]


def test_future_share_time_hides_everything_until_then(store, clock, users, thread):
    thread_id, alice = thread
    bob = users.new()
    share = clock.now + timedelta(minutes=5)
    store.add_chat_participants(
        thread_id, alice, [ParticipantSpec(bob, share_history_time=share)], now=clock.tick()
    )
    store.send_chat_message(thread_id, alice, content="soon", now=clock.tick())
    assert messages(store, thread_id, bob) == []


def test_remove_makes_every_call_403_and_is_idempotent(store, clock, users, thread):
    thread_id, alice = thread
    bob, carol = users.new(), users.new()
    store.add_chat_participants(thread_id, alice, [ParticipantSpec(bob, "Bob")], now=clock.tick())
    store.remove_chat_participant(thread_id, alice, carol, now=clock.tick())  # not a member
    before = len(messages(store, thread_id, alice))
    store.remove_chat_participant(thread_id, bob, bob, now=clock.tick())  # self-removal
    removed = messages(store, thread_id, alice)[0]
    assert len(messages(store, thread_id, alice)) == before + 1
    assert removed.type == "participantRemoved" and removed.initiator == bob
    assert [(p.raw_id, p.display_name) for p in removed.participants] == [(bob, "Bob")]
    for call in (
        lambda: messages(store, thread_id, bob),
        lambda: store.get_chat_thread_properties(thread_id, bob),
        lambda: store.send_chat_message(thread_id, bob, content="x", now=clock.tick()),
        lambda: store.list_chat_participants(thread_id, bob, max_page_size=5, skip=0),
        lambda: store.remove_chat_participant(thread_id, bob, bob, now=clock.tick()),
    ):
        with pytest.raises(AcsError) as info:
            call()
        assert info.value.status == 403
    assert store.list_chat_threads(bob, max_page_size=10, start_time=None).items == []
