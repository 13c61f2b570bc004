"""Chat events pushed by the emulator's Event Grid to a live Kwebbel, end to end.

Real processes: an emulator of this module's own (Event Grid's retry schedule scaled by 0.01,
so a failed delivery is retried in 100 ms rather than 10 s), Kwebbel in Daphne with
``RELAY_EVENTS`` on, and websocket viewers. The webhook is subscribed at run time, once the
site's port is known, with its secret in the URL (``?secret=``), as a real Event Grid
subscription would be. Changes are made straight through ACS with another user's own token, so
only the relay can bring them to the viewer; every poll is a minute apart (the first one at a
random point of that minute), so what arrives sooner was read because an event said so.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from azure.communication.chat import ChatParticipant, CommunicationUserIdentifier

from acs_emulator.process import EmulatorProcess
from livesite import (
    ChatSocket,
    LiveSite,
    Thread,
    async_thread_client,
    free_port,
    postgres_database,
    sqlite_database,
)
from tests.fixtures.site import spare_redis_database
from tests.live.harness import ThreadView, running_site, wait_for

pytestmark = [pytest.mark.slow, pytest.mark.own_site]
SECRET = "push-test-" + uuid.uuid4().hex
WITHIN = 30.0  # half the poll interval: what arrives within it came through an event
SLOW = {
    "RELAY_EVENTS": "true",
    "ACS_EVENTS_SECRET": SECRET,
    "RELAY_POLL_INTERVAL": "60",
    "RELAY_EDIT_SCAN_EVERY": "60",
    "RELAY_DEEP_SCAN_EVERY": "60",
    "RELAY_TRUSTED_POLL_INTERVAL": "60",
    "RELAY_TRUSTED_RECEIPTS_EVERY": "60",
    "LOG_LEVEL": "INFO",
}
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


@pytest.fixture(scope="module")
def push_emulator(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EmulatorProcess]:
    fast = ["--events-retry-scale", "0.01", "--fault-seed", "11"]
    with EmulatorProcess(tmp_path_factory.mktemp("acs-push"), extra_args=fast) as emulator:
        yield emulator


@pytest.fixture(scope="module")
def slow_site(
    push_emulator: EmulatorProcess, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[LiveSite]:
    work = tmp_path_factory.mktemp("push-site")
    with running_site(push_emulator, sqlite_database(work), work, settings=SLOW) as site:
        yield site


def webhook(site: LiveSite, secret: str = SECRET) -> str:
    return f"{site.servers[0].url}/events/acs/?secret={secret}"


class Subscriptions:
    def __init__(self, emulator: EmulatorProcess) -> None:
        self.emulator = emulator
        self.names: list[str] = []

    async def add(self, url: str, **fields: Any) -> dict:
        name = fields.pop("name", f"push-{uuid.uuid4().hex[:10]}")
        await asyncio.to_thread(self.emulator.add_event_subscription, url, name=name, **fields)
        self.names.append(name)
        return await asyncio.to_thread(self.emulator.wait_for_subscription, name)

    def remove_all(self) -> None:
        for name in self.names:
            if any(s["name"] == name for s in self.emulator.event_subscriptions()):
                self.emulator.remove_event_subscription(name)


@pytest.fixture
def subscriptions(push_emulator: EmulatorProcess) -> Iterator[Subscriptions]:
    made = Subscriptions(push_emulator)
    yield made
    made.remove_all()


class Viewer:
    """A page open on one thread: its frames, and what it makes of them (ThreadView)."""

    def __init__(self, thread_id: str) -> None:
        self.view = ThreadView(thread_id)
        self.frames: list[dict[str, Any]] = []
        self.socket: ChatSocket | None = None

    def on_frame(self, frame: dict[str, Any], received: float) -> None:
        self.frames.append(frame)
        self.view.frame(frame, received)

    async def open(self, http: aiohttp.ClientSession, site: LiveSite, session: str) -> Viewer:
        self.socket = await ChatSocket(
            http, site.servers[0], session, on_frame=self.on_frame
        ).connect()
        ack = await self.socket.request("subscribe", thread=self.view.thread_id, cursor=None)
        assert ack["ok"], ack
        await wait_for(lambda: self.view.subscribed, within=WITHIN)
        return self

    def events(self, kind: str) -> list[dict[str, Any]]:
        return [f for f in self.frames if f.get("type") == "event" and f["kind"] == kind]

    async def event(self, kind: str, match: Any = lambda data: True) -> dict[str, Any]:
        def found() -> Any:
            return next((f for f in self.events(kind) if match(f["data"])), None)

        assert await wait_for(found, within=WITHIN), (kind, self.frames[-5:])
        return found()


def names(*people: str) -> list[str]:
    suffix = uuid.uuid4().hex[:6]
    return [f"{person}{suffix}" for person in people]


async def test_outside_changes_reach_a_viewer_through_events(slow_site, subscriptions):
    alice, bob, carol = names("alice", "bob", "carol")
    seeded = slow_site.seed([alice, bob, carol], [Thread("Pushed", alice, [bob])])
    thread = seeded.threads[0]
    subscription = await subscriptions.add(webhook(slow_site))
    assert subscription["provisioningState"] == "Succeeded", subscription
    async with (
        aiohttp.ClientSession() as http,
        async_thread_client(slow_site.emulator, seeded.users[alice].token, thread) as outside,
    ):
        viewer = await Viewer(thread).open(http, slow_site, seeded.users[bob].session)
        sent = (await outside.send_message("from outside")).id
        await viewer.event("message.added", lambda d: d["id"] == sent)
        await outside.update_message(sent, content="edited outside")
        edited = await viewer.event("message.edited", lambda d: d["id"] == sent)
        assert edited["data"]["source"] == "edited outside"
        await outside.delete_message(sent)
        await viewer.event("message.deleted", lambda d: d["id"] == sent)

        carol_id = seeded.users[carol].raw_id
        await outside.add_participants(
            [ChatParticipant(identifier=CommunicationUserIdentifier(carol_id),
                             share_history_time=EPOCH)]
        )  # fmt: skip
        await viewer.event("participants.added", lambda d: _has(d, carol_id))
        await outside.remove_participant(CommunicationUserIdentifier(carol_id))
        await viewer.event("participants.removed", lambda d: _has(d, carol_id))
        await outside.update_topic("Renamed outside")
        topic = await viewer.event("topic.changed")
        assert topic["data"]["topic"] == "Renamed outside"
        await viewer.socket.close()
    assert viewer.view.problems == []
    assert viewer.view.added[sent] == 1
    log = slow_site.servers[0].log_text()
    assert f"events arrive for {thread}" in log


def _has(data: dict[str, Any], raw_id: str) -> bool:
    return any(p.get("rawId", p.get("raw_id")) == raw_id for p in data.get("participants", []))


async def test_duplicated_shuffled_and_retried_events_bring_each_message_once_in_order(
    slow_site, subscriptions
):
    count = 500
    alice, bob = names("alice", "bob")
    seeded = slow_site.seed([alice, bob], [Thread("Faults", alice, [bob])])
    thread = seeded.threads[0]
    faults = {"duplicateRate": 0.1, "shuffle": True, "failFirstRate": 0.05}
    subscription = await subscriptions.add(webhook(slow_site), faults=faults)
    assert subscription["provisioningState"] == "Succeeded", subscription
    async with (
        aiohttp.ClientSession() as http,
        async_thread_client(slow_site.emulator, seeded.users[alice].token, thread) as outside,
    ):
        viewer = await Viewer(thread).open(http, slow_site, seeded.users[bob].session)
        sent = [(await outside.send_message(f"m{n}")).id for n in range(count)]
        await wait_for(lambda: all(viewer.view.added[i] for i in sent), within=120)
        # Later proof that nothing more is on its way for them: a last message, then the count.
        last = (await outside.send_message("last")).id
        await viewer.event("message.added", lambda d: d["id"] == last)
        await viewer.socket.close()
    added = [f["data"]["id"] for f in viewer.events("message.added")]
    assert [i for i in added if i in set(sent)] == sent  # each once, in the order sent
    assert viewer.view.problems == []
    stats = (await asyncio.to_thread(slow_site.emulator.stats))["events"]["subscriptions"]
    stats = stats[subscription["name"]]
    assert stats["duplicates"] > 0 and stats["failed"] > 0 and stats["retried"] > 0, stats


async def test_the_cloudevents_schema_handshake_and_delivery(slow_site, subscriptions):
    alice, bob = names("alice", "bob")
    seeded = slow_site.seed([alice, bob], [Thread("Cloud", alice, [bob])])
    thread = seeded.threads[0]
    subscription = await subscriptions.add(webhook(slow_site), schema="cloudevents")
    assert subscription["provisioningState"] == "Succeeded", subscription
    async with (
        aiohttp.ClientSession() as http,
        async_thread_client(slow_site.emulator, seeded.users[alice].token, thread) as outside,
    ):
        viewer = await Viewer(thread).open(http, slow_site, seeded.users[bob].session)
        sent = (await outside.send_message("as a CloudEvent")).id
        await viewer.event("message.added", lambda d: d["id"] == sent)
        await viewer.socket.close()


async def test_a_subscription_without_the_secret_fails_its_handshake(slow_site, subscriptions):
    for url in (webhook(slow_site, "wrong"), f"{slow_site.servers[0].url}/events/acs/"):
        for schema in ("eventgrid", "cloudevents"):
            subscription = await subscriptions.add(url, schema=schema)
            assert subscription["provisioningState"] == "Failed", subscription


async def test_requests_without_the_secret_or_malformed_are_refused_and_change_nothing(
    slow_site, subscriptions
):
    alice, bob = names("alice", "bob")
    seeded = slow_site.seed([alice, bob], [Thread("Refused", alice, [bob])])
    thread = seeded.threads[0]
    await subscriptions.add(webhook(slow_site))
    forged = [
        {
            "id": "forged-1",
            "subject": f"thread/{thread}/sender/x",
            "eventType": "Microsoft.Communication.ChatThreadDeleted",
            "eventTime": "2024-05-01T12:00:00Z",
            "data": {"threadId": thread},
            "dataVersion": "1.0",
        }
    ]
    base = f"{slow_site.servers[0].url}/events/acs/"
    async with (
        aiohttp.ClientSession() as http,
        async_thread_client(slow_site.emulator, seeded.users[alice].token, thread) as outside,
    ):
        viewer = await Viewer(thread).open(http, slow_site, seeded.users[bob].session)
        for url, status in ((base, 401), (base + "?secret=nope", 403)):
            async with http.post(url, json=forged) as answer:
                assert answer.status == status and (await answer.json())["error"]["message"]
        async with http.post(webhook(slow_site), data=b"[{", headers=_json()) as answer:
            assert answer.status == 400 and "not JSON" in (await answer.json())["error"]["message"]
        async with http.post(webhook(slow_site), data=b"x" * (2 << 20), headers=_json()) as answer:
            assert answer.status == 413
        # A later real change arrives, and is the first thing the viewer hears: the refused
        # requests published nothing (the forged one claimed the thread was deleted).
        sent = (await outside.send_message("still here")).id
        await viewer.event("message.added", lambda d: d["id"] == sent)
        await viewer.socket.close()
    kinds = [f["kind"] for f in viewer.frames if f.get("type") == "event"]
    assert "thread.deleted" not in kinds and kinds[0] == "message.added"


def _json() -> dict[str, str]:
    return {"Content-Type": "application/json"}


async def test_with_the_webhook_down_polling_takes_over_and_nothing_is_lost(
    push_emulator, subscriptions, tmp_path: Path
):
    settings = {
        **SLOW,
        "RELAY_POLL_INTERVAL": "0.5",
        "RELAY_EDIT_SCAN_EVERY": "2",
        "RELAY_DEEP_SCAN_EVERY": "5",
        "RELAY_TRUSTED_POLL_INTERVAL": "2",
        "RELAY_TRUSTED_RECEIPTS_EVERY": "5",
    }
    with running_site(
        push_emulator, sqlite_database(tmp_path), tmp_path, settings=settings
    ) as site:
        seeded = site.seed(["alice", "bob"], [Thread("Down", "alice", ["bob"])])
        thread = seeded.threads[0]
        name = f"down-{uuid.uuid4().hex[:8]}"
        assert (await subscriptions.add(webhook(site), name=name))["provisioningState"] == (
            "Succeeded"
        )
        async with (
            aiohttp.ClientSession() as http,
            async_thread_client(push_emulator, seeded.users["alice"].token, thread) as outside,
        ):
            viewer = await Viewer(thread).open(http, site, seeded.users["bob"].session)
            first = (await outside.send_message("while events flow")).id
            await viewer.event("message.added", lambda d: d["id"] == first)
            # The webhook goes away: the subscription now points at a port nobody listens on.
            closed = f"http://127.0.0.1:{free_port()}/events/acs/?secret={SECRET}"
            await subscriptions.add(closed, name=name)
            sent = [(await outside.send_message(f"after {n}")).id for n in range(20)]
            await wait_for(lambda: all(viewer.view.added[i] for i in sent), within=60)
            # Found by a reconciliation; once the grace for their events is over with none
            # come, the thread is back on fast polls, which notice an edit with no event.
            log = site.servers[0].log_text
            await wait_for(lambda: "no event announced" in log(), within=60)
            await outside.update_message(sent[0], content="edited after")
            await viewer.event("message.edited", lambda d: d["id"] == sent[0])
            await viewer.socket.close()
        assert all(viewer.view.added[i] == 1 for i in [first, *sent])
        assert viewer.view.problems == []
        assert "no event announced" in site.servers[0].log_text()


@pytest.fixture
def push_redis(redis_url: str) -> Iterator[str]:
    """The Redis of ``REDIS_URL`` on a database of these tests, empty before and after."""
    with spare_redis_database(redis_url, 13) as url:
        yield url


@pytest.mark.redis
@pytest.mark.postgres
async def test_an_event_posted_to_one_process_reaches_the_poller_in_the_other(
    push_emulator, subscriptions, postgres_url, push_redis, tmp_path: Path
):
    with running_site(
        push_emulator,
        postgres_database(postgres_url),
        tmp_path,
        servers=2,
        redis_url=push_redis,
        settings=SLOW,
    ) as site:
        seeded = site.seed(["alice", "bob"], [Thread("Two", "alice", ["bob"])])
        thread = seeded.threads[0]
        webhook_process, viewer_process = site.servers
        url = f"{webhook_process.url}/events/acs/?secret={SECRET}"
        assert (await subscriptions.add(url))["provisioningState"] == "Succeeded"
        async with (
            aiohttp.ClientSession() as http,
            async_thread_client(push_emulator, seeded.users["alice"].token, thread) as outside,
        ):
            viewer = Viewer(thread)
            viewer.socket = await ChatSocket(
                http, viewer_process, seeded.users["bob"].session, on_frame=viewer.on_frame
            ).connect()
            ack = await viewer.socket.request("subscribe", thread=thread, cursor=None)
            assert ack["ok"], ack
            sent = (await outside.send_message("across processes")).id
            await viewer.event("message.added", lambda d: d["id"] == sent)
            await viewer.socket.close()
        # Only the viewer's process polls the thread; the webhook's handed the event over.
        assert f"relay: polling {thread}" in viewer_process.log_text()
        assert f"relay: polling {thread}" not in webhook_process.log_text()


async def test_read_receipts_are_still_read_while_events_are_trusted(
    push_emulator, subscriptions, tmp_path: Path
):
    # Event Grid carries no read receipts: a trusted thread reads them on their own pace.
    settings = {**SLOW, "RELAY_TRUSTED_RECEIPTS_EVERY": "1"}
    with running_site(
        push_emulator, sqlite_database(tmp_path), tmp_path, settings=settings
    ) as site:
        seeded = site.seed(["alice", "bob"], [Thread("Receipts", "alice", ["bob"])])
        thread = seeded.threads[0]
        assert (await subscriptions.add(webhook(site)))["provisioningState"] == "Succeeded"
        async with (
            aiohttp.ClientSession() as http,
            async_thread_client(push_emulator, seeded.users["alice"].token, thread) as outside,
        ):
            viewer = await Viewer(thread).open(http, site, seeded.users["bob"].session)
            sent = (await outside.send_message("read me")).id
            await viewer.event("message.added", lambda d: d["id"] == sent)
            await outside.send_read_receipt(sent)
            receipt = await viewer.event("receipt")
            assert receipt["data"]["messageId"] == sent, receipt
            await viewer.socket.close()
        assert "no event announced" not in site.servers[0].log_text()
