"""The same operations through the async SDK (azure.communication.chat.aio, over aiohttp)."""

from __future__ import annotations

import uuid

import pytest
from azure.communication.chat import ChatMessageType, ChatParticipant
from azure.communication.identity import CommunicationUserIdentifier
from azure.core.exceptions import HttpResponseError, ResourceNotFoundError

from .helpers import unknown_user_id


async def collect(paged) -> list:
    return [item async for item in paged]


async def pages_of(paged) -> list[list]:
    return [[item async for item in page] async for page in paged.by_page()]


async def test_thread_lifecycle(make_async_chat_client, acs_emulator):
    (alice, alice_client), (bob, bob_client) = make_async_chat_client(), make_async_chat_client()
    async with alice_client, bob_client:
        token = str(uuid.uuid4())
        result = await alice_client.create_chat_thread(
            "Async",
            thread_participants=[ChatParticipant(identifier=bob.identifier, display_name="Bob")],
            idempotency_token=token,
        )
        again = await alice_client.create_chat_thread("Async", idempotency_token=token)
        thread_id = result.chat_thread.id
        assert again.chat_thread.id == thread_id and result.errors == []
        assert result.chat_thread.created_by.raw_id == alice.raw_id

        a = alice_client.get_chat_thread_client(thread_id, connection_verify=acs_emulator.ca_bundle)
        b = bob_client.get_chat_thread_client(thread_id, connection_verify=acs_emulator.ca_bundle)
        async with a, b:
            await a.update_topic("Renamed")
            assert (await b.get_properties()).topic == "Renamed"

            sent = await a.send_message("hi", sender_display_name="Alice", metadata={"k": "v"})
            message = await b.get_message(sent.id)
            assert (message.content.message, message.sender_display_name) == ("hi", "Alice")
            assert message.metadata == {"k": "v"} and message.sequence_id == "4"

            await a.update_message(sent.id, content="edited")
            edited = await b.get_message(sent.id)
            assert edited.content.message == "edited" and edited.edited_on is not None
            with pytest.raises(HttpResponseError) as info:
                await b.update_message(sent.id, content="not yours")
            assert info.value.status_code == 403

            await b.send_typing_notification(sender_display_name="Bob")
            await b.send_read_receipt(sent.id)
            receipts = await collect(a.list_read_receipts())
            assert [(r.sender.raw_id, r.chat_message_id) for r in receipts] == [
                (bob.raw_id, sent.id)
            ]

            await a.delete_message(sent.id)
            deleted = await b.get_message(sent.id)
            assert deleted.content.message == "" and deleted.deleted_on is not None

            await a.remove_participant(bob.identifier)
            with pytest.raises(HttpResponseError) as info:
                await b.get_properties()
            assert info.value.status_code == 403

        await alice_client.delete_chat_thread(thread_id)
        listed = {t.id: t async for t in alice_client.list_chat_threads()}
        assert listed[thread_id].deleted_on is not None


async def test_paging_and_partial_failures(make_async_chat_client, acs_emulator):
    alice, client = make_async_chat_client()
    async with client:
        thread_id = (await client.create_chat_thread("Pages")).chat_thread.id
        thread = client.get_chat_thread_client(thread_id, connection_verify=acs_emulator.ca_bundle)
        async with thread:
            for i in range(12):
                await thread.send_message(f"m{i}")
            pages = await pages_of(thread.list_messages(results_per_page=5))
            assert [len(p) for p in pages] == [5, 5, 4]
            sequences = [m.sequence_id for p in pages for m in p]
            assert sequences == [str(n) for n in range(14, 0, -1)]
            assert pages[-1][-1].type == ChatMessageType.PARTICIPANT_ADDED

            ghost = CommunicationUserIdentifier(unknown_user_id(alice.raw_id))
            errors = await thread.add_participants([ChatParticipant(identifier=ghost)])
            assert [(p.identifier.raw_id, e.target) for p, e in errors] == [
                (ghost.raw_id, ghost.raw_id)
            ]
            with pytest.raises(HttpResponseError) as info:
                await thread.add_participants(
                    [ChatParticipant(identifier=CommunicationUserIdentifier("8:acs:bad id"))]
                )
            assert info.value.status_code == 400
            participants = await pages_of(thread.list_participants(results_per_page=1))
            assert [[p.identifier.raw_id for p in page] for page in participants] == [
                [alice.raw_id]
            ]

        threads = await pages_of(client.list_chat_threads(results_per_page=1))
        assert [t.id for page in threads for t in page] == [thread_id]

        missing = client.get_chat_thread_client(
            "19:missing@thread.v2", connection_verify=acs_emulator.ca_bundle
        )
        async with missing:
            with pytest.raises(ResourceNotFoundError):
                await missing.get_properties()
