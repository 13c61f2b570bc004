"""Delivery faults on demand: per subscription (control route) and for all (command line)."""

from __future__ import annotations

from acs_emulator.process import EmulatorProcess

from .conftest import Chat, own_emulator
from .receiver import WebhookReceiver


def counters(emulator: EmulatorProcess, name: str) -> dict[str, int]:
    return emulator.stats()["events"]["subscriptions"][name]


def test_duplicates_carry_the_same_id(events_emulator, receiver, subscribe, chat) -> None:
    target = receiver()
    subscription = subscribe(target, faults={"duplicateRate": 1.0})
    thread = chat.thread(chat.member())
    thread.send_message("twice")
    events = target.wait_for_events(4)
    ids = [e["id"] for e in events]
    assert len(ids) == 4 and len(set(ids)) == 2
    assert all(ids.count(i) == 2 for i in ids)
    target.wait_for(lambda _: counters(events_emulator, subscription["name"])["duplicates"] == 2)
    stats = counters(events_emulator, subscription["name"])
    assert (stats["delivered"], stats["duplicates"], stats["pending"]) == (4, 2, 0)


def test_shuffle_mixes_the_order_within_a_batch(receiver, subscribe, chat) -> None:
    target = receiver(handshake_delay_s=1.0)
    subscribe(target, wait=False, maxEventsPerBatch=50, faults={"shuffle": True})
    thread = chat.thread(chat.member())
    sent = [thread.send_message(f"m{n}").id for n in range(12)]
    events = target.wait_for_events(13)
    assert len(target.notifications()) == 1  # one batch, so any disorder is the shuffle's
    received = [e["data"]["messageId"] for e in events if "messageBody" in e["data"]]
    assert sorted(received) == sorted(sent)
    assert received != sent


def test_shuffle_off_keeps_a_batch_in_order(receiver, subscribe, chat) -> None:
    target = receiver(handshake_delay_s=1.0)
    subscribe(target, wait=False, maxEventsPerBatch=50)
    thread = chat.thread(chat.member())
    sent = [thread.send_message(f"m{n}").id for n in range(12)]
    events = target.wait_for_events(13)
    assert [e["data"]["messageId"] for e in events if "messageBody" in e["data"]] == sent


def test_a_delay_holds_each_delivery(events_emulator, receiver, subscribe, chat) -> None:
    target = receiver()
    subscription = subscribe(target, faults={"delayMs": 3000})
    chat.thread(chat.member())
    # The event is queued and the attempt not made yet while the delay runs.
    stats = counters(events_emulator, subscription["name"])
    assert (stats["pending"], stats["attempted"]) == (1, 0)
    target.wait_for_events(1)
    assert counters(events_emulator, subscription["name"])["delivered"] == 1


def test_the_first_attempts_time_out(events_emulator, receiver, subscribe, chat) -> None:
    target = receiver()
    subscription = subscribe(target, faults={"failFirst": 2})
    chat.thread(chat.member())
    [event] = target.wait_for_events(1)
    [request] = target.notifications()  # the failed attempts sent nothing
    assert request.headers["aeg-delivery-count"] == "2"
    stats = counters(events_emulator, subscription["name"])
    assert (stats["attempted"], stats["failed"], stats["retried"], stats["delivered"]) == (
        3,
        2,
        2,
        1,
    )


def test_a_rate_of_first_attempts_time_out(events_emulator, receiver, subscribe, chat) -> None:
    target = receiver()
    subscription = subscribe(target, faults={"failFirstRate": 1.0})
    thread = chat.thread(chat.member())
    thread.send_message("late")
    target.wait_for_events(2)
    assert [r.headers["aeg-delivery-count"] for r in target.notifications()] == ["1", "1"]
    assert counters(events_emulator, subscription["name"])["failed"] == 2


def test_global_faults_from_the_command_line(tmp_path) -> None:
    target = WebhookReceiver()
    args = ["--events-to", target.url, "--events-duplicate-rate", "1", "--events-fail-first", "1"]
    try:
        with own_emulator(tmp_path / "acs", *args) as emulator:
            [subscription] = emulator.event_subscriptions()
            assert subscription["faults"]["duplicateRate"] == 1.0
            assert subscription["faults"]["failFirst"] == 1
            chat = Chat(emulator)
            chat.thread(chat.member())
            chat.close()
            events = target.wait_for_events(2)
            assert events[0]["id"] == events[1]["id"]
            assert target.notifications()[0].headers["aeg-delivery-count"] == "1"
            # A subscription added at run time can turn them off for itself.
            quiet = WebhookReceiver()
            try:
                added = emulator.add_event_subscription(quiet.url, faults={})
                assert added["faults"]["duplicateRate"] == 0.0
            finally:
                quiet.close()
    finally:
        target.close()
