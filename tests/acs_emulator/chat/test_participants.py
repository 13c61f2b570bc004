"""Participant operations through the sync SDK over HTTPS."""

from __future__ import annotations

import pytest
from azure.communication.chat import ChatMessageType, ChatParticipant
from azure.communication.identity import CommunicationUserIdentifier
from azure.core.exceptions import HttpResponseError

from .helpers import create_thread, unknown_user_id


def raw_ids(client) -> list[str]:
    return [p.identifier.raw_id for p in client.list_participants()]


@pytest.mark.acs_live
def test_add_participants_and_system_message(make_chat_client, thread_client):
    alice, bob, carol = make_chat_client(), make_chat_client(), make_chat_client()
    client = thread_client(alice.client, create_thread(alice))
    errors = client.add_participants(
        [
            ChatParticipant(identifier=bob.user.identifier, display_name="Bob"),
            ChatParticipant(identifier=carol.user.identifier),
        ]
    )
    assert errors == []
    assert raw_ids(client) == [alice.user.raw_id, bob.user.raw_id, carol.user.raw_id]
    added = next(iter(client.list_messages()))
    assert (added.type, added.sequence_id) == (ChatMessageType.PARTICIPANT_ADDED, "3")
    assert added.content.initiator.raw_id == alice.user.raw_id
    assert [p.identifier.raw_id for p in added.content.participants] == [
        bob.user.raw_id,
        carol.user.raw_id,
    ]
    # Bob can now read the thread.
    assert thread_client(bob.client, client.thread_id).get_properties().topic == "Topic"


def test_adding_a_member_again_changes_nothing(make_chat_client, thread_client):
    alice, bob = make_chat_client(), make_chat_client()
    client = thread_client(alice.client, create_thread(alice, bob))
    before = len(list(client.list_messages()))
    assert client.add_participants([ChatParticipant(identifier=bob.user.identifier)]) == []
    assert raw_ids(client) == [alice.user.raw_id, bob.user.raw_id]
    assert len(list(client.list_messages())) == before


def test_unknown_participant_is_returned_as_error(make_chat_client, thread_client):
    alice, bob = make_chat_client(), make_chat_client()
    client = thread_client(alice.client, create_thread(alice))
    ghost = CommunicationUserIdentifier(unknown_user_id(alice.user.raw_id))
    errors = client.add_participants(
        [ChatParticipant(identifier=bob.user.identifier), ChatParticipant(identifier=ghost)]
    )
    assert len(errors) == 1
    participant, error = errors[0]
    assert participant.identifier.raw_id == ghost.raw_id
    assert (error.code, error.target) == ("403", ghost.raw_id)
    assert raw_ids(client) == [alice.user.raw_id, bob.user.raw_id]


def test_malformed_participant_fails_the_whole_add(make_chat_client, thread_client):
    alice, bob = make_chat_client(), make_chat_client()
    client = thread_client(alice.client, create_thread(alice))
    with pytest.raises(HttpResponseError) as info:
        client.add_participants(
            [
                ChatParticipant(identifier=bob.user.identifier),
                ChatParticipant(identifier=CommunicationUserIdentifier("8:acs:fakeid===")),
            ]
        )
    assert info.value.status_code == 400
    assert info.value.error.message == "Identifier format is invalid (8:acs:fakeid===)."
    assert raw_ids(client) == [alice.user.raw_id]


def test_list_participants_pages_and_skip(make_chat_client, thread_client):
    alice = make_chat_client()
    others = [make_chat_client() for _ in range(4)]
    client = thread_client(alice.client, create_thread(alice, *others))
    everyone = [alice.user.raw_id, *(o.user.raw_id for o in others)]
    pages = [list(page) for page in client.list_participants(results_per_page=2).by_page()]
    assert [len(page) for page in pages] == [2, 2, 1]
    assert [p.identifier.raw_id for page in pages for p in page] == everyone
    skipped = client.list_participants(results_per_page=2, skip=3)
    assert [p.identifier.raw_id for p in skipped] == everyone[3:]


@pytest.mark.acs_live
def test_remove_participant(make_chat_client, thread_client):
    alice, bob, carol = make_chat_client(), make_chat_client(), make_chat_client()
    client = thread_client(alice.client, create_thread(alice, bob))
    client.remove_participant(bob.user.identifier)
    assert raw_ids(client) == [alice.user.raw_id]
    removed = next(iter(client.list_messages()))
    assert removed.type == ChatMessageType.PARTICIPANT_REMOVED
    assert [p.identifier.raw_id for p in removed.content.participants] == [bob.user.raw_id]
    assert removed.content.initiator.raw_id == alice.user.raw_id
    count = len(list(client.list_messages()))
    client.remove_participant(carol.user.identifier)  # never a member: 204, nothing happens
    client.remove_participant(bob.user.identifier)  # already removed
    assert len(list(client.list_messages())) == count


@pytest.mark.acs_live
def test_participant_can_remove_themselves(make_chat_client, thread_client):
    alice, bob = make_chat_client(), make_chat_client()
    thread_id = create_thread(alice, bob)
    thread_client(bob.client, thread_id).remove_participant(bob.user.identifier)
    assert raw_ids(thread_client(alice.client, thread_id)) == [alice.user.raw_id]
