"""Delivery as Event Grid does it: retries and back-off, statuses that are not retried, batches,
filters, delivery headers, and undelivered events that survive a restart."""

from __future__ import annotations

import os

import pytest
from azure.communication.chat.aio import ChatClient, CommunicationTokenCredential
from azure.core.messaging import CloudEvent
from azure.eventgrid import EventGridEvent

from acs_emulator.process import EmulatorProcess
from acs_emulator.tls import ensure_certificates, server_ssl_context

from .conftest import Chat, own_emulator
from .receiver import WebhookReceiver


def counters(emulator: EmulatorProcess, name: str) -> dict[str, int]:
    return emulator.stats()["events"]["subscriptions"][name]


def send_messages(chat: Chat, count: int) -> list[str]:
    owner = chat.member()
    thread = chat.thread(owner)
    return [thread.send_message(f"message {n}").id for n in range(count)]


def test_failures_are_retried_with_growing_waits(events_emulator, receiver, subscribe, chat):
    target = receiver(statuses=[503, 500, 404])
    subscription = subscribe(target)
    chat.thread(chat.member())
    target.wait_for(lambda r: len(r.notifications()) == 4)
    attempts = target.notifications()
    assert len({a.json()[0]["id"] for a in attempts}) == 1  # the same event each time
    assert [a.headers["aeg-delivery-count"] for a in attempts] == ["0", "1", "2", "3"]
    gaps = [later.at - earlier.at for earlier, later in zip(attempts, attempts[1:], strict=False)]
    # Event Grid's 10 s, 30 s, 1 min, scaled by 0.01 here: never sooner than scheduled (a busy
    # machine can only make them later), and growing.
    assert [gap >= wait for gap, wait in zip(gaps, (0.1, 0.3, 0.6), strict=True)] == [True] * 3
    assert gaps[0] < gaps[2], gaps
    assert counters(events_emulator, subscription["name"]) == {
        "attempted": 4,
        "delivered": 1,
        "failed": 3,
        "retried": 3,
        "dropped": 0,
        "duplicates": 0,
        "handshakes": 1,
        "pending": 0,
    }


@pytest.mark.parametrize("status", [400, 401, 403, 413])
def test_these_statuses_are_not_retried(events_emulator, receiver, subscribe, chat, status):
    target = receiver(statuses=[status])
    subscription = subscribe(target)
    owner = chat.member()
    thread = chat.thread(owner)
    target.wait_for(lambda r: len(r.notifications()) == 1)
    # A later event still goes out: only the refused one is dropped.
    thread.send_message("after")
    target.wait_for(lambda r: len(r.notifications()) == 2)
    seen = [r.json()[0]["eventType"] for r in target.notifications()]
    assert seen[0].endswith("ChatThreadCreated") and seen[1].endswith("ReceivedInThread")
    stats = counters(events_emulator, subscription["name"])
    assert (stats["dropped"], stats["retried"], stats["failed"], stats["pending"]) == (1, 0, 1, 0)


def test_attempts_run_out(events_emulator, receiver, subscribe, chat):
    target = receiver(statuses=[503] * 10)
    subscription = subscribe(target, maxDeliveryAttempts=3)
    chat.thread(chat.member())
    target.wait_for(lambda _: counters(events_emulator, subscription["name"])["dropped"] == 1)
    assert len(target.notifications()) == 3
    stats = counters(events_emulator, subscription["name"])
    assert (stats["attempted"], stats["retried"], stats["pending"]) == (3, 2, 0)


def test_time_to_live_runs_out(events_emulator, receiver, subscribe, chat):
    # One minute, scaled by 0.01: 0.6 s, while the schedule's waits add up to more.
    target = receiver(statuses=[503] * 30)
    subscription = subscribe(target, eventTimeToLiveInMinutes=1)
    chat.thread(chat.member())
    target.wait_for(lambda _: counters(events_emulator, subscription["name"])["dropped"] == 1)
    assert 1 <= len(target.notifications()) < 30


@pytest.mark.parametrize("schema", ["eventgrid", "cloudevents"])
def test_batches_hold_up_to_max_events(events_emulator, receiver, subscribe, chat, schema):
    target = receiver(handshake_delay_s=1.0)
    subscription = subscribe(target, wait=False, schema=schema, maxEventsPerBatch=5)
    sent = send_messages(chat, 7)  # 8 events with the thread's creation, queued meanwhile
    events = target.wait_for_events(8)
    batches = [r.json() for r in target.notifications()]
    assert sorted(len(b) for b in batches) == [3, 5]  # two requests in flight at once
    for request in target.notifications():
        expected = (
            "application/json; charset=utf-8"
            if schema == "eventgrid"
            else "application/cloudevents-batch+json; charset=utf-8"
        )
        assert request.headers["content-type"] == expected
        assert "aeg-output-event-id" not in request.headers
    parse = EventGridEvent.from_dict if schema == "eventgrid" else CloudEvent.from_dict
    parsed = [parse(e) for e in events]
    received = [e.data["messageId"] for e in parsed if "messageId" in e.data]
    assert sorted(received) == sorted(sent)
    assert counters(events_emulator, subscription["name"])["delivered"] == 8


def test_a_batch_also_stops_at_its_preferred_size(receiver, subscribe, chat):
    target = receiver(handshake_delay_s=1.0)
    subscribe(target, wait=False, maxEventsPerBatch=50, preferredBatchSizeInKilobytes=3)
    owner = chat.member()
    thread = chat.thread(owner)
    for n in range(4):
        thread.send_message(f"{n} " + "x" * 1500)
    target.wait_for_events(5)
    assert all(len(r.body) <= 3 * 1024 for r in target.notifications())
    assert len(target.notifications()) > 1


def test_filters_and_static_delivery_headers(receiver, subscribe, chat):
    target = receiver()
    headers = {"Authorization": "Bearer webhook-secret", "X-Kwebbel-Key": "k1"}
    subscribe(
        target,
        includedEventTypes=["Microsoft.Communication.ChatMessageReceivedInThread"],
        subjectBeginsWith="thread/19:",
        deliveryHeaders=headers,
    )
    send_messages(chat, 2)
    events = target.wait_for_events(2)
    assert {e["eventType"] for e in events} == {
        "Microsoft.Communication.ChatMessageReceivedInThread"
    }
    for request in target.snapshot():  # the handshake too
        assert request.headers["authorization"] == "Bearer webhook-secret"
        assert request.headers["x-kwebbel-key"] == "k1"


async def test_the_async_sdk_raises_events_too(events_emulator, receiver, subscribe, chat):
    target = receiver()
    subscribe(target)
    member = chat.member()

    async def send() -> str:
        async with ChatClient(
            events_emulator.endpoint,
            CommunicationTokenCredential(member.user.token),
            connection_verify=events_emulator.ca_bundle,
        ) as client:
            created = await client.create_chat_thread("async")
            thread = client.get_chat_thread_client(
                created.chat_thread.id, connection_verify=events_emulator.ca_bundle
            )
            async with thread:
                return (await thread.send_message("from aio")).id

    message_id = await send()
    events = target.wait_for_events(2)
    assert message_id in [e["data"].get("messageId") for e in events]


@pytest.mark.parametrize("how", ["kill -9", "SIGTERM"])
def test_undelivered_events_survive_a_restart(tmp_path, how):
    target = WebhookReceiver()
    try:
        # A long delivery delay keeps the event queued while the emulator goes down.
        slow = own_emulator(
            tmp_path / "acs", "--events-to", target.url, "--events-delay-ms", "60000"
        )
        with slow:
            chat = Chat(slow)
            thread = chat.thread(chat.member())
            message_id = thread.send_message("kept").id
            chat.close()
            name = slow.event_subscriptions()[0]["name"]
            target.wait_for(lambda _: counters(slow, name)["pending"] == 2)
            if how == "kill -9":
                slow.kill()
        assert target.notifications() == []
        with own_emulator(tmp_path / "acs", "--events-to", target.url) as again:
            events = target.wait_for_events(2)
            assert counters(again, name)["pending"] == 0
        assert message_id in [e["data"].get("messageId") for e in events]
    finally:
        target.close()


def test_command_line_and_environment_subscriptions(tmp_path):
    first, second, third = WebhookReceiver(), WebhookReceiver(), WebhookReceiver()
    try:
        env = {
            "ACS_EMULATOR_EVENTS_TO": f"{first.url},{second.url}",
            "ACS_EMULATOR_EVENTS_SCHEMA": "cloudevents",
        }
        with own_emulator(tmp_path / "acs", env={**os.environ, **env}) as emulator:
            listed = emulator.event_subscriptions()
            assert sorted(s["url"] for s in listed) == sorted([first.url, second.url])
            assert {(s["schema"], s["source"]) for s in listed} == {("cloudevents", "cli")}
            chat = Chat(emulator)
            chat.thread(chat.member())
            chat.close()
            for target in (first, second):
                [event] = target.wait_for_events(1)
                assert CloudEvent.from_dict(event).type.endswith("ChatThreadCreated")
                assert target.snapshot()[0].method == "OPTIONS"
        # The command line wins over the environment, and names the subscriptions it keeps.
        args = ["--events-to", third.url, "--events-schema", "eventgrid"]
        with own_emulator(tmp_path / "acs", *args, env={**os.environ, **env}) as emulator:
            [only] = emulator.event_subscriptions()
            assert (only["url"], only["schema"]) == (third.url, "eventgrid")
    finally:
        for target in (first, second, third):
            target.close()


def test_https_webhooks_are_trusted_through_the_ca_bundle_option(tmp_path):
    # A webhook with a certificate from a CA of its own, which no system store trusts.
    files = ensure_certificates(tmp_path / "webhook-tls")
    target = WebhookReceiver(tls=server_ssl_context(files))
    try:
        assert target.url.startswith("https://127.0.0.1:")
        untrusted = own_emulator(tmp_path / "acs1", "--events-to", target.url)
        with untrusted:
            [subscription] = untrusted.event_subscriptions()
            failed = untrusted.wait_for_subscription(subscription["name"])
            assert failed["provisioningState"] == "Failed"
        trusted = own_emulator(
            tmp_path / "acs2", "--events-to", target.url, "--events-ca-bundle", str(files.ca_cert)
        )
        with trusted:
            chat = Chat(trusted)
            chat.thread(chat.member())
            chat.close()
            [event] = target.wait_for_events(1)
            assert event["eventType"].endswith("ChatThreadCreated")
    finally:
        target.close()
