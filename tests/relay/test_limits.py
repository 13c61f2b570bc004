"""The poller's manners: it backs off on 429/503 as told and never exceeds its call budget.

Time here is a clock the test moves by hand (the poller takes its clock as a parameter), so the
assertions compare the emulator's request counters at chosen moments instead of timing anything.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import pytest

from acs_emulator.process import EmulatorProcess
from chat.relay.budget import THREAD_LIMITS
from chat.relay.poller import ThreadPoller
from tests.relay.conftest import FakeClock, idle, run_sync

pytestmark = pytest.mark.django_db(transaction=True)

POLLER_OPERATIONS = {
    "ChatThread_ListChatMessages": "list_messages",
    "ChatThread_ListChatReadReceipts": "list_read_receipts",
    "ChatThread_ListChatParticipants": "list_participants",
    "ChatThread_GetChatThreadProperties": "get_properties",
}


@pytest.fixture(scope="module")
def faulty_emulator(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EmulatorProcess]:
    """An emulator answering half of ListChatMessages with 429 (Retry-After: 2), a fifth 503."""
    args = ["--throttle-rate", "0.5", "--fail-rate", "0.2", "--retry-after", "2"]
    args += ["--faults-for", "ChatThread_ListChatMessages", "--fault-seed", "7"]
    with EmulatorProcess(tmp_path_factory.mktemp("faulty-acs"), extra_args=args) as emulator:
        yield emulator


def poller_counts(emulator: EmulatorProcess, thread_id: str) -> dict[str, int]:
    operations = emulator.stats(thread=thread_id)["operations"]
    return {op: operations.get(op, 0) for op in POLLER_OPERATIONS}


def since(counts: dict[str, int], made: dict[str, int]) -> dict[str, int]:
    """Calls counted after ``made`` (the thread's creation reads its participants once)."""
    return {op: counts[op] - made[op] for op in counts}


def recorded_counts(poller: ThreadPoller) -> dict[str, int]:
    return {
        op: sum(c.operation == name for c in poller.calls) for op, name in POLLER_OPERATIONS.items()
    }


async def test_429_and_503_stop_all_calls_until_the_retry_time(
    faulty_emulator, settings, users, make_thread
):
    from chat import gateway

    settings.ACS_CONNECTION_STRING = faulty_emulator.connection_string
    settings.ACS_CA_BUNDLE = str(faulty_emulator.ca_bundle)
    settings.RELAY_POLL_INTERVAL = 1.0
    gateway.reset()
    alice, bob = await run_sync(users)(2)
    thread_id = await run_sync(make_thread)(alice, bob)
    clock = FakeClock()
    poller = ThreadPoller(thread_id, clock=clock, phase=0)
    poller.max_nap = 0.005
    counts = lambda: asyncio.to_thread(poller_counts, faulty_emulator, thread_id)  # noqa: E731
    made = await counts()
    task = asyncio.create_task(poller.run())
    seen: dict[int, int] = {429: 0, 503: 0}
    try:
        for _ in range(300):
            if seen[429] >= 2 and seen[503] >= 2:
                break
            await idle(poller)
            last = poller.calls[-1]
            if last.status in seen:
                seen[last.status] += 1
                before = await counts()
                wait = poller.backoff.not_before - clock()
                if last.status == 429:
                    assert last.retry_after == 2
                    assert wait == pytest.approx(2.0)  # exactly what Retry-After said
                assert wait > 0
                # Just short of the retry time, after several re-checks: not one more call.
                for fraction in (0.3, 0.6, 0.99):
                    clock.now = last.at + wait * fraction
                    await idle(poller)
                    assert await counts() == before
                    assert poller.calls[-1] is last
                clock.now = poller.backoff.not_before
            clock.advance(1.0)
        else:
            pytest.fail(f"not enough faults seen: {seen}")
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        gateway.reset()
    # Every call that reached the emulator is one the poller made and recorded: no SDK retries.
    assert since(await counts(), made) == recorded_counts(poller)


async def test_the_call_budget_holds_however_low_the_interval(
    relay_site, acs_emulator, users, make_thread
):
    relay_site.RELAY_POLL_INTERVAL = 0.01
    alice, bob = await run_sync(users)(2)
    thread_id = await run_sync(make_thread)(alice, bob)
    clock = FakeClock()
    start = clock()
    poller = ThreadPoller(thread_id, clock=clock, phase=0)
    poller.max_nap = 0.002
    counts = lambda: asyncio.to_thread(poller_counts, acs_emulator, thread_id)  # noqa: E731
    made = await counts()
    task = asyncio.create_task(poller.run())
    step = 0.1  # ten times the interval: without a budget, every step would poll
    try:
        while clock() - start < 9.9:
            await idle(poller, naps=1)
            clock.advance(step)
        await idle(poller, naps=1)
        first_window = await counts()
        while clock() - start < 75:
            await idle(poller, naps=1)
            clock.advance(step)
        await idle(poller, naps=1)
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
    list_cap_10s = dict(THREAD_LIMITS["list_messages"])[10]
    list_cap_60s = dict(THREAD_LIMITS["list_messages"])[60]
    # 99 steps of 0.1 s at a 0.01 s interval (990 polls if obeyed), yet within ACS's first 10 s
    # window the poller stays inside the budget, paced evenly rather than in a burst.
    first_window = since(first_window, made)
    assert 20 <= first_window["ChatThread_ListChatMessages"] <= list_cap_10s
    # Receipts are spaced out (and wait while the poll waits for list budget).
    receipts = first_window["ChatThread_ListChatReadReceipts"]
    assert 1 <= receipts <= dict(THREAD_LIMITS["list_read_receipts"])[10]
    # The emulator saw exactly the calls the poller recorded, so the windows below are complete.
    assert since(await counts(), made) == recorded_counts(poller)
    for operation, windows in THREAD_LIMITS.items():
        times = [c.at for c in poller.calls if c.operation == operation]
        for seconds, cap in windows:
            busiest = max((sum(t - seconds < u <= t for u in times) for t in times), default=0)
            assert busiest <= cap, (operation, seconds, busiest)
    # And it used most of the minute's allowance rather than idling.
    assert sum(c.operation == "list_messages" for c in poller.calls) >= list_cap_60s * 0.9
