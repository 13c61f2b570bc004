"""Message operations through the sync SDK over HTTPS."""

from __future__ import annotations

from datetime import timedelta

import pytest
from azure.communication.chat import ChatMessageType
from azure.core.exceptions import HttpResponseError, ResourceNotFoundError

from .helpers import create_thread, wait_past


@pytest.fixture
def alice_thread(make_chat_client, thread_client):
    alice = make_chat_client()
    return alice, thread_client(alice.client, create_thread(alice))


@pytest.mark.acs_live
def test_send_and_get_text_message(alice_thread):
    alice, client = alice_thread
    message_id = client.send_message("hello").id
    message = client.get_message(message_id)
    assert message.id == message_id and message.version == message_id
    assert int(message_id) > 1_600_000_000_000  # epoch milliseconds
    assert message.type == ChatMessageType.TEXT
    assert message.sequence_id == "3"
    assert message.content.message == "hello"
    assert message.sender.raw_id == alice.user.raw_id
    assert message.sender_display_name == ""
    assert message.edited_on is None and message.deleted_on is None
    assert not message.metadata


def test_send_html_with_display_name_and_metadata(alice_thread):
    _, client = alice_thread
    message_id = client.send_message(
        "<p>hi</p>",
        chat_message_type=ChatMessageType.HTML,
        sender_display_name="Alice",
        metadata={"tag": "x", "tracking": "42"},
    ).id
    message = client.get_message(message_id)
    assert message.type == ChatMessageType.HTML
    assert message.content.message == "<p>hi</p>"
    assert message.sender_display_name == "Alice"
    assert message.metadata == {"tag": "x", "tracking": "42"}


@pytest.mark.acs_live
def test_message_ids_and_sequences_increase(alice_thread):
    _, client = alice_thread
    ids = [client.send_message(f"m{i}").id for i in range(3)]
    assert [int(i) for i in ids] == sorted(int(i) for i in ids) and len(set(ids)) == 3
    assert [client.get_message(i).sequence_id for i in ids] == ["3", "4", "5"]


@pytest.mark.acs_live
def test_list_messages_pages_newest_first(alice_thread):
    _, client = alice_thread
    sent = [client.send_message(f"m{i}").id for i in range(25)]
    pages = [list(page) for page in client.list_messages(results_per_page=10).by_page()]
    assert [len(page) for page in pages] == [10, 10, 7]
    messages = [m for page in pages for m in page]
    assert [m.sequence_id for m in messages] == [str(n) for n in range(27, 0, -1)]
    assert [m.id for m in messages[:25]] == list(reversed(sent))
    assert all(m.content is not None for m in messages)


def test_list_messages_start_time(alice_thread):
    _, client = alice_thread
    early = client.get_message(client.send_message("early").id)
    # Timestamps come back with second precision: start at the next full second.
    start = early.created_on + timedelta(seconds=1)
    wait_past(start)
    late = client.send_message("late").id
    listed = [m.id for m in client.list_messages(start_time=start)]
    assert listed == [late]
    assert early.id in [m.id for m in client.list_messages(start_time=early.created_on)]


@pytest.mark.acs_live
def test_update_message_content_and_metadata(alice_thread):
    _, client = alice_thread
    message_id = client.send_message("first", metadata={"a": "1"}).id
    original = client.get_message(message_id)
    client.update_message(message_id, content="second")
    edited = client.get_message(message_id)
    assert edited.content.message == "second"
    assert edited.metadata == {"a": "1"}
    assert edited.edited_on is not None
    assert edited.version != original.version and int(edited.version) > int(original.version)
    client.update_message(message_id, metadata={"b": "2"})
    again = client.get_message(message_id)
    assert (again.content.message, again.metadata) == ("second", {"b": "2"})
    assert again.version != edited.version


@pytest.mark.acs_live
def test_delete_message_is_soft(alice_thread):
    _, client = alice_thread
    message_id = client.send_message("bye").id
    original = client.get_message(message_id)
    client.delete_message(message_id)
    deleted = client.get_message(message_id)
    assert deleted.content.message == ""
    assert deleted.deleted_on is not None
    assert deleted.version != original.version
    client.delete_message(message_id)  # again: still 204
    assert client.get_message(message_id).version == deleted.version
    with pytest.raises(HttpResponseError) as info:
        client.update_message(message_id, content="resurrect")
    assert info.value.status_code == 400
    listed = {m.id: m for m in client.list_messages()}
    assert listed[message_id].deleted_on is not None


def test_oversize_content_is_refused(alice_thread):
    _, client = alice_thread
    with pytest.raises(HttpResponseError) as info:
        client.send_message("x" * (28 * 1024 + 1))
    assert info.value.status_code == 400
    assert "28672" in info.value.error.message
    message_id = client.send_message("x" * (28 * 1024)).id
    assert len(client.get_message(message_id).content.message) == 28 * 1024
    with pytest.raises(HttpResponseError) as info:
        client.update_message(message_id, content="é" * (14 * 1024 + 1))
    assert info.value.status_code == 400
    assert len(list(client.list_messages())) == 3


def test_unknown_message_is_404(alice_thread):
    _, client = alice_thread
    with pytest.raises(ResourceNotFoundError):
        client.get_message("1234567890123")
    with pytest.raises(ResourceNotFoundError):
        client.delete_message("1234567890123")
