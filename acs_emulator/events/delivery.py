"""The delivery worker: one background task per subscription, on the emulator's event loop.

What it does, after Event Grid ("Delivery and retry", "Endpoint validation"):

* **Handshake first.** Event Grid schema: POST a ``SubscriptionValidationEvent``
  (``aeg-event-type: SubscriptionValidation``); a 200 whose JSON has ``validationResponse`` equal
  to the code (key matched case-insensitively) validates; a 200 without it waits for a GET of the
  ``validationUrl`` (the emulator's ``/_emulator/events/subscriptions/<name>/validate?code=``)
  for 10 minutes. CloudEvents: ``OPTIONS`` with ``WebHook-Request-Origin: eventgrid.azure.net``;
  a ``WebHook-Allowed-Origin`` of that origin or ``*`` validates. An attempt that fails or times
  out is tried again after 5 s, three attempts in all; then the subscription is ``Failed``, its
  waiting events are dropped, and nothing more is delivered to it until it is added again.
* **Deliveries** carry ``aeg-event-type: Notification``, ``aeg-subscription-name``,
  ``aeg-delivery-count`` (attempts made before this one: 0 on the first), ``aeg-metadata-version``,
  ``aeg-data-version`` (Event Grid schema) and, for a single event, ``aeg-output-event-id``;
  CloudEvents deliveries also carry ``Origin: eventgrid.azure.net`` (CloudEvents webhook spec).
  Static delivery headers of the subscription are added.
* **Success** is 200-204 only. 400, 401, 403 and 413 are not retried: the events are dropped
  (counted; Event Grid would dead-letter them if a container were configured). Everything else,
  time-outs and connection errors included, is retried on Event Grid's schedule: 10 s, 30 s,
  1 min, 5 min, 10 min, 30 min, 1 h, 3 h, 6 h, then every 12 h, until ``maxDeliveryAttempts``
  or the time to live runs out (checked at the next attempt, as Event Grid does). The schedule,
  the time to live, the handshake's waits and the manual-validation window are multiplied by
  ``retry_scale`` (``--events-retry-scale``), so tests can run it in milliseconds; there is no
  jitter, which keeps test runs repeatable.
* **Batches** (``maxEventsPerBatch`` > 1) take due events up to that count and
  ``preferredBatchSizeInKilobytes`` (one larger event still goes alone) and succeed or fail as a
  whole. Up to four requests per subscription are in flight at once, so events may overtake each
  other: there is no ordering promise, as on Event Grid. At least once: an event is removed from
  the queue only after a success, so a crash in between delivers it again.

Deviation: real Event Grid only delivers to HTTPS endpoints with publicly trusted certificates.
The emulator also delivers to ``http://`` (Kwebbel's development server is plain HTTP) and
trusts the system CAs plus ``--events-ca-bundle``.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import random
import secrets
import ssl
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import quote

import aiohttp

from .counters import DeliveryCounters
from .envelopes import (
    CLOUDEVENTS,
    CLOUDEVENTS_ORIGIN,
    CONTENT_TYPES,
    EVENTGRID,
    batch_body,
    validation_event,
)
from .outbox import Outbox, QueuedEvent
from .subscriptions import (
    AWAITING_MANUAL_ACTION,
    CREATING,
    FAILED,
    SUCCEEDED,
    Subscription,
    SubscriptionStore,
)

log = logging.getLogger("acs_emulator.events")

RETRY_SCHEDULE_S = (10, 30, 60, 300, 600, 1800, 3600, 10800, 21600)
RETRY_AFTER_SCHEDULE_S = 43200
SUCCESS = frozenset({200, 201, 202, 203, 204})
NOT_RETRIED = frozenset({400, 401, 403, 413})
HANDSHAKE_ATTEMPTS = 3
HANDSHAKE_RETRY_S = 5
MANUAL_VALIDATION_S = 600
MAX_IN_FLIGHT = 4


@dataclass(frozen=True)
class DeliverySettings:
    retry_scale: float = 1.0
    timeout_s: float = 30.0
    ca_bundle: Path | None = None
    seed: int | None = None


def retry_delay(attempts: int) -> float:
    """Seconds until the next try after ``attempts`` failed ones (unscaled)."""
    if attempts <= len(RETRY_SCHEDULE_S):
        return RETRY_SCHEDULE_S[attempts - 1]
    return RETRY_AFTER_SCHEDULE_S


def client_ssl_context(ca_bundle: Path | None) -> ssl.SSLContext:
    context = ssl.create_default_context()
    if ca_bundle is not None:
        context.load_verify_locations(cafile=str(ca_bundle))
    return context


@dataclass
class _Lane:
    """The worker's per-subscription state."""

    task: asyncio.Task | None = None
    wake: asyncio.Event = field(default_factory=asyncio.Event)


class DeliveryWorker:
    def __init__(
        self,
        *,
        subscriptions: SubscriptionStore,
        outbox: Outbox,
        counters: DeliveryCounters,
        settings: DeliverySettings,
        resource_id: str,
    ) -> None:
        self.subscriptions = subscriptions
        self.outbox = outbox
        self.counters = counters
        self.settings = settings
        self.resource_id = resource_id
        self.endpoint = ""
        self._random = random.Random(settings.seed)
        self._lanes: dict[str, _Lane] = {}
        self._session: aiohttp.ClientSession | None = None

    # -- lifecycle, and what the publisher and the routes tell it ----------------------------

    async def start(self, endpoint: str) -> None:
        """Start delivering; ``endpoint`` is the emulator's own base URL (for validationUrl)."""
        self.endpoint = endpoint.rstrip("/")
        connector = aiohttp.TCPConnector(ssl=client_ssl_context(self.settings.ca_bundle))
        self._session = aiohttp.ClientSession(connector=connector, trust_env=False)
        for subscription in self.subscriptions.all():
            self.restart(subscription.name)

    async def stop(self) -> None:
        lanes, self._lanes = list(self._lanes.values()), {}
        for lane in lanes:
            if lane.task is not None:
                lane.task.cancel()
        await asyncio.gather(*(lane.task for lane in lanes if lane.task), return_exceptions=True)
        if self._session is not None:
            await self._session.close()
            self._session = None

    def wake(self, name: str) -> None:
        lane = self._lanes.get(name)
        if lane is not None:
            lane.wake.set()

    def restart(self, name: str) -> None:
        """(Re)start a subscription's task: after it was added, updated or validated by hand."""
        self.cancel(name)
        if self._session is None:
            return  # not started yet: start() picks every subscription up
        lane = self._lanes[name] = _Lane()
        lane.task = asyncio.get_running_loop().create_task(self._run(name, lane))

    def cancel(self, name: str) -> None:
        lane = self._lanes.pop(name, None)
        if lane is not None and lane.task is not None:
            lane.task.cancel()

    # -- the per-subscription loop -------------------------------------------------------------

    async def _run(self, name: str, lane: _Lane) -> None:
        while (subscription := self.subscriptions.get(name)) is not None:
            lane.wake.clear()
            try:
                if subscription.provisioning_state == CREATING:
                    await self._validate(subscription)
                elif subscription.provisioning_state == AWAITING_MANUAL_ACTION:
                    await self._await_manual_validation(subscription)
                elif subscription.provisioning_state == FAILED:
                    return
                else:
                    await self._deliver_due(subscription, lane)
            except Exception:  # an unexpected failure must not end this subscription's deliveries
                log.exception("Event delivery for %s failed; trying again in a second", name)
                await asyncio.sleep(1)

    async def _deliver_due(self, subscription: Subscription, lane: _Lane) -> None:
        now = time.time()
        limit = subscription.max_events_per_batch * MAX_IN_FLIGHT
        due = self.outbox.due(subscription.name, now, limit=limit)
        if not due:
            next_due = self.outbox.next_due(subscription.name)
            await _wait(lane.wake, None if next_due is None else max(next_due - now, 0.001))
            return
        if subscription.faults.shuffle:
            self._random.shuffle(due)
        batches = _batches(due, subscription)
        await asyncio.gather(*(self._deliver(subscription, batch) for batch in batches))

    async def _deliver(self, subscription: Subscription, batch: list[QueuedEvent]) -> None:
        name = subscription.name
        faults = subscription.faults
        if faults.delay_ms:
            await asyncio.sleep(faults.delay_ms / 1000)
        self.counters.add(name, "attempted", len(batch))
        outcome = self._simulated_timeout(subscription, batch)
        if outcome is None:
            outcome = await self._post(subscription, batch)
        if self.subscriptions.get(name) is None:
            return  # removed meanwhile: its queue is gone
        if outcome == "delivered":
            self.outbox.remove(event.pk for event in batch)
            self.counters.add(name, "delivered", len(batch))
            self.counters.add(name, "duplicates", sum(event.duplicate for event in batch))
            if faults.duplicate_rate:
                for event in batch:
                    if not event.duplicate and self._random.random() < faults.duplicate_rate:
                        self.outbox.duplicate(name, event, time.time())
            return
        self.counters.add(name, "failed", len(batch))
        if outcome == "dropped":
            self._drop(name, batch)
            return
        now = time.time()
        ttl_end = subscription.event_ttl_minutes * 60 * self.settings.retry_scale
        for event in batch:
            attempts = event.attempts + 1
            next_at = now + retry_delay(attempts) * self.settings.retry_scale
            if (
                attempts >= subscription.max_delivery_attempts
                or next_at > event.enqueued_at + ttl_end
            ):
                self._drop(name, [event])
            else:
                self.outbox.retry(event.pk, next_at)
                self.counters.add(name, "retried")

    def _simulated_timeout(
        self, subscription: Subscription, batch: list[QueuedEvent]
    ) -> str | None:
        """The fail-first faults: the attempt "times out" without anything being sent."""
        faults = subscription.faults
        first = min(event.attempts for event in batch)
        if first < faults.fail_first:
            return "retry"
        if first == 0 and faults.fail_first_rate and self._random.random() < faults.fail_first_rate:
            return "retry"
        return None

    async def _post(self, subscription: Subscription, batch: list[QueuedEvent]) -> str:
        body, content_type = batch_body(subscription.schema, [event.body for event in batch])
        headers = {
            **subscription.delivery_headers,
            "Content-Type": content_type,
            "aeg-event-type": "Notification",
            "aeg-subscription-name": subscription.name,
            "aeg-delivery-count": str(min(event.attempts for event in batch)),
        }
        if subscription.schema == CLOUDEVENTS:
            headers["aeg-metadata-version"] = "1.0"
            headers["Origin"] = CLOUDEVENTS_ORIGIN
        else:
            headers["aeg-metadata-version"] = "1"
            headers["aeg-data-version"] = "1.0"
        if len(batch) == 1:
            headers["aeg-output-event-id"] = batch[0].event_id
        response = await self._exchange("POST", subscription.url, headers, body)
        status = None if response is None else response[0]
        if status in SUCCESS:
            return "delivered"
        if status in NOT_RETRIED:
            return "dropped"
        return "retry"

    async def _exchange(
        self, method: str, url: str, headers: dict[str, str], body: bytes | None
    ) -> tuple[int, Mapping[str, str], bytes] | None:
        """(status, headers, first 64 KiB of the body), or None for a time-out or no connection."""
        assert self._session is not None
        try:
            async with self._session.request(
                method,
                url,
                data=body,
                headers=headers,
                timeout=aiohttp.ClientTimeout(total=self.settings.timeout_s),
                allow_redirects=False,
            ) as response:
                content = await response.content.read(64 * 1024)
                return response.status, response.headers, content
        except (aiohttp.ClientError, TimeoutError, OSError, ValueError) as exc:
            log.info("Event delivery to %s failed: %r", _safe(url), exc)
            return None

    def _drop(self, name: str, batch: list[QueuedEvent]) -> None:
        self.outbox.remove(event.pk for event in batch)
        self.counters.add(name, "dropped", len(batch))

    # -- validation ------------------------------------------------------------------------------

    async def _validate(self, subscription: Subscription) -> None:
        name = subscription.name
        problem = "no attempt made"
        for attempt in range(HANDSHAKE_ATTEMPTS):
            if attempt:
                await asyncio.sleep(HANDSHAKE_RETRY_S * self.settings.retry_scale)
            self.counters.add(name, "handshakes")
            if subscription.schema == EVENTGRID:
                state, problem = await self._eventgrid_handshake(subscription)
            else:
                state, problem = await self._cloudevents_handshake(subscription)
            if self.subscriptions.get(name) != subscription:
                return  # removed or replaced meanwhile
            if state is not None:
                self.subscriptions.set_state(name, state)
                return
        self.subscriptions.set_state(
            name,
            FAILED,
            f"Webhook validation handshake failed for {_safe(subscription.url)}: {problem}",
        )
        self.counters.add(name, "dropped", self.outbox.drop_all(name))

    async def _eventgrid_handshake(self, subscription: Subscription) -> tuple[str | None, str]:
        code = subscription.validation_code
        url = (
            f"{self.endpoint}/_emulator/events/subscriptions/{quote(subscription.name)}"
            f"/validate?code={code}"
        )
        event = validation_event(
            code=code, validation_url=url, resource_id=self.resource_id, now=datetime.now(UTC)
        )
        headers = {
            **subscription.delivery_headers,
            "Content-Type": CONTENT_TYPES[EVENTGRID],
            "aeg-event-type": "SubscriptionValidation",
            "aeg-subscription-name": subscription.name,
            "aeg-data-version": "1",
            "aeg-metadata-version": "1",
        }
        response = await self._exchange(
            "POST", subscription.url, headers, json.dumps(event).encode()
        )
        if response is None:
            return None, "Http POST request failed (timed out or could not connect)."
        status, _, content = response
        if status != 200:
            return None, f"Http POST request failed with response code {status}."
        try:
            answer = json.loads(content) if content.strip() else {}
        except ValueError:
            answer = {}
        given = None
        if isinstance(answer, dict):
            given = next((v for k, v in answer.items() if k.lower() == "validationresponse"), None)
        if given is None:
            return AWAITING_MANUAL_ACTION, ""
        if isinstance(given, str) and secrets.compare_digest(given, code):
            return SUCCEEDED, ""
        return None, "the validationResponse did not match the validationCode."

    async def _cloudevents_handshake(self, subscription: Subscription) -> tuple[str | None, str]:
        headers = {**subscription.delivery_headers, "WebHook-Request-Origin": CLOUDEVENTS_ORIGIN}
        response = await self._exchange("OPTIONS", subscription.url, headers, None)
        if response is None:
            return None, "Http OPTIONS request failed (timed out or could not connect)."
        status, response_headers, _ = response
        allowed = response_headers.get("WebHook-Allowed-Origin", "")
        if allowed.strip() in (CLOUDEVENTS_ORIGIN, "*"):
            return SUCCEEDED, ""
        return None, (
            f"Http OPTIONS request got {status} without WebHook-Allowed-Origin:"
            f" {CLOUDEVENTS_ORIGIN}."
        )

    async def _await_manual_validation(self, subscription: Subscription) -> None:
        # Visiting the validationUrl restarts this subscription's task, cancelling the wait.
        await asyncio.sleep(MANUAL_VALIDATION_S * self.settings.retry_scale)
        current = self.subscriptions.get(subscription.name)
        if current is not None and current.provisioning_state == AWAITING_MANUAL_ACTION:
            self.subscriptions.set_state(
                subscription.name, FAILED, "The validationUrl was not visited in time."
            )
            self.counters.add(subscription.name, "dropped", self.outbox.drop_all(subscription.name))


def _batches(due: list[QueuedEvent], subscription: Subscription) -> list[list[QueuedEvent]]:
    """Split due events into at most MAX_IN_FLIGHT batches within the subscription's limits."""
    limit_bytes = subscription.preferred_batch_size_kb * 1024
    batches: list[list[QueuedEvent]] = []
    size = 0
    for event in due:
        if (
            not batches
            or len(batches[-1]) >= subscription.max_events_per_batch
            or size + len(event.body) > limit_bytes
        ):
            if len(batches) == MAX_IN_FLIGHT:
                break
            batches.append([])
            size = 0
        batches[-1].append(event)
        size += len(event.body)
    return batches


async def _wait(event: asyncio.Event, seconds: float | None) -> None:
    """Until ``event`` is set or ``seconds`` (None: forever) have passed."""
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(event.wait(), seconds)


def _safe(url: str) -> str:
    """The URL without its query string, which may hold a secret (``?code=``)."""
    return url.split("?", 1)[0]
