"""One thread's poller: reads ACS as the service identity and feeds ``observe_*``.

What is read and how often is described in ``chat/relay/__init__.py``. Every ACS call goes
through :meth:`ThreadPoller._call`, which waits for the thread's call budget and for any
backoff first, so the poller can neither exceed ACS's limits nor call a throttled thread early.
Calls run on the event loop (the async gateway), so a poll never holds up a user's send; the
observations are short database transactions on a worker thread (``chat.db``).

The poller ends when the service identity can no longer read the thread: 404 (deleted, straight
through ACS or otherwise) is published as ``thread.deleted``, 403 (the service identity was
removed outside Kwebbel) as ``relay.stopped``, and both are marked on the thread's record.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import time
from collections import deque
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import partial
from typing import Any

from django.conf import settings

from chat import gateway
from chat.db import run_db
from chat.relay import acs_events, observe
from chat.relay.budget import (
    GET_PROPERTIES,
    LIST_MESSAGES,
    LIST_PARTICIPANTS,
    LIST_RECEIPTS,
    Backoff,
    CallBudget,
    Clock,
)
from chat.relay.events import Event
from chat.types import Message, latest_receipts, message_number, parse_time

logger = logging.getLogger(__name__)

# Newest messages read each poll (more are read when a burst outruns it). Edits and deletions
# of these are noticed within a poll; the deep scan covers the newest DEEP_SCAN.
PAGE = 20
# A change younger than this that a reconciliation finds may have its event still on the way.
EVENTS_GRACE = timedelta(seconds=15)
# The suspect key of a change no message id names (a system message: events about members and
# the topic carry none), cleared by any event for the thread.
_ANY_CHANGE = "*"


def _suspect_key(event: Event) -> str:
    data = event.data if isinstance(event.data, dict) else {}
    if event.kind.startswith("message.") and data.get("type") in ("text", "html"):
        return str(data.get("id"))
    return _ANY_CHANGE


DEEP_SCAN = 200  # newest messages re-read every RELAY_DEEP_SCAN_EVERY (ACS's largest page)
MAX_PAGES = 40  # pages followed back in one poll when a burst outran the last poll

ThreadFactory = Callable[[str], gateway.AsyncChatThread]


class PollerStopped(Exception):
    """The service identity cannot read the thread (not a participant, or the thread is gone)."""

    def __init__(self, message: str, *, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status


class _TryLater(Exception):
    """A call was throttled or failed; the backoff says when to call again."""


@dataclass(frozen=True)
class CallRecord:
    """One ACS call as the poller saw it (status None: no response)."""

    operation: str
    status: int | None
    retry_after: float | None
    at: float


class ThreadPoller:
    # Longest single sleep, so a clock moved by a test (or a changed setting) is noticed soon.
    max_nap = 1.0

    def __init__(
        self,
        thread_id: str,
        *,
        clock: Clock = time.monotonic,
        thread_factory: ThreadFactory = gateway.service_poll_thread,
        phase: float | None = None,
    ) -> None:
        self.thread_id = thread_id
        self.clock = clock
        self.budget = CallBudget(clock)
        self.backoff = Backoff(clock)
        self.thread_factory = thread_factory
        self.trusted = False  # events trusted for this thread (see hint)
        # Pollers started together (many pages opening at once) would poll in step: each starts
        # at a random point of its interval instead.
        self.phase = random.random() * self.interval() if phase is None else phase
        # (id, version) of each message as last handed to observe_messages: a poll passes on
        # only what changed since, so an idle thread costs the database nothing.
        self._observed: dict[str, int | None] = {}
        self._receipts_observed: dict[str, str] = {}
        self.calls: deque[CallRecord] = deque(maxlen=5000)
        self.polls = 0  # completed polls
        self.naps = 0  # sleeps taken while waiting (for the budget, a backoff or the interval)
        self.newest_sequence: int | None = None
        self._last_deep: float | None = None
        self._last_edits = 0.0
        self.newest_created: datetime | None = None
        self._last_receipts: float | None = None
        self._last_reconciled: float | None = None
        # Events (chat.relay.hints): what they announced since the last read, and whether they
        # are trusted for this thread, i.e. polled only every RELAY_TRUSTED_POLL_INTERVAL.
        self._wake = asyncio.Event()
        self._hinted: set[str] = set()
        self._hinted_ids: set[str] = set()
        self.hints = 0  # hints received
        self.hint_reads = 0  # rounds that read what a hint announced
        self._last_hint_read: float | None = None
        # Changes a reconciliation found young (see _may_be_on_its_way): key -> when to judge.
        self._suspects: dict[str, float] = {}
        self.fallbacks = 0  # times a reconciliation found a change no event announced
        self._last_trusted_check: float | None = None

    def hint(self, kinds: Iterable[str], ids: Iterable[str] = ()) -> None:
        """An event announced a change (kinds from ``chat.relay.acs_events``): read it now.

        With ``RELAY_EVENTS`` on, it also makes the events trusted for this thread."""
        self.hints += 1
        ids = list(ids)
        self._hinted.update(kinds)
        self._hinted_ids.update(ids)
        for key in [*ids, _ANY_CHANGE]:
            self._suspects.pop(key, None)
        if settings.RELAY_EVENTS and not self.trusted:
            self.trust()
        self._wake.set()

    def trust(self, *, baseline: bool = False) -> None:
        """Rely on events for this thread: reconcile every RELAY_TRUSTED_POLL_INTERVAL (the
        first time at once, with ``baseline``: a poller that starts reads everything first)."""
        if not self.trusted:
            logger.info(
                "relay: events arrive for %s; reconciling it every %.0f s",
                self.thread_id,
                settings.RELAY_TRUSTED_POLL_INTERVAL,
            )
        self.trusted = True
        self._last_trusted_check = None if baseline else self.clock()

    async def run(self) -> None:
        """Poll until cancelled, or until the thread cannot be read (logged, published, then
        returns)."""
        client = self.thread_factory(self.thread_id)
        await self._wait_until(self.clock() + self.phase)
        try:
            while True:
                started = self.clock()
                try:
                    await self.poll_once(client)
                    self.polls += 1
                    if self.polls == 1:  # it can read the thread (again)
                        await run_db(observe.observe_service_present, self.thread_id)
                except _TryLater:
                    pass  # the next poll waits for the backoff in _call
                await self._wait_until(started + self.interval())
                await self._pace_hint_reads()
        except PollerStopped as stop:
            await self._stopped(stop)

    async def _stopped(self, stop: PollerStopped) -> None:
        if stop.status == 404:
            logger.warning("relay: %s was deleted; stopped polling it", self.thread_id)
            await run_db(observe.observe_thread_deleted, self.thread_id)
        elif stop.status == 403:
            logger.error(
                "relay: Kwebbel's service identity is no longer in %s (removed outside Kwebbel);"
                " changes made outside Kwebbel will not arrive live",
                self.thread_id,
            )
            await run_db(observe.observe_service_removed, self.thread_id)
        else:
            logger.error("relay: stopped polling %s: %s", self.thread_id, stop)

    def interval(self) -> float:
        """``RELAY_POLL_INTERVAL``, but never faster than the list budget's even pace (0.375 s):
        a lower setting would spend the 10 s allowance in a burst and then go quiet."""
        if self.trusted:
            # Wake for the receipts (and, at its time, the reconciliation); events wake it too.
            every = min(settings.RELAY_TRUSTED_RECEIPTS_EVERY, settings.RELAY_TRUSTED_POLL_INTERVAL)
            return max(every, self.budget.spacing(LIST_RECEIPTS))
        return max(settings.RELAY_POLL_INTERVAL, self.budget.spacing(LIST_MESSAGES))

    async def _wait_until(self, deadline: float) -> None:
        """Sleep until the deadline, or until a hint arrives."""
        while (left := deadline - self.clock()) > 0 and not self._wake.is_set():
            self.naps += 1
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), min(left, self.max_nap))

    async def _call(self, operation: str, call: Callable[[], Awaitable[Any]]) -> Any:
        while (wait := max(self.backoff.wait_time(), self.budget.wait_time(operation))) > 0:
            self.naps += 1
            await asyncio.sleep(min(wait, self.max_nap))
        self.budget.spend(operation)
        at = self.clock()
        try:
            result = await call()
        except gateway.GatewayError as error:
            status = error.status
            self.calls.append(CallRecord(operation, status, error.retry_after, at))
            if status in (403, 404):
                raise PollerStopped(f"{operation} answered {status}", status=status) from error
            delay = self.backoff.failed(error.retry_after)
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

    async def poll_once(self, client: gateway.AsyncChatThread) -> list[Event]:
        """One round: first what events announced since the last round; then, while events are
        trusted, the reconciliation when due and receipts at their slower pace, otherwise a
        poll as without events."""
        hinted, self._hinted = self._hinted, set()
        ids, self._hinted_ids = self._hinted_ids, set()
        self._wake.clear()
        events = await self._read_hinted(client, hinted, ids) if hinted else []
        self._judge_suspects()
        if not self.trusted:
            return events + await self._poll_round(client)
        now = self.clock()
        last = self._last_trusted_check
        if last is None or now - last >= settings.RELAY_TRUSTED_POLL_INTERVAL:
            self._last_trusted_check = now
            events += await self._trusted_reconcile(client, judge=last is not None)
        if self._receipts_due(settings.RELAY_TRUSTED_RECEIPTS_EVERY):
            self._last_receipts = self.clock()
            events += await self._read_receipts(client)
        return events

    async def _pace_hint_reads(self) -> None:
        """A busy thread's events come faster than ACS lets one identity list its messages
        (250 a minute per thread at most, 160 in the budget): one read per event would spend
        the budget in seconds and then wait for it for most of a minute. Reads for events are
        spaced by the budget's even pace instead; what arrives meanwhile is read together."""
        if not self._hinted or self._last_hint_read is None:
            return
        gap = self._last_hint_read + self.budget.spacing(LIST_MESSAGES) - self.clock()
        if gap > 0:
            self.naps += 1
            await asyncio.sleep(gap)

    async def _read_hinted(
        self, client: gateway.AsyncChatThread, kinds: set[str], ids: set[str]
    ) -> list[Event]:
        """Read what events announced, through the poll's own reads: new messages (and the
        system messages that announce members and topic) since the newest seen; for edits and
        deletions the newest PAGE whole, or DEEP_SCAN when an announced message is older."""
        self.hint_reads += 1
        self._last_hint_read = self.clock()
        if kinds & {acs_events.MESSAGE_CHANGED, acs_events.THREAD_DELETED}:
            events, seen = await self._read_messages(client, (PAGE, None, False))
            if ids - seen:
                more, _seen = await self._read_messages(client, (DEEP_SCAN, None, True))
                events += more
            return events
        if self.newest_created is None:
            query = (PAGE, None, False)
        else:
            query = (PAGE, self.newest_created.replace(microsecond=0), False)
        events, _seen = await self._read_messages(client, query)
        return events

    async def _trusted_reconcile(self, client: gateway.AsyncChatThread, judge: bool) -> list[Event]:
        """The rare full read while events are trusted: the newest DEEP_SCAN messages, the
        members and the topic. Whatever it publishes, no event announced (what events announce
        was read when they arrived), so the thread goes back to polling fast, and says why; a
        change younger than EVENTS_GRACE is judged when the grace is over, unless its event came.
        Not judged on the first round, which reads what happened before anyone listened."""
        reading = await self._read_state(client)
        events, _seen = await self._read_messages(client, (DEEP_SCAN, None, True))
        events += await self._reconcile(*reading)
        self._last_deep = self._last_edits = self._last_reconciled = self.clock()
        if not judge:
            return events
        unannounced = []
        for event in events:
            if self._may_be_on_its_way(event):
                # Judged when its grace is over, unless its event has come by then.
                judge_at = self.clock() + EVENTS_GRACE.total_seconds()
                self._suspects.setdefault(_suspect_key(event), judge_at)
            else:
                unannounced.append(event)
        if unannounced:
            self._fall_back(len(unannounced), sorted({e.kind for e in unannounced}))
        return events

    def _judge_suspects(self) -> None:
        """Changes a reconciliation found while their events might still have been on the way:
        any still unannounced once the grace is over mean events are missing."""
        now = self.clock()
        overdue = [key for key, deadline in self._suspects.items() if deadline <= now]
        if overdue and self.trusted:
            self._fall_back(len(overdue), ["announced by no event within the grace"])
        for key in overdue:
            self._suspects.pop(key, None)

    def _fall_back(self, count: int, kinds: list[str]) -> None:
        self.trusted = False
        self.fallbacks += 1
        self._suspects.clear()
        logger.warning(
            "relay: %s: reconciliation found %d change(s) no event announced (%s);"
            " polling it every %.1f s again until events arrive",
            self.thread_id,
            count,
            ", ".join(kinds),
            settings.RELAY_POLL_INTERVAL,
        )

    @staticmethod
    def _may_be_on_its_way(event: Event) -> bool:
        """Whether a change the reconciliation found is recent enough that its event may still
        be on its way (Event Grid delivers within seconds, not at once): such a change proves
        nothing about the subscription, and the event, when it comes, finds nothing new."""
        data = event.data if isinstance(event.data, dict) else {}
        times = [parse_time(data.get(key)) for key in ("created_on", "edited_on", "deleted_on")]
        newest = max((t for t in times if t is not None), default=None)
        return newest is not None and datetime.now(UTC) - newest < EVENTS_GRACE

    def _receipts_due(self, every: float) -> bool:
        due = self._last_receipts is None or self.clock() - self._last_receipts >= every
        return due and self.budget.wait_time(LIST_RECEIPTS) == 0

    async def _poll_round(self, client: gateway.AsyncChatThread) -> list[Event]:
        """A poll as without events: messages (with the topic and membership changes they
        announce), the current members and topic when due, receipts when the budget allows."""
        every = settings.RELAY_DEEP_SCAN_EVERY
        due = self._last_reconciled is None or self.clock() - self._last_reconciled >= every
        reading = await self._read_state(client) if due else None
        events, _seen = await self._read_messages(client, self._message_query())
        if reading is not None:
            events += await self._reconcile(*reading)
            self._last_reconciled = self.clock()
        # Receipts are optional each round: read them when due, evenly spaced rather than in
        # a burst that spends the 10 s allowance at once.
        if self._receipts_due(self.budget.spacing(LIST_RECEIPTS)):
            self._last_receipts = self.clock()
            events += await self._read_receipts(client)
        return events

    def _message_query(self) -> tuple[int, datetime | None, bool]:
        """What this round reads: (page size, created-since, is it the deep scan).

        Most rounds ask only for messages created since the second of the newest one seen (ACS
        reports times to the second): that is what is new, and cheap. Every
        ``RELAY_EDIT_SCAN_EVERY`` the newest PAGE are read whole, for edits and deletions; every
        ``RELAY_DEEP_SCAN_EVERY`` the newest DEEP_SCAN.
        """
        now = self.clock()
        if self._last_deep is None or now - self._last_deep >= settings.RELAY_DEEP_SCAN_EVERY:
            self._last_deep = self._last_edits = now
            return DEEP_SCAN, None, True
        if self.newest_created is None or now - self._last_edits >= settings.RELAY_EDIT_SCAN_EVERY:
            self._last_edits = now
            return PAGE, None, False
        return PAGE, self.newest_created.replace(microsecond=0), False

    async def _read_messages(
        self, client: gateway.AsyncChatThread, query: tuple[int, datetime | None, bool]
    ) -> tuple[list[Event], set[str]]:
        """Read the messages of a query (see _message_query) and publish what changed; the
        events and the ids read."""
        size, since, _deep = query
        messages: list[Message] = []
        continuation: str | None = None
        for number in range(MAX_PAGES):
            if number and not continuation:
                break
            page = await self._call(
                LIST_MESSAGES,
                lambda c=continuation: client.list_messages(size, c, start_time=since),
            )
            continuation = page.continuation
            messages += page.items
            if since is not None:
                continue  # every page is news: follow them all
            sequences = [m.sequence_id for m in page.items if m.sequence_id is not None]
            # Page back only while the page is all news: a burst larger than one page.
            if self.newest_sequence is None or not sequences:
                break
            if min(sequences) <= self.newest_sequence + 1:
                break
        else:
            logger.warning("relay: %s: more than %d pages of news", self.thread_id, MAX_PAGES)
        changed = [m for m in messages if self._observed.get(m.id, -1) != m.version]
        events = await run_db(observe.observe_messages, self.thread_id, changed) if changed else []
        self._observed.update((m.id, m.version) for m in changed)
        if len(self._observed) > 4 * DEEP_SCAN:  # keep the newest: ids are creation times
            newest = sorted(self._observed, key=message_number, reverse=True)[: 2 * DEEP_SCAN]
            self._observed = {i: self._observed[i] for i in newest}
        sequences = [m.sequence_id for m in messages if m.sequence_id is not None]
        if sequences:
            self.newest_sequence = max(self.newest_sequence or 0, *sequences)
        created = [m.created for m in messages if m.created is not None]
        if created:
            self.newest_created = max(self.newest_created or created[0], *created)
        return events, {m.id for m in messages}

    async def _read_state(self, client: gateway.AsyncChatThread) -> tuple[Any, ...]:
        """The members and the topic as they are now, and where the relay stood before the
        reads (:func:`observe.applied`); read *before* the messages of the same round."""
        topic_seq, members_version = await run_db(observe.applied, self.thread_id)
        members = await self._call(LIST_PARTICIPANTS, client.list_participants)
        properties = await self._call(GET_PROPERTIES, client.get_properties)
        return members, members_version, properties.topic, topic_seq

    async def _reconcile(
        self, members: list[Any], members_version: int, topic: str, topic_seq: int | None
    ) -> list[Event]:
        """Compare the state read before this round's messages with what the relay published
        after them. The messages announced every change made before they were read, so if an
        announcement was applied since the state was read, the state is the older of the two
        and changes nothing; if none was and the state still differs, an announcement was
        missed (older than the newest 200 messages) and the difference is published."""
        events = await run_db(
            partial(observe.observe_members, expected=members_version), self.thread_id, members
        )
        events += await run_db(
            partial(observe.observe_topic, expected=topic_seq), self.thread_id, topic
        )
        return events

    async def _read_receipts(self, client: gateway.AsyncChatThread) -> list[Event]:
        receipts = await self._call(LIST_RECEIPTS, client.list_read_receipts)
        # ACS keeps one receipt per reader and supports receipts in threads of at most 20
        # members, so one page (default size) holds them all.
        latest = {reader: str(number) for reader, number in latest_receipts(receipts).items()}
        if latest == self._receipts_observed:
            return []
        events = await run_db(observe.observe_receipts, self.thread_id, latest)
        self._receipts_observed = latest
        return events
