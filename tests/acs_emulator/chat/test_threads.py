"""Thread operations through the sync SDK over HTTPS."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest
from azure.communication.chat import ChatMessageType, ChatParticipant
from azure.communication.identity import CommunicationUserIdentifier
from azure.core.exceptions import HttpResponseError, ResourceNotFoundError

from .helpers import create_thread, unknown_user_id


@pytest.mark.acs_live
def test_create_thread_makes_creator_a_participant_with_system_messages(
    make_chat_client, thread_client
):
    alice, bob = make_chat_client(), make_chat_client()
    result = alice.client.create_chat_thread(
        "Lunch",
        thread_participants=[ChatParticipant(identifier=bob.user.identifier, display_name="Bob")],
    )
    thread = result.chat_thread
    assert result.errors == []
    assert thread.id.startswith("19:") and thread.id.endswith("@thread.v2")
    assert thread.topic == "Lunch"
    assert thread.created_by.raw_id == alice.user.raw_id

    client = thread_client(alice.client, thread.id)
    participants = {p.identifier.raw_id: p for p in client.list_participants()}
    assert set(participants) == {alice.user.raw_id, bob.user.raw_id}
    creator = participants[alice.user.raw_id]
    assert creator.display_name is None
    assert creator.share_history_time == datetime(1970, 1, 1, tzinfo=UTC)
    assert participants[bob.user.raw_id].display_name == "Bob"

    messages = list(client.list_messages())
    assert [(m.sequence_id, m.type) for m in messages] == [
        ("2", ChatMessageType.TOPIC_UPDATED),
        ("1", ChatMessageType.PARTICIPANT_ADDED),
    ]
    assert messages[0].content.topic == "Lunch"
    assert messages[0].content.initiator.raw_id == alice.user.raw_id
    assert {p.identifier.raw_id for p in messages[1].content.participants} == set(participants)
    assert all(m.sender is None for m in messages)


@pytest.mark.acs_live
def test_same_idempotency_token_returns_the_same_thread(make_chat_client):
    alice, bob = make_chat_client(), make_chat_client()
    token = str(uuid.uuid4())
    first = alice.client.create_chat_thread("Once", idempotency_token=token)
    again = alice.client.create_chat_thread("Once", idempotency_token=token)
    assert again.chat_thread.id == first.chat_thread.id
    other = bob.client.create_chat_thread("Once", idempotency_token=token)
    assert other.chat_thread.id != first.chat_thread.id
    mine = [t.id for t in alice.client.list_chat_threads()]
    assert mine.count(first.chat_thread.id) == 1


def test_unknown_participant_is_returned_as_error(make_chat_client, thread_client):
    alice = make_chat_client()
    ghost = CommunicationUserIdentifier(unknown_user_id(alice.user.raw_id))
    result = alice.client.create_chat_thread(
        "Partial", thread_participants=[ChatParticipant(identifier=ghost)]
    )
    assert len(result.errors) == 1
    participant, error = result.errors[0]
    assert participant.identifier.raw_id == ghost.raw_id
    assert (error.code, error.message, error.target) == (
        "403",
        "Permissions check failed",
        ghost.raw_id,
    )
    client = thread_client(alice.client, result.chat_thread.id)
    assert [p.identifier.raw_id for p in client.list_participants()] == [alice.user.raw_id]


def test_malformed_participant_fails_the_whole_create(make_chat_client):
    alice = make_chat_client()
    before = {t.id for t in alice.client.list_chat_threads()}
    with pytest.raises(HttpResponseError) as info:
        alice.client.create_chat_thread(
            "Bad",
            thread_participants=[
                ChatParticipant(identifier=CommunicationUserIdentifier("8:acs:fakeid==="))
            ],
        )
    assert info.value.status_code == 400
    assert info.value.error.message == "Identifier format is invalid (8:acs:fakeid===)."
    assert {t.id for t in alice.client.list_chat_threads()} == before


def test_list_threads_pages_newest_activity_first(make_chat_client, thread_client):
    alice = make_chat_client()
    ids = [create_thread(alice, topic=f"t{i}") for i in range(5)]
    # New activity moves the oldest thread to the front.
    thread_client(alice.client, ids[0]).send_message("bump")
    pages = [list(page) for page in alice.client.list_chat_threads(results_per_page=2).by_page()]
    assert [len(page) for page in pages] == [2, 2, 1]
    assert [t.id for page in pages for t in page] == [ids[0], *reversed(ids[1:])]
    first = pages[0][0]
    assert first.topic == "t0" and first.deleted_on is None


def test_list_threads_start_time_filters_on_last_message(make_chat_client):
    alice = make_chat_client()
    thread_id = create_thread(alice)
    future = datetime.now(UTC) + timedelta(hours=1)
    assert list(alice.client.list_chat_threads(start_time=future)) == []
    past = datetime.now(UTC) - timedelta(hours=1)
    assert thread_id in [t.id for t in alice.client.list_chat_threads(start_time=past)]


@pytest.mark.acs_live
def test_update_topic_changes_properties_and_adds_system_message(make_chat_client, thread_client):
    alice = make_chat_client()
    client = thread_client(alice.client, create_thread(alice, topic="Before"))
    client.update_topic("After")
    assert client.get_properties().topic == "After"
    newest = next(iter(client.list_messages()))
    assert (newest.type, newest.sequence_id, newest.content.topic) == (
        ChatMessageType.TOPIC_UPDATED,
        "3",
        "After",
    )
    client.update_topic(None)  # the SDK sends {}: succeeds, changes nothing
    assert client.get_properties().topic == "After"
    assert len(list(client.list_messages())) == 3


def test_empty_topic_is_refused(make_chat_client, thread_client, raw_chat):
    alice = make_chat_client()
    # The SDK refuses an empty topic on create itself, so that one goes over raw HTTP.
    response = raw_chat.call("POST", "/chat/threads", alice.user.token, body={"topic": " "})
    assert response.status_code == 400
    assert response.json()["error"]["message"] == "'topic' must not be empty."
    client = thread_client(alice.client, create_thread(alice, topic="Kept"))
    with pytest.raises(HttpResponseError) as info:
        client.update_topic("")
    assert info.value.status_code == 400
    assert client.get_properties().topic == "Kept"


def test_delete_thread_is_soft_and_idempotent(make_chat_client, thread_client):
    alice = make_chat_client()
    thread_id = create_thread(alice)
    alice.client.delete_chat_thread(thread_id)
    alice.client.delete_chat_thread(thread_id)
    listed = {t.id: t for t in alice.client.list_chat_threads()}
    assert listed[thread_id].deleted_on is not None
    client = thread_client(alice.client, thread_id)
    with pytest.raises(ResourceNotFoundError):
        client.get_properties()
    with pytest.raises(ResourceNotFoundError):
        client.send_message("too late")


def test_unknown_thread_is_404(make_chat_client, thread_client):
    alice = make_chat_client()
    client = thread_client(alice.client, "19:doesnotexist@thread.v2")
    with pytest.raises(ResourceNotFoundError):
        client.get_properties()
