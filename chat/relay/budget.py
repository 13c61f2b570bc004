"""How often the poller may call ACS: per-thread call budgets and backoff after 429/5xx.

Both use a clock passed in (``time.monotonic`` by default), so tests can move time instead of
waiting for it.
"""

from __future__ import annotations

import random
from collections import deque
from collections.abc import Callable, Mapping

LIST_MESSAGES = "list_messages"
LIST_RECEIPTS = "list_read_receipts"
LIST_PARTICIPANTS = "list_participants"
GET_PROPERTIES = "get_properties"

# (window seconds, calls) per thread. The poller calls as one identity (the service identity),
# so ACS's per user-and-thread limits bind before its per-thread ones (list messages 250/10 s,
# 400/min; receipts 100/10 s; participants 250/10 s). These stay at 80% of the per
# user-and-thread limits, leaving room for the staff pages, which act as the same identity.
THREAD_LIMITS: Mapping[str, tuple[tuple[float, int], ...]] = {
    LIST_MESSAGES: ((10, 40), (60, 160)),  # ACS: 50/10 s and 200/min per user and thread
    LIST_RECEIPTS: ((10, 4),),  # ACS: 5/10 s per user and thread
    LIST_PARTICIPANTS: ((10, 8),),  # ACS: 10/10 s per user and thread
    GET_PROPERTIES: ((10, 8),),  # ACS: 50/10 s per user, over all threads
}

Clock = Callable[[], float]


class CallBudget:
    """Sliding windows of past calls; a call may go when every window of its kind has room."""

    def __init__(
        self,
        clock: Clock,
        limits: Mapping[str, tuple[tuple[float, int], ...]] = THREAD_LIMITS,
    ) -> None:
        self._clock = clock
        self._limits = limits
        self._calls: dict[str, deque[float]] = {op: deque() for op in limits}

    def wait_time(self, operation: str) -> float:
        """Seconds until ``operation`` may be called (0: now)."""
        windows = self._limits[operation]
        calls = self._calls[operation]
        now = self._clock()
        longest = max(seconds for seconds, _ in windows)
        while calls and calls[0] <= now - longest:
            calls.popleft()
        wait = 0.0
        for seconds, maximum in windows:
            inside = [t for t in calls if t > now - seconds]
            if len(inside) >= maximum:
                wait = max(wait, inside[-maximum] + seconds - now)
        return wait

    def spacing(self, operation: str) -> float:
        """The even spacing that fits every window (e.g. 2.5 s for 4 calls per 10 s)."""
        return max(seconds / maximum for seconds, maximum in self._limits[operation])

    def spend(self, operation: str) -> None:
        """Count one call made now."""
        self._calls[operation].append(self._clock())

    def used(self, operation: str, seconds: float) -> int:
        """Calls of ``operation`` counted in the last ``seconds``."""
        now = self._clock()
        return sum(1 for t in self._calls[operation] if t > now - seconds)


class Backoff:
    """When the thread may be called again after failures.

    A ``Retry-After`` from ACS is obeyed as given; without one the wait doubles from 1 s up to
    60 s, with jitter so that pollers failing together do not come back together.
    """

    BASE = 1.0
    CAP = 60.0

    def __init__(self, clock: Clock, rng: random.Random | None = None) -> None:
        self._clock = clock
        self._rng = rng or random.Random()
        self.failures = 0
        self.not_before = 0.0

    def failed(self, retry_after: float | None) -> float:
        """Record a throttled or failed call; return the seconds to wait."""
        self.failures += 1
        if retry_after is not None:
            delay = retry_after
        else:
            step = min(self.CAP, self.BASE * 2 ** (self.failures - 1))
            delay = step * (0.5 + self._rng.random() / 2)
        self.not_before = max(self.not_before, self._clock() + delay)
        return delay

    def succeeded(self) -> None:
        self.failures = 0

    def wait_time(self) -> float:
        return max(0.0, self.not_before - self._clock())
