"""Who may do what: non-participants, other people's messages, removed participants."""

from __future__ import annotations

import pytest
from azure.communication.chat import ChatParticipant
from azure.core.exceptions import HttpResponseError

from .helpers import create_thread

DENIED = "The initiator doesn't have the permission to perform the requested operation."


def assert_forbidden(call) -> None:
    with pytest.raises(HttpResponseError) as info:
        call()
    assert info.value.status_code == 403
    assert info.value.error.code == "Forbidden"


def every_thread_call(client, message_id: str, identifier) -> list:
    return [
        client.get_properties,
        lambda: list(client.list_messages()),
        lambda: client.get_message(message_id),
        lambda: client.send_message("intruder"),
        lambda: client.update_message(message_id, content="x"),
        lambda: client.delete_message(message_id),
        lambda: list(client.list_participants()),
        lambda: client.add_participants([ChatParticipant(identifier=identifier)]),
        lambda: client.remove_participant(identifier),
        client.send_typing_notification,
        lambda: client.send_read_receipt(message_id),
        lambda: list(client.list_read_receipts()),
        lambda: client.update_topic("hijack"),
    ]


def test_non_participant_is_denied_everything(make_chat_client, thread_client):
    alice, mallory = make_chat_client(), make_chat_client()
    owner = thread_client(alice.client, create_thread(alice, topic="Private"))
    message_id = owner.send_message("secret").id
    outsider = thread_client(mallory.client, owner.thread_id)
    for call in every_thread_call(outsider, message_id, mallory.user.identifier):
        assert_forbidden(call)
    with pytest.raises(HttpResponseError) as info:
        mallory.client.delete_chat_thread(owner.thread_id)
    assert info.value.status_code == 403
    assert info.value.error.message == DENIED
    assert owner.get_properties().topic == "Private"
    assert owner.thread_id not in [t.id for t in mallory.client.list_chat_threads()]


def test_only_the_sender_may_edit_or_delete(make_chat_client, thread_client):
    alice, bob = make_chat_client(), make_chat_client()
    thread_id = create_thread(alice, bob)
    message_id = thread_client(alice.client, thread_id).send_message("mine").id
    other = thread_client(bob.client, thread_id)
    assert_forbidden(lambda: other.update_message(message_id, content="yours now"))
    assert_forbidden(lambda: other.delete_message(message_id))
    message = other.get_message(message_id)
    assert (message.content.message, message.deleted_on) == ("mine", None)


def test_system_messages_cannot_be_edited(make_chat_client, thread_client):
    alice = make_chat_client()
    client = thread_client(alice.client, create_thread(alice))
    system = list(client.list_messages())[-1]
    assert_forbidden(lambda: client.delete_message(system.id))
    assert_forbidden(lambda: client.update_message(system.id, content="x"))


def test_removed_participant_is_denied_everything(make_chat_client, thread_client):
    alice, bob = make_chat_client(), make_chat_client()
    thread_id = create_thread(alice, bob)
    former = thread_client(bob.client, thread_id)
    message_id = former.send_message("before leaving").id
    thread_client(alice.client, thread_id).remove_participant(bob.user.identifier)
    for call in every_thread_call(former, message_id, bob.user.identifier):
        assert_forbidden(call)
    assert thread_id not in [t.id for t in bob.client.list_chat_threads()]
    # Their earlier message stays in the thread for the others.
    kept = thread_client(alice.client, thread_id).get_message(message_id)
    assert kept.sender.raw_id == bob.user.raw_id
