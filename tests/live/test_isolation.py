"""One user's slow ACS call never holds up another user's actions on the same process."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from typing import Any

import pytest

from acs_emulator.process import EmulatorProcess

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
    # Alice's typing notification takes 2 s in ACS...
    await alice.send({"action": "typing", "thread": thread, "request": "slow"})
    # ...while Bob sends, on the same server process, right after.
    await asyncio.sleep(0)  # let the consumer take alice's frame first
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
