"""The poller with events on: a hint makes it read at once (polls slowed right down), trusted
events make it reconcile rarely, and a change no event announced puts it back on fast polls.

Changes are made straight through ACS with another user's token; hints are handed to the poller
directly here (the webhook and the channel layer are tested in tests/chat and tests/live)."""

from __future__ import annotations

import asyncio
import logging

import pytest

from chat.relay import acs_events
from chat.relay.poller import PAGE, ThreadPoller
from tests.fixtures.outside import aio_sdk_thread
from tests.relay.conftest import idle, run_sync, wait_for
from tests.relay.test_poller import logged, token_of, wait_logged

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def events_on(relay_site):
    relay_site.RELAY_EVENTS = True
    relay_site.RELAY_POLL_INTERVAL = 60.0
    relay_site.RELAY_EDIT_SCAN_EVERY = 60.0
    relay_site.RELAY_DEEP_SCAN_EVERY = 60.0
    relay_site.RELAY_TRUSTED_POLL_INTERVAL = 60.0
    relay_site.RELAY_TRUSTED_RECEIPTS_EVERY = 60.0
    return relay_site


async def started(thread_id: str) -> tuple[ThreadPoller, asyncio.Task[None]]:
    poller = ThreadPoller(thread_id, phase=0)
    task = asyncio.create_task(poller.run())
    await wait_for(lambda: poller.polls >= 1, "the first poll")
    await idle(poller)
    return poller, task


async def stop(task: asyncio.Task[None]) -> None:
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)


async def test_a_hint_is_read_at_once_with_polls_a_minute_apart(events_on, users, make_thread):
    alice, bob = await run_sync(users)(2)
    thread_id = await run_sync(make_thread)(alice, bob)
    poller, task = await started(thread_id)
    try:
        polls = poller.polls
        async with aio_sdk_thread(await token_of(bob), thread_id) as bob_client:
            sent = (await bob_client.send_message("pushed")).id
            poller.hint([acs_events.MESSAGE_NEW], [sent])
            added = await wait_logged(
                thread_id, lambda e: e.kind == "message.added" and e.data["id"] == sent, "it"
            )
            await wait_for(lambda: poller.polls > polls, "the round to end")
            await idle(poller)
            assert added and poller.trusted and poller.hint_reads == 1
            assert poller.polls == polls + 1  # one round, woken by the hint, not by time
    finally:
        await stop(task)


async def test_an_edit_of_an_older_message_is_read_from_its_hint(events_on, users, make_thread):
    alice, bob = await run_sync(users)(2)
    thread_id = await run_sync(make_thread)(alice, bob)
    async with aio_sdk_thread(await token_of(bob), thread_id) as bob_client:
        old = (await bob_client.send_message("old")).id
        for n in range(PAGE + 2):  # the old one is no longer among the newest PAGE
            await bob_client.send_message(f"filler {n}")
        poller, task = await started(thread_id)
        try:
            await bob_client.update_message(old, content="old, edited")
            poller.hint([acs_events.MESSAGE_CHANGED], [old])
            edited = await wait_logged(
                thread_id, lambda e: e.kind == "message.edited" and e.data["id"] == old, "edit"
            )
            assert edited[0].data["body"] == "old, edited"
        finally:
            await stop(task)


async def test_a_change_no_event_announced_puts_the_thread_back_on_fast_polls(
    events_on, users, make_thread, caplog
):
    alice, bob = await run_sync(users)(2)
    thread_id = await run_sync(make_thread)(alice, bob)
    events_on.RELAY_TRUSTED_POLL_INTERVAL = 1.0
    poller, task = await started(thread_id)
    try:
        async with aio_sdk_thread(await token_of(bob), thread_id) as bob_client:
            announced = (await bob_client.send_message("announced")).id
            poller.hint([acs_events.MESSAGE_NEW], [announced])
            await wait_logged(thread_id, lambda e: e.data.get("id") == announced, "announced")
            # A reconciliation that finds nothing new keeps the events trusted.
            checks = poller.polls
            await wait_for(lambda: poller.polls >= checks + 2, "reconciliations")
            assert poller.trusted and poller.fallbacks == 0
            with caplog.at_level(logging.WARNING, logger="chat.relay.poller"):
                silent = (await bob_client.send_message("no event for this one")).id
                await wait_logged(thread_id, lambda e: e.data.get("id") == silent, "silent")
                await wait_for(lambda: not poller.trusted, "fast polling again")
        assert poller.fallbacks == 1
        assert any("no event announced" in r.getMessage() for r in caplog.records)
        # Published once, by the reconciliation.
        ids = [e.data.get("id") for e in await logged(thread_id) if e.kind == "message.added"]
        assert ids.count(silent) == 1 and ids.count(announced) == 1
    finally:
        await stop(task)


async def test_with_events_off_a_hint_wakes_but_trusts_nothing(relay_site, users, make_thread):
    relay_site.RELAY_POLL_INTERVAL = 60.0
    alice, bob = await run_sync(users)(2)
    thread_id = await run_sync(make_thread)(alice, bob)
    poller, task = await started(thread_id)
    try:
        async with aio_sdk_thread(await token_of(bob), thread_id) as bob_client:
            sent = (await bob_client.send_message("hi")).id
            poller.hint([acs_events.MESSAGE_NEW], [sent])
            await wait_logged(thread_id, lambda e: e.data.get("id") == sent, "the message")
        assert not poller.trusted
    finally:
        await stop(task)
