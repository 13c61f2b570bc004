"""The poller against the emulator: what another client does straight through ACS (the async
SDK, not Kwebbel) is observed and logged."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

import pytest

from chat import gateway
from chat.models import ThreadRecord
from chat.people import raw_id_of
from chat.relay import events_after
from chat.relay.log import current_cursor
from chat.relay.poller import PAGE, ThreadPoller
from tests.fixtures.outside import aio_sdk_chat, aio_sdk_thread, identifier, participant
from tests.relay.conftest import idle, run_sync, wait_for
from tokens import services

pytestmark = pytest.mark.django_db(transaction=True)
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


async def token_of(user) -> str:
    return (await run_sync(services.get_token)(user)).token


async def logged(thread_id: str, after: int = 0) -> list:
    return await run_sync(events_after)(thread_id, after) or []


async def wait_logged(thread_id: str, predicate, what: str, after: int = 0) -> list:
    async def check():
        events = await logged(thread_id, after)
        return [e for e in events if predicate(e)]

    return await wait_for(check, what)


async def test_changes_made_straight_through_acs_are_logged(
    relay_site, users, make_thread, make_user
):
    alice, bob = await run_sync(users)(2)
    thread_id = await run_sync(make_thread)(alice, bob)
    await run_sync(current_cursor)(thread_id)
    poller = ThreadPoller(thread_id, phase=0)
    task = asyncio.create_task(poller.run())
    try:
        await wait_for(lambda: poller.polls >= 1, "the first poll")
        start = await run_sync(current_cursor)(thread_id)
        async with aio_sdk_thread(await token_of(bob), thread_id) as bob_client:
            first = (await bob_client.send_message("one")).id
            second = (await bob_client.send_message("two", metadata={"k": "v"})).id
            added = await wait_logged(
                thread_id,
                lambda e: e.kind == "message.added" and e.data["type"] == "text",
                "the two messages",
                start,
            )
            assert [e.data["id"] for e in added][:2] == [first, second]
            assert added[1].data["body"] == "two" and added[1].data["metadata"] == {"k": "v"}
            bob_id = await run_sync(raw_id_of)(bob)
            assert added[0].data["sender_id"] == bob_id

            await bob_client.update_message(first, content="one, edited")
            edited = await wait_logged(
                thread_id, lambda e: e.kind == "message.edited", "the edit", start
            )
            assert edited[0].data["body"] == "one, edited" and edited[0].data["edited_on"]
            await bob_client.delete_message(second)
            deleted = await wait_logged(
                thread_id, lambda e: e.kind == "message.deleted", "the deletion", start
            )
            assert deleted[0].data["id"] == second

            await bob_client.update_topic("Renamed outside")
            topic = await wait_logged(
                thread_id, lambda e: e.kind == "topic.changed", "the topic", start
            )
            assert topic[-1].data["topic"] == "Renamed outside"
            assert topic[-1].data["initiator"] == bob_id

            await bob_client.send_read_receipt(first)
            receipt = await wait_logged(
                thread_id, lambda e: e.kind == "receipt", "the receipt", start
            )
            assert receipt[0].data == {"reader": bob_id, "message_id": first}

            outsider = make_user()
            await bob_client.add_participants(
                [participant(outsider.raw_id, share_history_time=EPOCH)]
            )
            joined = await wait_logged(
                thread_id, lambda e: e.kind == "participants.added", "the new member", start
            )
            assert joined[0].data["participants"][0]["raw_id"] == outsider.raw_id
            await bob_client.remove_participant(identifier(outsider.raw_id))
            left = await wait_logged(
                thread_id, lambda e: e.kind == "participants.removed", "the removal", start
            )
            assert left[0].data["participants"] == [
                {"raw_id": outsider.raw_id, "share_history_time": None}
            ]
        # Each change once: nothing was published twice by later polls.
        await idle(poller, naps=10)
        events = await logged(thread_id, start)
        ids = [(e.kind, e.data.get("id")) for e in events if e.kind.startswith("message.")]
        assert len(ids) == len(set(ids))
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)


async def test_older_messages_are_rechecked_only_by_the_deep_scan(relay_site, users, make_thread):
    relay_site.RELAY_DEEP_SCAN_EVERY = 3600.0
    alice, bob = await run_sync(users)(2)
    thread_id = await run_sync(make_thread)(alice, bob)
    async with aio_sdk_thread(await token_of(bob), thread_id) as bob_client:
        old = (await bob_client.send_message("old")).id
        # Polls between scans re-read the newest message's second (ACS's times are to the
        # second): the fillers come in a later one.
        second = datetime.now(UTC).replace(microsecond=0)
        await wait_for(lambda: datetime.now(UTC).replace(microsecond=0) > second, "a new second")
        for n in range(PAGE + 5):
            await bob_client.send_message(f"filler {n}")
        poller = ThreadPoller(thread_id, phase=0)
        task = asyncio.create_task(poller.run())
        try:
            await wait_for(lambda: poller.polls >= 1, "the first poll (a deep scan)")
            start = await run_sync(current_cursor)(thread_id)
            await bob_client.update_message(old, content="old, edited")
            polls = poller.polls
            await wait_for(lambda: poller.polls >= polls + 3, "three ordinary polls")
            # The message is beyond the newest page: ordinary polls do not see the edit.
            assert await logged(thread_id, start) == []
            relay_site.RELAY_DEEP_SCAN_EVERY = 0.0
            edited = await wait_logged(
                thread_id, lambda e: e.kind == "message.edited", "the deep scan", start
            )
            assert edited[0].data["id"] == old
        finally:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)


async def test_a_burst_larger_than_a_page_is_read_back_to_the_last_seen_message(
    relay_site, users, make_thread
):
    alice, bob = await run_sync(users)(2)
    thread_id = await run_sync(make_thread)(alice, bob)
    relay_site.RELAY_POLL_INTERVAL = 3600.0  # one poll, then the test decides
    poller = ThreadPoller(thread_id, phase=0)
    client = gateway.service_poll_thread(thread_id)
    await poller.poll_once(client)
    start = await run_sync(current_cursor)(thread_id)
    async with aio_sdk_thread(await token_of(bob), thread_id) as bob_client:
        sent = [(await bob_client.send_message(f"burst {n}")).id for n in range(PAGE * 2 + 7)]
    calls = len(poller.calls)
    await poller.poll_once(client)
    pages = [c for c in list(poller.calls)[calls:] if c.operation == "list_messages"]
    assert len(pages) == 3
    added = [e.data["id"] for e in await logged(thread_id, start) if e.kind == "message.added"]
    assert added == sent


async def test_a_thread_without_the_service_identity_stops_its_poller_and_says_so(
    relay_site, users
):
    (alice,) = await run_sync(users)(1)
    async with aio_sdk_chat(await token_of(alice)) as client:
        thread_id = (await client.create_chat_thread("No service")).chat_thread.id
    await run_sync(ThreadRecord.objects.create)(chat_thread_id=thread_id, topic="No service")
    poller = ThreadPoller(thread_id, phase=0)
    await asyncio.wait_for(poller.run(), 30)  # returns by itself
    assert [c.status for c in poller.calls] == [403]
    assert poller.polls == 0
    assert [(e.kind, e.data) for e in await logged(thread_id)] == [
        ("relay.stopped", {"reason": "service-removed"})
    ]
    record = await run_sync(ThreadRecord.objects.get)(chat_thread_id=thread_id)
    assert record.service_removed_on is not None


async def test_a_thread_deleted_straight_through_acs_ends_with_one_event(
    relay_site, users, make_thread
):
    alice, bob = await run_sync(users)(2)
    thread_id = await run_sync(make_thread)(alice, bob)
    poller = ThreadPoller(thread_id, phase=0)
    task = asyncio.create_task(poller.run())
    try:
        await wait_for(lambda: poller.polls >= 1, "the first poll")
        async with aio_sdk_chat(await token_of(bob)) as client:
            await client.delete_chat_thread(thread_id)
        await asyncio.wait_for(task, 30)  # the poller ends by itself
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
    assert [e.kind for e in await logged(thread_id)][-1:] == ["thread.deleted"]
    record = await run_sync(ThreadRecord.objects.get)(chat_thread_id=thread_id)
    assert record.deleted_on is not None


async def test_two_quick_topic_changes_through_acs_are_two_events_in_order(
    relay_site, users, make_thread
):
    alice, bob = await run_sync(users)(2)
    thread_id = await run_sync(make_thread)(alice, bob)
    relay_site.RELAY_POLL_INTERVAL = 3600.0  # the test polls by hand
    poller = ThreadPoller(thread_id, phase=0)
    client = gateway.service_poll_thread(thread_id)
    await poller.poll_once(client)
    start = await run_sync(current_cursor)(thread_id)
    async with aio_sdk_thread(await token_of(bob), thread_id) as bob_client:
        await bob_client.update_topic("First")
        await bob_client.update_topic("Second")
    await poller.poll_once(client)  # reads both announcements in one poll
    await poller.poll_once(client)
    topics = [e.data for e in await logged(thread_id, start) if e.kind == "topic.changed"]
    bob_id = await run_sync(raw_id_of)(bob)
    assert topics == [
        {"topic": "First", "initiator": bob_id},
        {"topic": "Second", "initiator": bob_id},
    ]
