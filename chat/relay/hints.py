"""Hints from the webhook to the poller of a thread, in whichever server process holds it.

An ACS chat event says only "thread X changed"; the change itself is read from ACS by the
thread's poller (``poller.py``), through the same path as its polls, and published once by
``observe.py``. The poller runs in the process that holds the thread's lock (``relay.py``), which
need not be the one Event Grid posted to, so a hint goes through the channel layer: the relay
adds its own channel to the thread's hint group while it polls the thread, and the webhook
sends to that group. A hint that finds no poller (nobody watches the thread) is simply lost:
nothing needs reading then. With the in-process layer all of this stays in one process.

Duplicates: Event Grid delivers at least once. Each process remembers the ids of the last
``SEEN_IDS`` events it accepted and drops repeats; a repeat that reaches another process costs
one read that publishes nothing (the relay publishes by message version and sequence id).
"""

from __future__ import annotations

import hashlib
import time
from collections import OrderedDict
from collections.abc import Iterable

from channels.layers import get_channel_layer
from django.core.cache import cache

from chat.relay.acs_events import Hint

SEEN_IDS = 20_000  # event ids remembered per process (about 2 MB)
HINT_TYPE = "relay.hint"
# A handshake or delivery this recent means events flow: a poller that starts now trusts them
# at once (see ThreadPoller.trusted). Marked at most every ALIVE_MARK_EVERY per process.
ALIVE_KEY = "relay:events-alive"
ALIVE_FOR = 600.0
ALIVE_MARK_EVERY = 10.0


def group(thread_id: str) -> str:
    """The channel-layer group of the process polling a thread (ASCII, under 100 chars)."""
    return "relay-hints." + hashlib.sha256(thread_id.encode()).hexdigest()[:40]


class SeenIds:
    """The last ``size`` event ids, oldest forgotten first."""

    def __init__(self, size: int = SEEN_IDS) -> None:
        self.size = size
        self._ids: OrderedDict[str, None] = OrderedDict()

    def first_time(self, event_id: str) -> bool:
        """True the first time an id is seen (and remembers it)."""
        if event_id in self._ids:
            self._ids.move_to_end(event_id)
            return False
        self._ids[event_id] = None
        if len(self._ids) > self.size:
            self._ids.popitem(last=False)
        return True

    def forget(self, event_ids: Iterable[str]) -> None:
        for event_id in event_ids:
            self._ids.pop(event_id, None)

    def __len__(self) -> int:
        return len(self._ids)

    def reset(self) -> None:
        self._ids.clear()


seen = SeenIds()


async def send(hints: Iterable[Hint]) -> int:
    """Hand the hints to their threads' pollers, one message per thread; the threads hinted."""
    by_thread: dict[str, tuple[set[str], set[str]]] = {}
    for hint in hints:
        kinds, ids = by_thread.setdefault(hint.thread_id, (set(), set()))
        kinds.add(hint.kind)
        ids.update(hint.ids)
    layer = get_channel_layer()
    for thread_id, (kinds, ids) in by_thread.items():
        await layer.group_send(
            group(thread_id),
            {"type": HINT_TYPE, "thread": thread_id, "kinds": sorted(kinds), "ids": sorted(ids)},
        )
    return len(by_thread)


_last_mark = 0.0


async def mark_alive() -> None:
    """Note that Event Grid reached the webhook (shared by all processes through the cache)."""
    global _last_mark
    now = time.monotonic()
    if now - _last_mark < ALIVE_MARK_EVERY:
        return
    _last_mark = now
    await cache.aset(ALIVE_KEY, True, timeout=ALIVE_FOR)


async def events_alive() -> bool:
    """Whether Event Grid reached the webhook within ALIVE_FOR seconds."""
    return bool(await cache.aget(ALIVE_KEY))


def reset() -> None:
    """Forget the ids seen and the last mark (tests)."""
    global _last_mark
    _last_mark = 0.0
    seen.reset()
