"""One thread's poller: reads ACS as the service identity and feeds ``observe_*``.

What is read and how often is described in ``chat/relay/__init__.py``. Every ACS call goes
through :meth:`ThreadPoller._call`, which waits for the thread's call budget and for any
backoff first, so the poller can neither exceed ACS's limits nor call a throttled thread early.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import deque
from collections.abc import Awaitable, Callable
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from typing import Any

from azure.core.exceptions import AzureError, HttpResponseError
from channels.db import database_sync_to_async
from django.conf import settings

from chat import gateway
from chat.relay import observe
from chat.relay.budget import (
    GET_PROPERTIES,
    LIST_MESSAGES,
    LIST_PARTICIPANTS,
    LIST_RECEIPTS,
    Backoff,
    CallBudget,
    Clock,
)
from chat.relay.events import MESSAGE_ADDED, Event, MessageState

logger = logging.getLogger(__name__)

PAGE = 50  # newest messages read each poll
DEEP_SCAN = 200  # newest messages re-read every RELAY_DEEP_SCAN_EVERY (ACS's largest page)
MAX_PAGES = 40  # pages followed back in one poll when a burst outran the last poll
PARTICIPANT_PAGE = 100
MEMBER_TYPES = ("participantAdded", "participantRemoved")
TOPIC_TYPE = "topicUpdated"

ClientFactory = Callable[[str], AbstractAsyncContextManager[Any]]


class PollerStopped(Exception):
    """The service identity cannot read the thread (not a participant, or the thread is gone)."""


class _TryLater(Exception):
    """A call was throttled or failed; the backoff says when to call again."""


@dataclass(frozen=True)
class CallRecord:
    """One ACS call as the poller saw it (status None: no response)."""

    operation: str
    status: int | None
    retry_after: float | None
    at: float


def retry_after(error: HttpResponseError) -> float | None:
    """Seconds from ``retry-after-ms``/``x-ms-retry-after-ms``/``Retry-After``, if any."""
    headers = getattr(error.response, "headers", None) or {}
    for name, scale in (
        ("retry-after-ms", 1000),
        ("x-ms-retry-after-ms", 1000),
        ("retry-after", 1),
    ):
        value = headers.get(name)
        if value is not None:
            try:
                return max(0.0, float(value) / scale)
            except ValueError:
                continue  # an HTTP date: ACS sends seconds; fall back to our own backoff
    return None


def _number(message_id: str) -> int:
    return int(message_id) if message_id.isdigit() else -1


class ThreadPoller:
    # Longest single sleep, so a clock moved by a test (or a changed setting) is noticed soon.
    max_nap = 1.0

    def __init__(
        self,
        thread_id: str,
        *,
        clock: Clock = time.monotonic,
        client_factory: ClientFactory = gateway.async_service_poll_client,
    ) -> None:
        self.thread_id = thread_id
        self.clock = clock
        self.budget = CallBudget(clock)
        self.backoff = Backoff(clock)
        self.client_factory = client_factory
        self.calls: deque[CallRecord] = deque(maxlen=5000)
        self.polls = 0  # completed polls
        self.naps = 0  # sleeps taken while waiting (for the budget, a backoff or the interval)
        self.newest_sequence: int | None = None
        self._last_deep: float | None = None
        self._last_receipts: float | None = None
        self._need_members = True
        self._need_topic = True

    async def run(self) -> None:
        """Poll until cancelled, or until the thread cannot be read (logged, then returns)."""
        try:
            async with self.client_factory(self.thread_id) as client:
                while True:
                    started = self.clock()
                    try:
                        await self.poll_once(client)
                        self.polls += 1
                    except _TryLater:
                        pass  # the next poll waits for the backoff in _call
                    await self._wait_until(started + self.interval())
        except PollerStopped as stop:
            logger.error("relay: stopped polling %s: %s", self.thread_id, stop)

    def interval(self) -> float:
        """``RELAY_POLL_INTERVAL``, but never faster than the list budget's even pace (0.375 s):
        a lower setting would spend the 10 s allowance in a burst and then go quiet."""
        return max(settings.RELAY_POLL_INTERVAL, self.budget.spacing(LIST_MESSAGES))

    async def _wait_until(self, deadline: float) -> None:
        while (left := deadline - self.clock()) > 0:
            self.naps += 1
            await asyncio.sleep(min(left, self.max_nap))

    async def _call(self, operation: str, call: Callable[[], Awaitable[Any]]) -> Any:
        while (wait := max(self.backoff.wait_time(), self.budget.wait_time(operation))) > 0:
            self.naps += 1
            await asyncio.sleep(min(wait, self.max_nap))
        self.budget.spend(operation)
        at = self.clock()
        try:
            result = await call()
        except HttpResponseError as error:
            status = error.status_code
            after = retry_after(error)
            self.calls.append(CallRecord(operation, status, after, at))
            if status in (401, 403, 404):
                raise PollerStopped(f"{operation} answered {status}") from error
            delay = self.backoff.failed(after)
            logger.warning(
                "relay: %s on %s: %s; next call in %.1fs", operation, self.thread_id, status, delay
            )
            raise _TryLater from error
        except AzureError as error:
            self.calls.append(CallRecord(operation, None, None, at))
            delay = self.backoff.failed(None)
            logger.warning(
                "relay: %s on %s failed (%s); next call in %.1fs",
                operation,
                self.thread_id,
                error,
                delay,
            )
            raise _TryLater from error
        self.calls.append(CallRecord(operation, 200, None, at))
        self.backoff.succeeded()
        return result

    async def poll_once(self, client: Any) -> list[Event]:
        """One round: members/topic when due, messages, receipts when the budget allows."""
        events: list[Event] = []
        if self._need_members:
            events += await self._read_members(client)
        if self._need_topic:
            events += await self._read_topic(client)
        events += await self._read_messages(client)
        if self._need_members:  # a participant system message just arrived
            events += await self._read_members(client)
        # Receipts are optional each round: read them when due, evenly spaced rather than in
        # a burst that spends the 10 s allowance at once.
        due = self._last_receipts is None or (
            self.clock() - self._last_receipts >= self.budget.spacing(LIST_RECEIPTS)
        )
        if due and self.budget.wait_time(LIST_RECEIPTS) == 0:
            self._last_receipts = self.clock()
            events += await self._read_receipts(client)
        return events

    async def _read_messages(self, client: Any) -> list[Event]:
        every = settings.RELAY_DEEP_SCAN_EVERY
        deep = self._last_deep is None or self.clock() - self._last_deep >= every
        pager = client.list_messages(results_per_page=DEEP_SCAN if deep else PAGE).by_page()
        states: list[MessageState] = []
        for number in range(MAX_PAGES):
            if number and not pager.continuation_token:
                break
            page = await self._call(LIST_MESSAGES, pager.__anext__)
            batch = [MessageState.from_acs(m) async for m in page]
            states += batch
            sequences = [s.sequence_id for s in batch if s.sequence_id is not None]
            # Page back only while the page is all news: a burst larger than one page.
            if self.newest_sequence is None or not sequences:
                break
            if min(sequences) <= self.newest_sequence + 1:
                break
        else:
            logger.warning("relay: %s: more than %d pages of news", self.thread_id, MAX_PAGES)
        if deep:
            self._last_deep = self.clock()
        events = await database_sync_to_async(observe.observe_messages)(self.thread_id, states)
        sequences = [s.sequence_id for s in states if s.sequence_id is not None]
        if sequences:
            self.newest_sequence = max(self.newest_sequence or 0, *sequences)
        for event in events:
            kind = event.data.get("type")
            if event.kind == MESSAGE_ADDED and kind in MEMBER_TYPES:
                self._need_members = True
            elif event.kind == MESSAGE_ADDED and kind == TOPIC_TYPE:
                # The system message names the new topic: no GetChatThreadProperties needed.
                content = event.data.get("content") or {}
                events += await database_sync_to_async(observe.observe_topic)(
                    self.thread_id, content.get("topic") or "", content.get("initiator")
                )
        return events

    async def _read_members(self, client: Any) -> list[Event]:
        pager = client.list_participants(results_per_page=PARTICIPANT_PAGE).by_page()
        members: dict[str, Any] = {}
        number = 0
        while number == 0 or pager.continuation_token:
            number += 1
            page = await self._call(LIST_PARTICIPANTS, pager.__anext__)
            async for p in page:
                members[p.identifier.raw_id] = p.share_history_time
        self._need_members = False
        return await database_sync_to_async(observe.observe_members)(self.thread_id, members)

    async def _read_topic(self, client: Any) -> list[Event]:
        properties = await self._call(GET_PROPERTIES, client.get_properties)
        self._need_topic = False
        if getattr(properties, "deleted_on", None):
            raise PollerStopped("the thread was deleted")
        return await database_sync_to_async(observe.observe_topic)(
            self.thread_id, properties.topic or ""
        )

    async def _read_receipts(self, client: Any) -> list[Event]:
        pager = client.list_read_receipts().by_page()
        page = await self._call(LIST_RECEIPTS, pager.__anext__)
        latest: dict[str, str] = {}
        async for receipt in page:
            reader = getattr(receipt.sender, "raw_id", None)
            message_id = str(receipt.chat_message_id)
            if reader and (reader not in latest or _number(message_id) > _number(latest[reader])):
                latest[reader] = message_id
        # ACS keeps one receipt per reader and supports receipts in threads of at most 20
        # members, so one page (default size) holds them all.
        return await database_sync_to_async(observe.observe_receipts)(self.thread_id, latest)
