"""From a chat change to queued deliveries: the store's ``publish`` callback.

Called inside the chat operation's transaction, on the request's path, so it only builds the
events and writes one outbox row per (event, subscription); the worker is woken to send them in
the background. With no subscription it returns at once.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import UTC, datetime

from ..chat.changes import ChatChange
from .builders import EventBuilder
from .envelopes import new_event_id, wrap
from .outbox import Outbox
from .subscriptions import SubscriptionStore


class EventPublisher:
    def __init__(
        self,
        *,
        subscriptions: SubscriptionStore,
        outbox: Outbox,
        builder: EventBuilder,
        topic: str,
        wake: Callable[[str], None],
    ) -> None:
        self.subscriptions = subscriptions
        self.outbox = outbox
        self.builder = builder
        self.topic = topic
        self.wake = wake

    def __call__(self, change: ChatChange) -> None:
        targets = [s for s in self.subscriptions.all() if s.deliverable]
        if not targets:
            return
        now = datetime.now(UTC)
        queued_at = time.time()
        woken: set[str] = set()
        for event in self.builder.build(change):
            event_id = new_event_id()
            wrapped: dict[str, str] = {}  # one JSON text per schema, shared by subscriptions
            for subscription in targets:
                if not subscription.wants(event.event_type, event.subject):
                    continue
                body = wrapped.get(subscription.schema)
                if body is None:
                    body = wrapped[subscription.schema] = wrap(
                        event, subscription.schema, event_id=event_id, topic=self.topic, now=now
                    )
                self.outbox.enqueue(subscription.name, event_id, body, queued_at)
                woken.add(subscription.name)
        for name in woken:
            self.wake(name)
