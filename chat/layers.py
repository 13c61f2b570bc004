"""The in-process channel layer Kwebbel uses without Redis (one server process).

Channels' ``InMemoryChannelLayer`` sweeps every channel and every group for expired messages on
each ``receive``: with a few thousand connections (each its own channel, in its session, user
and thread groups) that sweep was the largest single cost of a busy process, paid once per
message delivered. This layer sweeps at most once a second instead; messages still expire after
``expiry`` seconds (60 by default), a second later at most.
"""

from __future__ import annotations

import time

from channels.layers import InMemoryChannelLayer

SWEEP_EVERY = 1.0


class InProcessChannelLayer(InMemoryChannelLayer):
    _last_sweep = 0.0

    def _clean_expired(self) -> None:
        now = time.monotonic()
        if now - self._last_sweep < SWEEP_EVERY:
            return
        self._last_sweep = now
        super()._clean_expired()
