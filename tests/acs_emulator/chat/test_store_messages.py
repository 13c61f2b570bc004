"""ChatStore message operations: ids, versions, edits, soft delete, history and paging."""

from __future__ import annotations

import pytest

from acs_emulator.errors import AcsError


def test_send_assigns_ids_sequence_and_defaults(store, clock, thread):
    thread_id, alice, _ = thread
    now = clock.tick()
    first = store.send_chat_message(thread_id, alice, content="hi", now=now)
    second = store.send_chat_message(thread_id, alice, content="again", now=now)
    assert first.sequence_id == 3 and second.sequence_id == 4
    # Same millisecond: the id clock still moves forward.
    assert int(second.id) == int(first.id) + 1
    assert first.version == first.id
    got = store.get_chat_message(thread_id, alice, first.id)
    assert (got.type, got.message, got.sender, got.sender_display_name) == ("text", "hi", alice, "")
    assert got.metadata is None


def test_send_html_with_name_and_metadata(store, clock, thread):
    thread_id, alice, _ = thread
    sent = store.send_chat_message(
        thread_id,
        alice,
        content="<b>hi</b>",
        type="html",
        sender_display_name="Alice",
        metadata={"k": "v"},
        now=clock.tick(),
    )
    got = store.get_chat_message(thread_id, alice, sent.id)
    assert (got.type, got.message, got.sender_display_name, got.metadata) == (
        "html",
        "<b>hi</b>",
        "Alice",
        {"k": "v"},
    )


@pytest.mark.parametrize(
    ("fields", "target"),
    [
        ({"content": ""}, "content"),
        ({"content": "x" * (28 * 1024 + 1)}, "content"),
        ({"content": "é" * (14 * 1024 + 1)}, "content"),
        ({"content": "x", "type": "topicUpdated"}, "type"),
        ({"content": "x", "type": "TEXT"}, "type"),
    ],
)
def test_bad_messages_are_refused(store, clock, thread, fields, target):
    thread_id, alice, _ = thread
    with pytest.raises(AcsError) as info:
        store.send_chat_message(thread_id, alice, now=clock.tick(), **fields)
    assert (info.value.status, info.value.target) == (400, target)
    page = store.list_chat_messages(thread_id, alice, max_page_size=10, start_time=None)
    assert len(page.items) == 2


def test_content_of_exactly_28_kib_is_accepted(store, clock, thread):
    thread_id, alice, _ = thread
    sent = store.send_chat_message(thread_id, alice, content="x" * 28 * 1024, now=clock.tick())
    assert len(store.get_chat_message(thread_id, alice, sent.id).message) == 28 * 1024


def test_list_is_newest_first_and_pages_through_everything(store, clock, thread):
    thread_id, alice, _ = thread
    for i in range(25):
        store.send_chat_message(thread_id, alice, content=f"m{i}", now=clock.tick())
    sequences, before, pages = [], None, 0
    while True:
        page = store.list_chat_messages(
            thread_id, alice, max_page_size=10, start_time=None, before_sequence=before
        )
        pages += 1
        sequences += [m.sequence_id for m in page.items]
        if page.next_state is None:
            break
        before = page.next_state["before"]
    assert pages == 3
    assert sequences == list(range(27, 0, -1))


def test_start_time_keeps_messages_at_or_after_it(store, clock, thread):
    thread_id, alice, _ = thread
    store.send_chat_message(thread_id, alice, content="old", now=clock.tick())
    boundary = clock.tick()
    at = store.send_chat_message(thread_id, alice, content="at", now=boundary)
    later = store.send_chat_message(thread_id, alice, content="later", now=clock.tick())
    page = store.list_chat_messages(thread_id, alice, max_page_size=10, start_time=boundary)
    assert [m.id for m in page.items] == [later.id, at.id]


def test_edit_sets_edited_on_and_new_version(store, clock, thread):
    thread_id, alice, _ = thread
    sent = store.send_chat_message(
        thread_id, alice, content="a", metadata={"x": "1"}, now=clock.tick()
    )
    edited_at = clock.tick()
    store.update_chat_message(thread_id, alice, sent.id, content="b", now=edited_at)
    got = store.get_chat_message(thread_id, alice, sent.id)
    assert (got.message, got.metadata, got.edited_on) == ("b", {"x": "1"}, edited_at)
    assert int(got.version) > int(sent.version) and got.id == sent.id
    store.update_chat_message(thread_id, alice, sent.id, metadata={"y": "2"}, now=clock.tick())
    assert store.get_chat_message(thread_id, alice, sent.id).metadata == {"y": "2"}
    store.update_chat_message(thread_id, alice, sent.id, metadata={}, now=clock.tick())
    assert store.get_chat_message(thread_id, alice, sent.id).metadata is None


def test_only_the_sender_may_edit_or_delete(store, clock, thread):
    thread_id, alice, bob = thread
    sent = store.send_chat_message(thread_id, alice, content="mine", now=clock.tick())
    for call in (
        lambda: store.update_chat_message(thread_id, bob, sent.id, content="x", now=clock.tick()),
        lambda: store.delete_chat_message(thread_id, bob, sent.id, now=clock.tick()),
    ):
        with pytest.raises(AcsError) as info:
            call()
        assert info.value.status == 403
    assert store.get_chat_message(thread_id, alice, sent.id).message == "mine"
    system = store.list_chat_messages(thread_id, alice, max_page_size=10, start_time=None).items[-1]
    with pytest.raises(AcsError) as info:
        store.delete_chat_message(thread_id, alice, system.id, now=clock.tick())
    assert info.value.status == 403


def test_soft_delete_is_idempotent_and_blocks_edits(store, clock, thread):
    thread_id, alice, _ = thread
    sent = store.send_chat_message(thread_id, alice, content="bye", now=clock.tick())
    deleted_at = clock.tick()
    store.delete_chat_message(thread_id, alice, sent.id, now=deleted_at)
    first = store.get_chat_message(thread_id, alice, sent.id)
    store.delete_chat_message(thread_id, alice, sent.id, now=clock.tick())
    again = store.get_chat_message(thread_id, alice, sent.id)
    assert (first.message, first.deleted_on) == ("", deleted_at)
    assert first.version != sent.version and again.version == first.version
    with pytest.raises(AcsError) as info:
        store.update_chat_message(thread_id, alice, sent.id, content="back", now=clock.tick())
    assert info.value.status == 400


def test_unknown_message_is_404(store, clock, thread):
    thread_id, alice, _ = thread
    with pytest.raises(AcsError) as info:
        store.get_chat_message(thread_id, alice, "123")
    assert info.value.status == 404


def test_message_ids_are_unique_across_threads(store, clock, thread, users):
    thread_id, alice, _ = thread
    other = store.create_chat_thread(
        alice, topic="o", participants=[], repeatability_request_id=None, now=clock.now
    ).thread.id
    now = clock.tick()
    ids = {
        store.send_chat_message(tid, alice, content="x", now=now).id
        for tid in (thread_id, other, thread_id, other)
    }
    assert len(ids) == 4
