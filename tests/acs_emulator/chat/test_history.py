"""shareHistoryTime: a participant only sees messages created at or after it."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from azure.communication.chat import ChatParticipant
from azure.core.exceptions import ResourceNotFoundError

from .helpers import create_thread, wait_past


def test_new_participant_cannot_see_messages_before_share_time(make_chat_client, thread_client):
    alice, bob = make_chat_client(), make_chat_client()
    owner = thread_client(alice.client, create_thread(alice))
    earlier = [owner.send_message(f"before {i}").id for i in range(2)]
    last_before = owner.get_message(earlier[-1])
    # Returned times have second precision: share from the next full second.
    share = last_before.created_on + timedelta(seconds=1)
    owner.add_participants(
        [ChatParticipant(identifier=bob.user.identifier, share_history_time=share)]
    )
    wait_past(share)
    later = owner.send_message("after").id

    reader = thread_client(bob.client, owner.thread_id)
    visible = [m.id for m in reader.list_messages()]
    assert visible == [later]
    for message_id in earlier:
        with pytest.raises(ResourceNotFoundError):
            reader.get_message(message_id)
    assert reader.get_message(later).content.message == "after"
    with pytest.raises(ResourceNotFoundError):
        reader.send_read_receipt(earlier[0])
    # The owner (history from 1970) still sees everything.
    assert set(earlier + [later]) <= {m.id for m in owner.list_messages()}
    shared = {p.identifier.raw_id: p for p in owner.list_participants()}[bob.user.raw_id]
    assert shared.share_history_time == share


def test_participant_without_share_time_sees_full_history(make_chat_client, thread_client):
    alice, bob = make_chat_client(), make_chat_client()
    owner = thread_client(alice.client, create_thread(alice))
    first = owner.send_message("first").id
    owner.add_participants([ChatParticipant(identifier=bob.user.identifier)])
    reader = thread_client(bob.client, owner.thread_id)
    assert reader.get_message(first).content.message == "first"
    assert len(list(reader.list_messages())) == 4


def test_future_share_time_hides_everything(make_chat_client, thread_client):
    alice, bob = make_chat_client(), make_chat_client()
    owner = thread_client(alice.client, create_thread(alice))
    owner.send_message("now")
    future = datetime.now(UTC) + timedelta(hours=1)
    owner.add_participants(
        [ChatParticipant(identifier=bob.user.identifier, share_history_time=future)]
    )
    owner.send_message("still hidden")
    assert list(thread_client(bob.client, owner.thread_id).list_messages()) == []
