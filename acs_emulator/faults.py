"""Injected faults: added latency, 503s and 429s, to exercise clients' retry and error paths.

Faults apply to ACS operations only (never to the emulator's control routes), and optionally only
to the named operationIds. ``seed`` makes the sequence of outcomes repeatable, so a test can rely
on, say, 100 calls at a 0.3 rate producing the same failures every run.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import Collection

from .errors import service_unavailable, too_many_requests


class FaultInjector:
    def __init__(
        self,
        *,
        latency_ms: int = 0,
        fail_rate: float = 0.0,
        throttle_rate: float = 0.0,
        retry_after: int = 1,
        operations: Collection[str] = (),
        seed: int | None = None,
    ) -> None:
        self.latency_ms = latency_ms
        self.fail_rate = fail_rate
        self.throttle_rate = throttle_rate
        self.retry_after = retry_after
        self.operations = frozenset(operations)
        self._random = random.Random(seed)

    @property
    def active(self) -> bool:
        return bool(self.latency_ms or self.fail_rate or self.throttle_rate)

    def applies_to(self, operation_id: str) -> bool:
        return not self.operations or operation_id in self.operations

    async def apply(self, operation_id: str) -> None:
        """Wait the configured latency, then maybe raise a 503 or a 429 with Retry-After."""
        if not self.active or not self.applies_to(operation_id):
            return
        if self.latency_ms:
            await asyncio.sleep(self.latency_ms / 1000)
        roll = self._random.random()
        if roll < self.fail_rate:
            raise service_unavailable()
        if roll < self.fail_rate + self.throttle_rate:
            raise too_many_requests(self.retry_after, "Too many requests (injected fault).")
