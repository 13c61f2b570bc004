"""Fixtures for the relay tests: the site on an emulator, threads made through Kwebbel, a clock
the tests move by hand, and bounded waiting."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Awaitable, Callable, Iterator
from typing import Any

import pytest
from channels.db import database_sync_to_async

from chat.relay.poller import ThreadPoller

WAIT_LIMIT = 30.0  # seconds a condition may take before the test fails


class FakeClock:
    """A monotonic clock that moves only when the test says so."""

    def __init__(self, start: float = 1000.0) -> None:
        self.now = start

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


async def wait_for(
    condition: Callable[[], Any], what: str, limit: float = WAIT_LIMIT, pause: float = 0.02
) -> Any:
    """Poll ``condition`` (sync or async) until truthy; fail after ``limit`` seconds."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + limit
    while True:
        value = condition()
        if isinstance(value, Awaitable):
            value = await value
        if value:
            return value
        if loop.time() > deadline:
            pytest.fail(f"timed out waiting for {what}")
        await asyncio.sleep(pause)


async def idle(poller: ThreadPoller, naps: int = 2) -> None:
    """Wait until the poller has taken ``naps`` more sleeps: it is waiting for time to pass."""
    start = poller.naps
    await wait_for(lambda: poller.naps >= start + naps, "the poller to wait", pause=0.001)


@pytest.fixture(autouse=True)
async def close_gateway() -> Any:
    """Close the test loop's ACS connections with the loop (each test has its own)."""
    from chat import gateway

    yield
    await gateway.aclose()


@pytest.fixture
def relay_site(acs_settings: Any, settings: Any) -> Iterator[Any]:
    """The site on the session emulator, polling fast, with no cached SDK clients."""
    from chat import gateway

    gateway.reset()
    settings.RELAY_POLL_INTERVAL = 0.05
    settings.RELAY_DEEP_SCAN_EVERY = 30.0
    yield settings
    gateway.reset()


@pytest.fixture
def make_thread(make_site_user: Callable[..., Any]) -> Callable[..., str]:
    """``make_thread(creator, *others)`` -> a thread made through Kwebbel (service identity in)."""
    from chat.actions.participants import share_history_time_for
    from chat.actions.threads import ParticipantChoice, do_create_thread

    def make(creator: Any, *others: Any, topic: str = "Relay") -> str:
        choices = [ParticipantChoice(u, share_history_time_for("all", None)) for u in others]
        return do_create_thread(creator, topic, choices, str(uuid.uuid4())).thread_id

    return make


@pytest.fixture
def users(make_site_user: Callable[..., Any]) -> Callable[[int], list[Any]]:
    """``users(n)`` -> n site users, each with an ACS identity on the configured emulator."""
    from chat.people import raw_id_of

    def make(n: int) -> list[Any]:
        made = [make_site_user() for _ in range(n)]
        for user in made:
            raw_id_of(user)
        return made

    return make


def run_sync(function: Callable[..., Any]) -> Callable[..., Awaitable[Any]]:
    """A sync (database) function for use in async tests."""
    return database_sync_to_async(function)
