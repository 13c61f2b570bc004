"""ChatStore read receipts and typing notifications."""

from __future__ import annotations

import pytest

from acs_emulator.errors import AcsError


def test_latest_receipt_per_user(store, clock, thread):
    thread_id, alice, bob = thread
    m1 = store.send_chat_message(thread_id, alice, content="1", now=clock.tick())
    m2 = store.send_chat_message(thread_id, bob, content="2", now=clock.tick())
    store.send_chat_read_receipt(thread_id, alice, m1.id, now=clock.tick())
    read_at = clock.tick()
    store.send_chat_read_receipt(thread_id, alice, m2.id, now=read_at)
    store.send_chat_read_receipt(thread_id, bob, m1.id, now=clock.tick())
    # An older message than the one already read changes nothing.
    store.send_chat_read_receipt(thread_id, alice, m1.id, now=clock.tick())
    page = store.list_chat_read_receipts(thread_id, alice, max_page_size=10, skip=0)
    assert [(r.sender, r.chat_message_id) for r in page.items] == [(alice, m2.id), (bob, m1.id)]
    assert page.items[0].read_on == read_at
    first = store.list_chat_read_receipts(thread_id, bob, max_page_size=1, skip=0)
    assert first.next_state == {"skip": 1, "maxPageSize": 1}


def test_receipt_for_unknown_message_is_404(store, clock, thread):
    thread_id, alice, _ = thread
    with pytest.raises(AcsError) as info:
        store.send_chat_read_receipt(thread_id, alice, "42", now=clock.tick())
    assert info.value.status == 404
    assert store.list_chat_read_receipts(thread_id, alice, max_page_size=5, skip=0).items == []


def test_typing_checks_membership(store, clock, users, thread):
    thread_id, alice, _ = thread
    store.send_typing_notification(thread_id, alice, sender_display_name="Alice")
    with pytest.raises(AcsError) as info:
        store.send_typing_notification(thread_id, users.new())
    assert info.value.status == 403
