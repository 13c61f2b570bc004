"""One user's slow ACS call never holds up another user's actions on the same process."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from acs_emulator.process import EmulatorProcess
from tests.relay.conftest import wait_for

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(scope="module")
def slow_typing_emulator(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EmulatorProcess]:
    """An emulator that takes 2 s to answer every typing notification (and nothing else)."""
    args = ["--faults-for", "ChatThread_SendTypingNotification", "--latency-ms", "2000"]
    with EmulatorProcess(tmp_path_factory.mktemp("slow-acs"), extra_args=args) as emulator:
        yield emulator


@pytest.fixture
def slow_site(live_site: Any, slow_typing_emulator: EmulatorProcess) -> Any:
    from chat import gateway

    live_site.ACS_CONNECTION_STRING = slow_typing_emulator.connection_string
    live_site.ACS_CA_BUNDLE = str(slow_typing_emulator.ca_bundle)
    gateway.reset()
    return live_site


async def test_a_2_second_acs_call_for_one_user_does_not_delay_anothers_send(
    slow_site, people, ws, thread
):
    alice, bob = await ws(people.alice), await ws(people.bob)
    await alice.subscribe(thread)
    await bob.subscribe(thread)
    from chat import consumers

    # Alice's typing notification takes 2 s in ACS...
    await alice.send({"action": "typing", "thread": thread, "request": "slow"})
    await wait_for(lambda: consumers._in_progress >= 1, "alice's call to be in ACS")
    # ...while Bob sends, on the same server process.
    sent = await bob.request(
        {"action": "send", "thread": thread, "request": "fast", "content": "not waiting"}
    )
    assert sent["ok"], sent
    # Bob's send was answered, and its message delivered to Alice, while her call was still
    # in ACS: her typing ack comes only after both.
    delivered = await alice.message("message.added", sent["result"]["id"])
    typing_ack = await alice.next("ack", request="slow")
    assert typing_ack["ok"] and typing_ack["result"] == {"sent": True}
    order = [f for f in alice.frames if f is delivered or f is typing_ack]
    assert order == [delivered, typing_ack]


async def test_past_capacity_typing_and_receipts_are_shed_before_messages(
    slow_site, people, ws, thread, monkeypatch
):
    from chat import consumers

    monkeypatch.setattr(consumers, "SHED_AT", 1)  # one action in progress is "capacity"
    alice, bob = await ws(people.alice), await ws(people.bob)
    await bob.subscribe(thread)
    await alice.send({"action": "typing", "thread": thread, "request": "slow"})
    await wait_for(lambda: consumers._in_progress >= 1, "alice's call to be in ACS")
    shed = [
        await bob.request({"action": "typing", "thread": thread, "request": "t"}),
        await bob.request({"action": "read", "thread": thread, "message": "1", "request": "r"}),
    ]
    sent = await bob.request(
        {"action": "send", "thread": thread, "request": "m", "content": "still goes"}
    )
    typing_ack = await alice.next("ack", request="slow")
    for ack in shed:
        assert (ack["ok"], ack["status"]) == (False, 503), ack
        assert "busy" in ack["error"].lower()
    assert sent["ok"], sent
    # All of it was answered while alice's slow call was still in ACS.
    assert typing_ack["ok"]
    assert all(frame in bob.frames for frame in shed) and alice.frames[-1] == typing_ack


async def test_a_connection_that_queues_too_much_is_told_to_slow_down(
    slow_site, people, ws, thread, monkeypatch
):
    from chat import consumers

    monkeypatch.setattr(consumers, "MAX_QUEUED_ACTIONS", 2)
    alice = await ws(people.alice)
    await alice.subscribe(thread)
    await alice.send({"action": "typing", "thread": thread, "request": "slow"})
    await wait_for(lambda: consumers._in_progress >= 1, "alice's call to be in ACS")
    for n in range(4):
        await alice.send({"action": "unsubscribe", "thread": thread, "request": f"q{n}"})
    refused = [await alice.next("ack", request=f"q{n}") for n in (2, 3)]
    for ack in refused:
        assert (ack["ok"], ack["status"]) == (False, 503), ack
    # The two that fitted in the queue run after the slow one, in order; the socket works on.
    assert (await alice.next("ack", request="slow"))["ok"]
    assert [(await alice.next("ack", request=f"q{n}"))["ok"] for n in (0, 1)] == [True, True]
