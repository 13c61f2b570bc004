"""The process's relay: which threads have viewers here, and the poller for those it holds.

A consumer calls ``await get_relay().watch(thread_id)`` when a page subscribes and
``unwatch`` when it leaves. While a thread has viewers in this process, a task tries to take
the thread's lock (see ``locks.py``) every ``lock_retry`` seconds and runs a
:class:`ThreadPoller` while it holds it; the last viewer leaving cancels the task, which stops
the poller and releases the lock, so a process that still has viewers takes over.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import Counter
from collections.abc import Callable
from typing import Any

from channels.layers import get_channel_layer
from django.conf import settings

from chat.relay import hints
from chat.relay.locks import LockBackend, ThreadLock, backend_from_settings
from chat.relay.poller import ThreadPoller

logger = logging.getLogger(__name__)

# After a poller gave up on a thread (the service identity cannot read it), try again this much
# later rather than at once: it usually stays unreadable.
RESTART_AFTER_STOP = 60.0


class Relay:
    def __init__(
        self,
        *,
        locks: LockBackend | None = None,
        poller_factory: Callable[[str], ThreadPoller] = ThreadPoller,
        lock_retry: float = 2.0,
    ) -> None:
        self._locks = locks if locks is not None else backend_from_settings(settings.REDIS_URL)
        self._poller_factory = poller_factory
        self.lock_retry = lock_retry
        self._viewers: Counter[str] = Counter()
        self._tasks: dict[str, asyncio.Task[None]] = {}
        # The pollers running in this process now, by thread; and how often each was started.
        self.pollers: dict[str, ThreadPoller] = {}
        self.poller_starts: Counter[str] = Counter()
        # Event hints (hints.py): this process's channel, in the hint group of each thread it
        # polls, and the task that hands what arrives on it to the pollers.
        self._hint_channel: str | None = None
        self._hint_task: asyncio.Task[None] | None = None

    def viewers(self, thread_id: str) -> int:
        return self._viewers[thread_id]

    def polling(self, thread_id: str) -> bool:
        """Whether this process polls the thread right now."""
        return thread_id in self.pollers

    async def polled(self, thread_id: str) -> bool:
        """Whether any process polls the thread right now (holds its lock)."""
        return thread_id in self.pollers or await self._locks.held(thread_id)

    async def watch(self, thread_id: str) -> None:
        """One more local viewer of the thread; the first starts trying to poll it."""
        self._viewers[thread_id] += 1
        if thread_id not in self._tasks:
            self._tasks[thread_id] = asyncio.create_task(
                self._hold_and_poll(thread_id), name=f"relay {thread_id}"
            )

    async def unwatch(self, thread_id: str) -> None:
        """One viewer fewer; with none left, stop polling and release the thread's lock."""
        if self._viewers[thread_id] > 1:
            self._viewers[thread_id] -= 1
            return
        self._viewers.pop(thread_id, None)
        task = self._tasks.pop(thread_id, None)
        if task is not None:
            await _cancel(task)

    async def stop(self) -> None:
        """Stop every poller, release every lock (shutdown, tests)."""
        tasks = list(self._tasks.values())
        self._tasks.clear()
        self._viewers.clear()
        for task in tasks:
            await _cancel(task)
        if self._hint_task is not None:
            await _cancel(self._hint_task)
            self._hint_task = self._hint_channel = None
        await self._locks.close()

    async def _listen_for_hints(self, thread_id: str) -> None:
        """Join the thread's hint group (with events on), so the webhook reaches this poller."""
        if not settings.RELAY_EVENTS:
            return
        layer = get_channel_layer()
        if self._hint_channel is None:
            # The default prefix on purpose: channels_redis reads all of a process's own
            # channels from one Redis list, named by that prefix; another prefix would wait
            # behind the consumers' reads and never be served.
            self._hint_channel = await layer.new_channel()
            self._hint_task = asyncio.create_task(
                self._receive_hints(layer, self._hint_channel), name="relay hints"
            )
        await layer.group_add(hints.group(thread_id), self._hint_channel)

    async def _stop_listening(self, thread_id: str) -> None:
        if self._hint_channel is not None:
            with contextlib.suppress(Exception):  # a layer outage must not keep the lock
                await get_channel_layer().group_discard(hints.group(thread_id), self._hint_channel)

    async def _receive_hints(self, layer: Any, channel: str) -> None:
        while True:
            try:
                message = await layer.receive(channel)
            except asyncio.CancelledError:
                raise
            except Exception:  # Redis went away: polling carries on; try again shortly
                logger.exception("relay: reading event hints failed")
                await asyncio.sleep(self.lock_retry)
                continue
            poller = self.pollers.get(message.get("thread", ""))
            if poller is not None and message.get("type") == hints.HINT_TYPE:
                poller.hint(message.get("kinds", ()), message.get("ids", ()))

    async def _hold_and_poll(self, thread_id: str) -> None:
        lock = self._locks.lock(thread_id)
        try:
            while True:
                if await lock.acquire():
                    await self._poll_while_held(thread_id, lock)
                else:
                    await asyncio.sleep(self.lock_retry)
        finally:
            await lock.release()

    async def _poll_while_held(self, thread_id: str, lock: ThreadLock) -> None:
        """Run pollers (restarting them if they end) until the lock is lost."""
        while True:
            poller = self._poller_factory(thread_id)
            if settings.RELAY_EVENTS and await _events_alive():
                poller.trust(baseline=True)  # events reached the webhook lately
            self.pollers[thread_id] = poller
            self.poller_starts[thread_id] += 1
            await self._listen_for_hints(thread_id)
            task = asyncio.create_task(poller.run(), name=f"poller {thread_id}")
            logger.info("relay: polling %s", thread_id)
            try:
                while not task.done():
                    await asyncio.wait({task}, timeout=self._locks.renew_every)
                    if not task.done() and not await lock.renew():
                        logger.warning("relay: lost the lock of %s; stopped polling", thread_id)
                        return
            finally:
                await _cancel(task)
                self.pollers.pop(thread_id, None)
                await self._stop_listening(thread_id)
                logger.info("relay: stopped polling %s", thread_id)
            error = None if task.cancelled() else task.exception()
            if error is not None:
                logger.error("relay: poller of %s failed", thread_id, exc_info=error)
            # Keep the lock while waiting, so no other process retries the same thread at once.
            pause = self.lock_retry if error is not None else RESTART_AFTER_STOP
            if not await _sleep_holding(lock, pause, self._locks.renew_every):
                return


async def _events_alive() -> bool:
    try:
        return await hints.events_alive()
    except Exception:  # the cache is down: poll fast, the safe side
        return False


async def _sleep_holding(lock: ThreadLock, seconds: float, renew_every: float) -> bool:
    """Sleep while renewing the lock; False if it was lost."""
    loop = asyncio.get_running_loop()
    until = loop.time() + seconds
    while (left := until - loop.time()) > 0:
        await asyncio.sleep(min(left, renew_every))
        if not await lock.renew():
            return False
    return True


async def _cancel(task: asyncio.Task[None]) -> None:
    """Cancel and wait for the task; its own failure is not ours to raise here."""
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError, Exception):
        await task


_relay: Relay | None = None


def get_relay() -> Relay:
    """The process's relay (made on first use, for the running event loop)."""
    global _relay
    if _relay is None:
        _relay = Relay()
    return _relay


async def reset_relay() -> None:
    """Stop the process's relay and forget it and what it cached (tests; settings changed)."""
    from chat.relay import inbox, render

    global _relay
    relay, _relay = _relay, None
    if relay is not None:
        await relay.stop()
    render.reset()
    inbox.users.reset()
    hints.reset()
