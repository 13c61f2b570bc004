"""The scale-out test: two Daphne processes on two ports, one Redis, one database.

Both processes get the same ``REDIS_URL`` (a Redis database of their own, number REDIS_DB,
flushed before and after), so they share the Redis channel layer and the relay's Redis locks.

The database is PostgreSQL (a fresh database on the server of ``TEST_DATABASE_URL``), because
that is what several server processes share in production: the relay appends to its event log
from whichever process observes a change (the poller in one, an action in the other) under a
``select_for_update`` row lock, and that is the path this test must exercise. SQLite would
serialise the processes with its file lock instead, and the single-process reconnect test
already runs on a SQLite file.
"""

from __future__ import annotations

import asyncio
import hashlib
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from livesite import ChatSocket, Thread, postgres_database
from tests.fixtures.site import spare_redis_database
from tests.live.harness import running_site, wait_for

pytestmark = [pytest.mark.redis, pytest.mark.postgres, pytest.mark.own_site]

REDIS_DB = 11
LIST = "ChatThread_ListChatMessages"
VIEWERS = 20


@pytest.fixture
def shared_redis(redis_url: str) -> Iterator[str]:
    """The Redis of ``REDIS_URL``, on database REDIS_DB, empty before and after the test."""
    with spare_redis_database(redis_url, REDIS_DB) as url:
        yield url


def two_processes(
    emulator: Any, postgres_url: str, redis: str, work_dir: Path, **settings: str
) -> Any:
    return running_site(
        emulator,
        postgres_database(postgres_url),
        work_dir,
        servers=2,
        redis_url=redis,
        settings=settings,
    )


def list_calls(emulator: Any, thread_id: str) -> int:
    return emulator.stats(thread=thread_id)["operations"].get(LIST, 0)


async def added_with_client_id(socket: ChatSocket, client_id: str) -> dict:
    """The next message.added event carrying ``client_id`` (other frames are passed over)."""
    while True:
        frame = await socket.next_frame(within=30)
        if frame.get("kind") == "message.added" and frame["data"].get("clientId") == client_id:
            return frame


async def test_viewer_on_one_process_sees_messages_sent_through_the_other(
    acs_emulator: Any, postgres_url: str, shared_redis: str, tmp_path: Path
) -> None:
    # With a 60 s interval the poller reads the thread once when it starts and not again
    # during the test, so a message that arrives while ListChatMessages stays put came through
    # the channel layer from the process that sent it, not from a poll.
    with two_processes(
        acs_emulator, postgres_url, shared_redis, tmp_path,
        RELAY_POLL_INTERVAL="60", RELAY_DEEP_SCAN_EVERY="600",
    ) as site:  # fmt: skip
        a, b = site.servers
        seeded = site.seed(["ann", "ben"], [Thread("Across", "ann", ["ben"])])
        thread_id = seeded.threads[0]
        ann, ben = seeded.users["ann"], seeded.users["ben"]
        async with aiohttp.ClientSession() as http:
            # Each user has a page open on a different process.
            ann_page = await ChatSocket(http, a, ann.session).connect()
            ben_page = await ChatSocket(http, b, ben.session).connect()
            for page in (ann_page, ben_page):
                ack = await page.request("subscribe", thread=thread_id, cursor=None)
                assert ack["ok"], ack
            assert await wait_for(lambda: list_calls(acs_emulator, thread_id) >= 1)
            before = list_calls(acs_emulator, thread_id)

            sent_on_b = await ben_page.request(
                "send", thread=thread_id, content="from B", format="text", clientId="across-b"
            )
            seen_on_a = await added_with_client_id(ann_page, "across-b")
            sent_on_a = await ann_page.request(
                "send", thread=thread_id, content="from A", format="text", clientId="across-a"
            )
            seen_on_b = await added_with_client_id(ben_page, "across-a")

            after = list_calls(acs_emulator, thread_id)
            await ann_page.close()
            await ben_page.close()

    assert sent_on_b["ok"] and sent_on_a["ok"], (sent_on_b, sent_on_a)
    assert seen_on_a["data"]["id"] == sent_on_b["result"]["id"]
    assert seen_on_a["data"]["html"] == "<p>from B</p>" and not seen_on_a["data"]["mine"]
    assert seen_on_b["data"]["id"] == sent_on_a["result"]["id"]
    assert seen_on_b["data"]["html"] == "<p>from A</p>" and not seen_on_b["data"]["mine"]
    assert after == before, "a poll ran in between, so the test proves nothing; see above"


def lock_key(thread_id: str) -> str:
    """The relay's Redis lock for a thread (chat.relay.locks.RedisLocks names it so)."""
    return "kwebbel:relay:poller:" + hashlib.sha256(thread_id.encode()).hexdigest()[:40]


async def test_twenty_viewers_on_two_processes_cost_one_poller(
    acs_emulator: Any, postgres_url: str, shared_redis: str, tmp_path: Path
) -> None:
    import redis

    interval = 0.5
    with two_processes(
        acs_emulator, postgres_url, shared_redis, tmp_path, RELAY_POLL_INTERVAL=str(interval)
    ) as site:
        names = [f"viewer{n}" for n in range(VIEWERS)]
        seeded = site.seed(names, [Thread("Watched", names[0], names[1:])])
        thread_id = seeded.threads[0]
        locks = redis.Redis.from_url(shared_redis)
        async with aiohttp.ClientSession() as http:
            pages = [
                # Alternating, so both processes have viewers and both want to poll.
                await ChatSocket(http, site.servers[n % 2], seeded.users[name].session).connect()
                for n, name in enumerate(names)
            ]
            for page in pages:
                ack = await page.request("subscribe", thread=thread_id, cursor=None)
                assert ack["ok"], ack
            # Both processes have had a lock retry (2 s) or two to try and take the thread.
            assert await wait_for(lambda: list_calls(acs_emulator, thread_id) >= 3)
            await asyncio.sleep(2 * 2.0)

            holders: set[bytes | None] = set()
            started = time.monotonic()
            before = acs_emulator.stats(thread=thread_id)["operations"]
            while time.monotonic() - started < 20 * interval:
                holders.add(locks.get(lock_key(thread_id)))
                await asyncio.sleep(interval / 4)
            after = acs_emulator.stats(thread=thread_id)["operations"]
            window = time.monotonic() - started
            # Read before any page closes: the last viewer leaving a process ends its polling.
            logs = [server.log_text() for server in site.servers]
            locks.close()
            for page in pages:
                await page.close()

    calls = {op: after.get(op, 0) - before.get(op, 0) for op in after}
    # Each process logs when it starts and stops polling a thread (chat.relay.relay).
    starts = [log.count(f"relay: polling {thread_id}") for log in logs]
    stops = [log.count(f"relay: stopped polling {thread_id}") for log in logs]
    print(f"{window:.2f} s window, interval {interval} s: {calls}; lock holders {holders}; "
          f"poller starts per process {starts}, stops {stops}")  # fmt: skip
    # From the first viewer on: one process started polling once, the other never did.
    assert sorted(starts) == [0, 1] and stops == [0, 0], (starts, stops)
    # One poller starts a poll at most once per interval (it waits the interval from the start
    # of one poll to the next, and without new messages a poll is one list call), so in the
    # window it made at most floor(window / interval) + 1 calls: 21 here. Two pollers would
    # make about twice the window's intervals, some 40. At least one call shows it polls.
    one_poller_at_most = int(window / interval) + 1
    assert 1 <= calls[LIST] <= one_poller_at_most, (calls, one_poller_at_most)
    # One holder of the thread's Redis lock throughout, never a gap or a takeover ...
    assert len(holders) == 1 and None not in holders, holders
    # ... and no poller (re)started in the window: each start reads participants and topic.
    assert calls.get("ChatThread_ListChatParticipants", 0) == 0, calls
    assert calls.get("ChatThread_GetChatThreadProperties", 0) == 0, calls
    # Neither process failed along the way (a crashed consumer or poller would show here).
    assert all("Traceback" not in log for log in logs), logs


async def test_signing_out_on_one_process_closes_the_sessions_socket_on_the_other(
    acs_emulator: Any, postgres_url: str, shared_redis: str, tmp_path: Path
) -> None:
    with two_processes(acs_emulator, postgres_url, shared_redis, tmp_path) as site:
        a, b = site.servers
        seeded = site.seed(["ann"], [])
        ann = seeded.users["ann"]
        async with aiohttp.ClientSession(cookie_jar=aiohttp.DummyCookieJar()) as http:
            socket_on_b = await ChatSocket(http, b, ann.session).connect()
            cookies = {"Cookie": f"sessionid={ann.session}"}
            async with http.get(f"{a.url}/accounts/login/", headers=cookies) as page:
                csrf = page.cookies["csrftoken"].value
            async with http.post(
                f"{a.url}/accounts/logout/",
                headers={"Cookie": f"sessionid={ann.session}; csrftoken={csrf}",
                         "X-CSRFToken": csrf},
                allow_redirects=False,
            ) as signed_out:  # fmt: skip
                assert signed_out.status == 302
            await asyncio.wait_for(socket_on_b.closed.wait(), 10)
            assert socket_on_b.close_code == 4401
