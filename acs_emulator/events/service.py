"""The events side of one emulator: subscriptions, the outbox, the publisher and the worker."""

from __future__ import annotations

import hashlib
import secrets
import sqlite3
from dataclasses import dataclass, replace

from .builders import EventBuilder
from .counters import DeliveryCounters
from .delivery import DeliverySettings, DeliveryWorker
from .envelopes import resource_topic
from .outbox import Outbox
from .publisher import EventPublisher
from .subscriptions import (
    CREATING,
    FAILED,
    SUCCEEDED,
    Subscription,
    SubscriptionStore,
    check_headers,
)


@dataclass(frozen=True)
class EventSettings:
    """What the command line says about events (see ``acs_emulator.config``)."""

    # Subscriptions from the command line: webhook URLs in ``defaults.schema``.
    urls: tuple[str, ...] = ()
    # Every subscription's settings unless it sets its own (the control route may).
    defaults: Subscription = Subscription(name="", url="")
    delivery: DeliverySettings = DeliverySettings()
    message_version: str = "number"


def _same_spec(a: Subscription, b: Subscription) -> bool:
    state = {"provisioning_state": CREATING, "validation_code": "", "last_error": None}
    return replace(a, **state) == replace(b, **state)


def cli_name(url: str, schema: str) -> str:
    """A command-line subscription's name: stable for the same URL and schema."""
    return "cli-" + hashlib.sha256(f"{schema} {url}".encode()).hexdigest()[:10]


class EventService:
    def __init__(
        self, conn: sqlite3.Connection, *, resource_id: str, settings: EventSettings
    ) -> None:
        # The command line's headers get the checks the control route makes (AcsError if not).
        check_headers(settings.defaults.delivery_headers, target="--events-header")
        self.outbox = Outbox(conn)
        self.subscriptions = SubscriptionStore(conn)
        self.counters = DeliveryCounters()
        self.topic = resource_topic(resource_id)
        self.defaults = settings.defaults
        self.worker = DeliveryWorker(
            subscriptions=self.subscriptions,
            outbox=self.outbox,
            counters=self.counters,
            settings=settings.delivery,
            resource_id=resource_id,
        )
        self.publish = EventPublisher(
            subscriptions=self.subscriptions,
            outbox=self.outbox,
            builder=EventBuilder(message_version=settings.message_version),
            topic=self.topic,
            wake=self.worker.wake,
        )
        self._sync_command_line(settings.urls)

    def _sync_command_line(self, urls: tuple[str, ...]) -> None:
        """Keep the command line's subscriptions (and their state) and forget earlier ones."""
        wanted = {}
        for url in urls:
            name = cli_name(url, self.defaults.schema)
            wanted[name] = replace(self.defaults, name=name, url=url, source="cli")
        for subscription in self.subscriptions.all():
            if subscription.source == "cli" and subscription.name not in wanted:
                self.remove(subscription.name)
        for name, subscription in wanted.items():
            existing = self.subscriptions.get(name)
            if (
                existing is None
                or existing.provisioning_state == FAILED
                or not _same_spec(existing, subscription)
            ):
                self.add(subscription)

    def add(self, subscription: Subscription) -> Subscription:
        """Create or update a subscription; either asks its webhook for a new handshake."""
        subscription = replace(
            subscription,
            provisioning_state=CREATING,
            validation_code=secrets.token_hex(16),
            last_error=None,
        )
        self.subscriptions.put(subscription)
        self.worker.restart(subscription.name)
        return subscription

    def remove(self, name: str) -> None:
        self.worker.cancel(name)
        self.subscriptions.remove(name)
        self.counters.forget(name)

    def validated(self, name: str) -> None:
        """The validationUrl was visited: deliveries may start."""
        self.subscriptions.set_state(name, SUCCEEDED)
        self.worker.restart(name)

    def stats(self) -> dict:
        names = [s.name for s in self.subscriptions.all()]
        return {"subscriptions": self.counters.snapshot(names, self.outbox.pending())}

    async def start(self, endpoint: str) -> None:
        await self.worker.start(endpoint)

    async def stop(self) -> None:
        await self.worker.stop()
