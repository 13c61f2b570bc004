"""Delivery counters per subscription, shown in ``/_emulator/stats`` under ``"events"``.

Counted in events (a batch of five delivered is five ``delivered``), except ``handshakes``:

* ``attempted``: delivery attempts, including simulated time-outs that sent nothing;
* ``delivered``: events the webhook accepted (200-204), duplicates included;
* ``failed``: attempts that did not succeed (any other status, a time-out, a connection error);
* ``retried``: failed events scheduled again;
* ``dropped``: events given up (400/401/403/413, attempts or time to live used up, a failed
  validation handshake; Event Grid would dead-letter them where configured);
* ``duplicates``: extra deliveries made by the duplicate fault;
* ``handshakes``: validation requests sent;
* ``pending``: events waiting now (read from the queue, so it survives restarts and resets).

The others are kept in memory from the start or the last ``POST /_emulator/stats/reset``.
"""

from __future__ import annotations

from collections import Counter

COUNTERS = ("attempted", "delivered", "failed", "retried", "dropped", "duplicates", "handshakes")


class DeliveryCounters:
    def __init__(self) -> None:
        self._counts: dict[str, Counter[str]] = {}

    def add(self, subscription: str, counter: str, n: int = 1) -> None:
        self._counts.setdefault(subscription, Counter())[counter] += n

    def snapshot(self, names: list[str], pending: dict[str, int]) -> dict[str, dict[str, int]]:
        """Every named subscription's counters (zeros included), plus ``pending``."""
        result = {}
        for name in sorted(names):
            counts = self._counts.get(name, Counter())
            result[name] = {key: counts[key] for key in COUNTERS}
            result[name]["pending"] = pending.get(name, 0)
        return result

    def forget(self, subscription: str) -> None:
        self._counts.pop(subscription, None)

    def reset(self) -> None:
        self._counts.clear()
