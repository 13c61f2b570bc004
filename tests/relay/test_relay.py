"""The Relay: refcounted watching, one poller per thread (in-process and across processes via
Redis), hand-over when the holder's viewers leave, and clean shutdown."""

from __future__ import annotations

import asyncio
import uuid

import pytest

from chat.relay.locks import InProcessLocks, RedisLocks
from chat.relay.relay import Relay, get_relay, reset_relay
from tests.relay.conftest import idle, run_sync, wait_for

pytestmark = pytest.mark.django_db(transaction=True)


def list_calls(emulator, thread_id: str) -> int:
    return emulator.stats(thread=thread_id)["operations"].get("ChatThread_ListChatMessages", 0)


def recorded_list_calls(pollers: list) -> int:
    return sum(c.operation == "list_messages" for p in pollers for c in p.calls)


class Tracking:
    """A poller factory that keeps every poller it made, per relay."""

    def __init__(self) -> None:
        self.made: list = []

    def __call__(self, thread_id: str):
        from chat.relay.poller import ThreadPoller

        poller = ThreadPoller(thread_id)
        self.made.append(poller)
        return poller


async def test_watch_counts_viewers_and_the_last_one_leaving_stops_the_poller(
    relay_site, acs_emulator, users, make_thread
):
    alice, bob = await run_sync(users)(2)
    thread_id = await run_sync(make_thread)(alice, bob)
    other = await run_sync(make_thread)(alice, bob)
    made = Tracking()
    relay = Relay(locks=InProcessLocks(), poller_factory=made, lock_retry=0.05)
    try:
        before = await asyncio.to_thread(list_calls, acs_emulator, thread_id)
        assert before == 0 and not relay.polling(thread_id)  # nobody watches: no poller
        await relay.watch(thread_id)
        await relay.watch(thread_id)
        await wait_for(lambda: made.made and made.made[0].polls >= 2, "polling")
        await relay.unwatch(thread_id)
        assert relay.viewers(thread_id) == 1 and relay.polling(thread_id)
        polls = made.made[0].polls
        await wait_for(lambda: made.made[0].polls >= polls + 2, "polling on with one viewer")
        await relay.unwatch(thread_id)
        assert relay.viewers(thread_id) == 0 and not relay.polling(thread_id)
        stopped_at = await asyncio.to_thread(list_calls, acs_emulator, thread_id)
        assert stopped_at == recorded_list_calls(made.made)
        # While another thread is polled twenty times, this one's counters do not move: nobody
        # watches it, nobody polls it.
        await relay.watch(other)
        await wait_for(lambda: len(made.made) == 2 and made.made[1].polls >= 20, "20 polls")
        assert await asyncio.to_thread(list_calls, acs_emulator, thread_id) == stopped_at
        assert relay.poller_starts[thread_id] == 1
    finally:
        await relay.stop()


async def test_two_relays_in_one_process_share_one_poller_and_hand_over(
    relay_site, acs_emulator, users, make_thread
):
    alice, bob = await run_sync(users)(2)
    thread_id = await run_sync(make_thread)(alice, bob)
    first, second = Tracking(), Tracking()
    a = Relay(locks=InProcessLocks(), poller_factory=first, lock_retry=0.05)
    b = Relay(locks=InProcessLocks(), poller_factory=second, lock_retry=0.05)
    try:
        await a.watch(thread_id)
        await wait_for(lambda: a.polling(thread_id), "a to poll")
        await b.watch(thread_id)
        await wait_for(lambda: first.made[0].polls >= 5, "five polls by a")
        assert not b.polling(thread_id) and second.made == []
        await a.unwatch(thread_id)
        await wait_for(lambda: b.polling(thread_id), "b to take over")
        assert not a.polling(thread_id)
    finally:
        await a.stop()
        await b.stop()


@pytest.fixture
def redis_locks(redis_url: str):
    """``redis_locks()`` -> a new RedisLocks (own client) on db 2 under a test-unique prefix."""
    base = redis_url.rsplit("/", 1)[0] + "/2"
    prefix = f"kwebbel-test-{uuid.uuid4().hex[:8]}:"

    def make(**options) -> RedisLocks:
        return RedisLocks(base, prefix=prefix, **options)

    make.url = base  # type: ignore[attr-defined]
    make.prefix = prefix  # type: ignore[attr-defined]
    return make


async def redis_keys(url: str, prefix: str) -> list[bytes]:
    from redis.asyncio import Redis

    client = Redis.from_url(url)
    try:
        return [k async for k in client.scan_iter(match=prefix + "*")]
    finally:
        await client.aclose()


@pytest.mark.redis
async def test_two_processes_on_redis_run_one_poller_and_the_other_takes_over(
    relay_site, acs_emulator, users, make_thread, redis_locks
):
    alice, bob = await run_sync(users)(2)
    thread_id = await run_sync(make_thread)(alice, bob)
    first, second = Tracking(), Tracking()
    # Separate lock clients, as two server processes would have.
    a = Relay(locks=redis_locks(), poller_factory=first, lock_retry=0.05)
    b = Relay(locks=redis_locks(), poller_factory=second, lock_retry=0.05)
    try:
        await a.watch(thread_id)
        await b.watch(thread_id)
        await wait_for(lambda: first.made or second.made, "a poller")
        holder, other = (a, b) if a.polling(thread_id) else (b, a)
        active = first if holder is a else second
        idle_one = second if holder is a else first
        await wait_for(lambda: active.made[0].polls >= 10, "ten polls")
        # Both relays keep retrying the lock; only one ever polled.
        assert idle_one.made == [] and not other.polling(thread_id)
        emulator = await asyncio.to_thread(list_calls, acs_emulator, thread_id)
        recorded = recorded_list_calls(active.made)
        # Every list call ACS saw for the thread came from the one poller (it may have one
        # more in flight when the counters were read).
        assert recorded <= emulator <= recorded + 1
        await holder.unwatch(thread_id)
        await wait_for(lambda: other.polling(thread_id), "the other relay to take over")
        assert not holder.polling(thread_id)
        taken = idle_one.made[0]
        await wait_for(lambda: taken.polls >= 3, "polls after the hand-over")
        assert len(active.made) == 1  # the first holder never polled again
    finally:
        await a.stop()
        await b.stop()
    # Stopped: every lock released.
    assert await redis_keys(redis_locks.url, redis_locks.prefix) == []


@pytest.mark.redis
async def test_a_lost_redis_lock_stops_the_poller(relay_site, users, make_thread, redis_locks):
    from redis.asyncio import Redis

    alice, bob = await run_sync(users)(2)
    thread_id = await run_sync(make_thread)(alice, bob)
    made = Tracking()
    locks = redis_locks(ttl=0.6)
    relay = Relay(locks=locks, poller_factory=made, lock_retry=30)
    try:
        await relay.watch(thread_id)
        await wait_for(lambda: relay.polling(thread_id), "polling")
        # Someone else's token in the key: the next renewal finds the lock lost.
        client = Redis.from_url(redis_locks.url)
        (key,) = await redis_keys(redis_locks.url, redis_locks.prefix)
        await client.set(key, b"another-process", px=60_000)
        await client.aclose()
        await wait_for(lambda: not relay.polling(thread_id), "the poller to stop")
    finally:
        await relay.stop()
    # The relay released only its own lock: the other holder's key is untouched.
    client = Redis.from_url(redis_locks.url)
    assert await client.get(key) == b"another-process"
    await client.delete(key)
    await client.aclose()


async def test_stopping_cancels_pollers_and_releases_locks(relay_site, users, make_thread):
    alice, bob = await run_sync(users)(2)
    thread_id = await run_sync(make_thread)(alice, bob)
    made = Tracking()
    relay = Relay(locks=InProcessLocks(), poller_factory=made, lock_retry=0.05)
    await relay.watch(thread_id)
    await wait_for(lambda: relay.polling(thread_id), "polling")
    await relay.stop()
    assert not relay.polling(thread_id)
    # The lock is free again: a new relay polls at once.
    again = Relay(locks=InProcessLocks(), lock_retry=0.05)
    try:
        await again.watch(thread_id)
        await wait_for(lambda: again.polling(thread_id), "a new relay to poll")
        await idle(again.pollers[thread_id])
    finally:
        await again.stop()


async def test_get_relay_is_one_per_process_until_reset(settings):
    settings.REDIS_URL = ""
    relay = get_relay()
    assert get_relay() is relay
    await reset_relay()
    assert get_relay() is not relay
    await reset_relay()
