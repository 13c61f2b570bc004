"""Read receipts and typing notifications through the sync SDK."""

from __future__ import annotations

import pytest
from azure.core.exceptions import ResourceNotFoundError

from .helpers import create_thread


def test_only_the_latest_receipt_per_user_is_kept(make_chat_client, thread_client):
    alice, bob = make_chat_client(), make_chat_client()
    thread_id = create_thread(alice, bob)
    a, b = thread_client(alice.client, thread_id), thread_client(bob.client, thread_id)
    first = a.send_message("one").id
    second = b.send_message("two").id
    a.send_read_receipt(first)
    a.send_read_receipt(second)
    b.send_read_receipt(first)
    receipts = {r.sender.raw_id: r for r in a.list_read_receipts()}
    assert len(receipts) == 2
    assert receipts[alice.user.raw_id].chat_message_id == second
    assert receipts[bob.user.raw_id].chat_message_id == first
    assert receipts[alice.user.raw_id].read_on is not None
    # Reading an older message again does not move the receipt back.
    a.send_read_receipt(first)
    again = {r.sender.raw_id: r.chat_message_id for r in b.list_read_receipts()}
    assert again[alice.user.raw_id] == second


def test_list_read_receipts_pages_with_skip(make_chat_client, thread_client):
    alice = make_chat_client()
    others = [make_chat_client() for _ in range(2)]
    thread_id = create_thread(alice, *others)
    message_id = thread_client(alice.client, thread_id).send_message("read me").id
    for user in [alice, *others]:
        thread_client(user.client, thread_id).send_read_receipt(message_id)
    client = thread_client(alice.client, thread_id)
    pages = [list(page) for page in client.list_read_receipts(results_per_page=2).by_page()]
    assert [len(page) for page in pages] == [2, 1]
    senders = [r.sender.raw_id for page in pages for r in page]
    assert senders == [alice.user.raw_id, *(o.user.raw_id for o in others)]
    assert [r.sender.raw_id for r in client.list_read_receipts(skip=1)] == senders[1:]


def test_receipt_for_unknown_message_is_404(make_chat_client, thread_client):
    alice = make_chat_client()
    client = thread_client(alice.client, create_thread(alice))
    with pytest.raises(ResourceNotFoundError):
        client.send_read_receipt("1234567890123")
    assert list(client.list_read_receipts()) == []


@pytest.mark.acs_live
def test_typing_notification(make_chat_client, thread_client):
    alice = make_chat_client()
    client = thread_client(alice.client, create_thread(alice))
    assert client.send_typing_notification() is None
    assert client.send_typing_notification(sender_display_name="Alice") is None
