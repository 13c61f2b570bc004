"""ChatStore thread operations, with a hand-driven clock."""

from __future__ import annotations

import pytest

from acs_emulator.chat.models import EPOCH, ParticipantSpec
from acs_emulator.errors import AcsError


def create(store, clock, creator, *others, topic="Lunch", request_id=None):
    return store.create_chat_thread(
        creator,
        topic=topic,
        participants=[ParticipantSpec(o, display_name="name") for o in others],
        repeatability_request_id=request_id,
        now=clock.tick(),
    )


def test_create_adds_creator_and_system_messages(store, clock, users):
    alice, bob = users.new(), users.new()
    result = create(store, clock, alice, bob)
    thread = result.thread
    assert thread.id.startswith("19:") and thread.id.endswith("@thread.v2")
    assert thread.created_by == alice and thread.topic == "Lunch"
    assert result.invalid_participants == []

    page = store.list_chat_participants(thread.id, alice, max_page_size=10, skip=0)
    creator = page.items[0]
    assert (creator.raw_id, creator.display_name, creator.share_history_time) == (
        alice,
        None,
        EPOCH,
    )
    assert [p.raw_id for p in page.items] == [alice, bob]

    messages = store.list_chat_messages(thread.id, bob, max_page_size=10, start_time=None).items
    assert [(m.sequence_id, m.type) for m in messages] == [
        (2, "topicUpdated"),
        (1, "participantAdded"),
    ]
    assert messages[0].topic == "Lunch" and messages[0].initiator == alice
    assert [p.raw_id for p in messages[1].participants] == [alice, bob]
    assert all(m.sender is None for m in messages)


def test_unknown_identities_are_reported_not_added(store, clock, users):
    alice = users.new()
    ghost = users.unknown()
    result = create(store, clock, alice, ghost)
    assert result.invalid_participants == [ghost]
    page = store.list_chat_participants(result.thread.id, alice, max_page_size=10, skip=0)
    assert [p.raw_id for p in page.items] == [alice]


def test_repeatability_id_replays_first_result(store, clock, users):
    alice, bob = users.new(), users.new()
    first = create(store, clock, alice, request_id="req-1", topic="First")
    again = create(store, clock, alice, topic="Second", request_id="req-1")
    assert again.thread.id == first.thread.id
    assert again.thread.topic == "First"
    other_user = create(store, clock, bob, request_id="req-1")
    assert other_user.thread.id != first.thread.id
    threads = store.list_chat_threads(alice, max_page_size=10, start_time=None).items
    assert [t.id for t in threads] == [first.thread.id]


@pytest.mark.parametrize("topic", ["", "   ", "x" * 1025])
def test_bad_topic_is_refused_and_nothing_stored(store, clock, users, topic):
    alice = users.new()
    with pytest.raises(AcsError) as info:
        create(store, clock, alice, topic=topic)
    assert info.value.status == 400
    assert store.list_chat_threads(alice, max_page_size=10, start_time=None).items == []


def test_too_many_participants_fails_whole_request(store, clock, users):
    alice = users.new()
    others = [users.new() for _ in range(201)]
    with pytest.raises(AcsError) as info:
        create(store, clock, alice, *others)
    assert info.value.status == 400
    assert store.list_chat_threads(alice, max_page_size=10, start_time=None).items == []


def test_list_threads_newest_activity_first_with_paging(store, clock, users):
    alice = users.new()
    ids = [create(store, clock, alice, topic=f"t{i}").thread.id for i in range(5)]
    # A message moves the oldest thread to the front.
    store.send_chat_message(ids[0], alice, content="bump", now=clock.tick())
    expected = [ids[0], ids[4], ids[3], ids[2], ids[1]]

    seen, before = [], None
    while True:
        page = store.list_chat_threads(
            alice, max_page_size=2, start_time=None, before_activity=before
        )
        seen += [t.id for t in page.items]
        if page.next_state is None:
            break
        assert page.next_state["maxPageSize"] == 2
        before = page.next_state["before"]
    assert seen == expected


def test_list_threads_start_time_and_membership(store, clock, users):
    alice, bob = users.new(), users.new()
    old = create(store, clock, alice).thread
    cutoff = clock.tick()
    new = create(store, clock, alice, bob).thread
    items = store.list_chat_threads(alice, max_page_size=10, start_time=cutoff).items
    assert [t.id for t in items] == [new.id]
    assert items[0].last_message_received_on is not None
    assert [
        t.id for t in store.list_chat_threads(bob, max_page_size=10, start_time=None).items
    ] == [new.id]
    assert old.id not in [
        t.id for t in store.list_chat_threads(bob, max_page_size=10, start_time=None).items
    ]


def test_update_topic_adds_system_message(store, clock, users):
    alice = users.new()
    thread = create(store, clock, alice).thread
    store.update_chat_thread_properties(thread.id, alice, topic="Dinner", now=clock.tick())
    assert store.get_chat_thread_properties(thread.id, alice).topic == "Dinner"
    newest = store.list_chat_messages(thread.id, alice, max_page_size=1, start_time=None).items[0]
    assert (newest.type, newest.sequence_id, newest.topic) == ("topicUpdated", 3, "Dinner")


def test_update_without_topic_changes_nothing(store, clock, users):
    alice = users.new()
    thread = create(store, clock, alice).thread
    store.update_chat_thread_properties(thread.id, alice, topic=None, now=clock.tick())
    assert store.get_chat_thread_properties(thread.id, alice).topic == "Lunch"
    messages = store.list_chat_messages(thread.id, alice, max_page_size=10, start_time=None)
    assert len(messages.items) == 2


def test_delete_is_soft_idempotent_and_hides_the_thread(store, clock, users):
    alice = users.new()
    thread = create(store, clock, alice).thread
    deleted_at = clock.tick()
    store.delete_chat_thread(thread.id, alice, now=deleted_at)
    store.delete_chat_thread(thread.id, alice, now=clock.tick())
    listed = store.list_chat_threads(alice, max_page_size=10, start_time=None).items
    assert [(t.id, t.deleted_on) for t in listed] == [(thread.id, deleted_at)]
    with pytest.raises(AcsError) as info:
        store.get_chat_thread_properties(thread.id, alice)
    assert info.value.status == 404
    with pytest.raises(AcsError) as info:
        store.send_chat_message(thread.id, alice, content="hi", now=clock.tick())
    assert info.value.status == 404


def test_access_errors(store, clock, users):
    alice, mallory = users.new(), users.new()
    thread = create(store, clock, alice).thread
    with pytest.raises(AcsError) as info:
        store.get_chat_thread_properties(thread.id, mallory)
    assert info.value.status == 403
    with pytest.raises(AcsError) as info:
        store.delete_chat_thread(thread.id, mallory, now=clock.tick())
    assert info.value.status == 403
    with pytest.raises(AcsError) as info:
        store.get_chat_thread_properties("19:nope@thread.v2", alice)
    assert info.value.status == 404
