"""Event subscriptions: what goes where, how, and where each stands, kept in SQLite.

A subscription is one webhook: its URL (a query string such as ``?code=<secret>`` is sent as
is, as Event Grid does), its delivery schema, filters, batching and retry policy, static
delivery headers (Event Grid's "delivery attribute mappings", static kind) and optional faults.
Its ``provisioning_state`` follows Event Grid's names: ``Creating`` until the validation
handshake succeeds, then ``Succeeded``; ``AwaitingManualAction`` while a manual validation is
awaited; ``Failed`` when the handshake failed (nothing is delivered; add it again to retry).

Subscriptions from the command line (``source == "cli"``) are named after their URL and schema
and last as long as the command line names them; those added at run time (``"api"``) last until
removed. Both survive restarts with their state, so a validated webhook is not asked again.
"""

from __future__ import annotations

import json
import re
import sqlite3
from dataclasses import asdict, dataclass, field, replace
from typing import Any
from urllib.parse import urlsplit

from ..db import transaction
from ..errors import bad_request
from .builders import EVENT_TYPES
from .envelopes import SCHEMAS

CREATING = "Creating"
SUCCEEDED = "Succeeded"
AWAITING_MANUAL_ACTION = "AwaitingManualAction"
FAILED = "Failed"

# Event Grid's limits (az eventgrid event-subscription create).
MAX_EVENTS_PER_BATCH = 5000
MAX_BATCH_KB = 1024
MAX_DELIVERY_ATTEMPTS = 30
MAX_TTL_MINUTES = 1440
MAX_DELIVERY_HEADERS = 10
MAX_HEADER_VALUE_BYTES = 4096
_NAME = re.compile(r"[A-Za-z0-9-]{3,64}")
_HEADER_NAME = re.compile(r"[!#$%&'*+.^_`|~0-9A-Za-z-]{1,256}")
# Headers the emulator sets itself, which a mapping must not replace.
_RESERVED_HEADERS = {"content-type", "content-length", "host", "origin", "webhook-request-origin"}

_SCHEMA = """
CREATE TABLE IF NOT EXISTS event_subscriptions (
    name TEXT PRIMARY KEY,
    spec TEXT NOT NULL,
    provisioning_state TEXT NOT NULL,
    validation_code TEXT NOT NULL,
    last_error TEXT
);
"""


@dataclass(frozen=True)
class DeliveryFaults:
    """Faults a subscription's deliveries suffer, on demand."""

    # Share of delivered events that are delivered once more, later and maybe in another batch.
    duplicate_rate: float = 0.0
    # Deliver due events in random order, within and across batches.
    shuffle: bool = False
    # Wait this long before each delivery request.
    delay_ms: int = 0
    # The first N attempts of every event fail as if the endpoint timed out (nothing is sent).
    fail_first: int = 0
    # Share of events whose first attempt fails that way.
    fail_first_rate: float = 0.0


@dataclass(frozen=True)
class Subscription:
    name: str
    url: str
    schema: str = "eventgrid"
    source: str = "api"
    included_event_types: tuple[str, ...] = ()
    subject_begins_with: str = ""
    subject_ends_with: str = ""
    max_events_per_batch: int = 1
    preferred_batch_size_kb: int = 64
    max_delivery_attempts: int = MAX_DELIVERY_ATTEMPTS
    event_ttl_minutes: int = MAX_TTL_MINUTES
    delivery_headers: dict[str, str] = field(default_factory=dict)
    faults: DeliveryFaults = DeliveryFaults()
    provisioning_state: str = CREATING
    validation_code: str = ""
    last_error: str | None = None

    def wants(self, event_type: str, subject: str) -> bool:
        """Event Grid's filters: included types (all if none), subject prefix and suffix."""
        if self.included_event_types and event_type not in self.included_event_types:
            return False
        return subject.startswith(self.subject_begins_with) and subject.endswith(
            self.subject_ends_with
        )

    @property
    def deliverable(self) -> bool:
        """Whether events raised now are kept for it (not once its handshake failed)."""
        return self.provisioning_state != FAILED

    def describe(self, topic: str) -> dict[str, Any]:
        """The subscription as the control routes show it."""
        return {
            "name": self.name,
            "url": self.url,
            "schema": self.schema,
            "source": self.source,
            "topic": topic,
            "includedEventTypes": list(self.included_event_types),
            "subjectBeginsWith": self.subject_begins_with,
            "subjectEndsWith": self.subject_ends_with,
            "maxEventsPerBatch": self.max_events_per_batch,
            "preferredBatchSizeInKilobytes": self.preferred_batch_size_kb,
            "maxDeliveryAttempts": self.max_delivery_attempts,
            "eventTimeToLiveInMinutes": self.event_ttl_minutes,
            "deliveryHeaders": sorted(self.delivery_headers),
            "faults": _faults_json(self.faults),
            "provisioningState": self.provisioning_state,
            "lastError": self.last_error,
        }


def _faults_json(faults: DeliveryFaults) -> dict[str, Any]:
    return {
        "duplicateRate": faults.duplicate_rate,
        "shuffle": faults.shuffle,
        "delayMs": faults.delay_ms,
        "failFirst": faults.fail_first,
        "failFirstRate": faults.fail_first_rate,
    }


# -- checks shared by the command line and the control route ------------------------------------


def check_url(url: object, *, target: str = "url") -> str:
    """An absolute http(s) URL; real Event Grid only takes https (see the package docstring)."""
    if not isinstance(url, str) or not url:
        raise bad_request(f"'{target}' must be a webhook URL.", target=target)
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise bad_request(
            f"'{target}' must be an absolute http or https URL, not {url!r}.", target=target
        )
    try:
        parts.port  # noqa: B018 - raises ValueError on a bad port
    except ValueError:
        raise bad_request(f"'{target}' has an invalid port: {url!r}.", target=target) from None
    return url


def check_headers(headers: object, *, target: str = "deliveryHeaders") -> dict[str, str]:
    if not isinstance(headers, dict):
        raise bad_request(f"'{target}' must be an object of header names to values.", target=target)
    if len(headers) > MAX_DELIVERY_HEADERS:
        raise bad_request(
            f"'{target}' can hold at most {MAX_DELIVERY_HEADERS} headers.", target=target
        )
    checked: dict[str, str] = {}
    for name, value in headers.items():
        if not _HEADER_NAME.fullmatch(name) or name.lower().startswith("aeg-"):
            raise bad_request(
                f"'{target}': {name!r} is not a header name a subscription may set"
                " (a token, not starting with aeg-).",
                target=target,
            )
        if name.lower() in _RESERVED_HEADERS:
            raise bad_request(f"'{target}': {name} is set by the emulator.", target=target)
        if (
            not isinstance(value, str)
            or len(value.encode()) > MAX_HEADER_VALUE_BYTES
            or any(c in value for c in "\r\n\x00")
        ):
            raise bad_request(
                f"'{target}.{name}' must be a single-line string of at most"
                f" {MAX_HEADER_VALUE_BYTES} bytes.",
                target=target,
            )
        checked[name] = value
    return checked


def _int(body: dict, key: str, default: int, low: int, high: int, prefix: str = "") -> int:
    value = body.get(key, default)
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise bad_request(
            f"'{prefix}{key}' must be an integer from {low} to {high}.", target=prefix + key
        )
    return value


def _rate(body: dict, key: str, default: float, prefix: str = "") -> float:
    value = body.get(key, default)
    if isinstance(value, bool) or not isinstance(value, int | float) or not 0 <= value <= 1:
        raise bad_request(f"'{prefix}{key}' must be a number from 0 to 1.", target=prefix + key)
    return float(value)


def parse_faults(value: object) -> DeliveryFaults:
    if not isinstance(value, dict):
        raise bad_request("'faults' must be an object.", target="faults")
    shuffle = value.get("shuffle", False)
    if not isinstance(shuffle, bool):
        raise bad_request("'faults.shuffle' must be true or false.", target="faults.shuffle")
    return DeliveryFaults(
        duplicate_rate=_rate(value, "duplicateRate", 0.0, "faults."),
        shuffle=shuffle,
        delay_ms=_int(value, "delayMs", 0, 0, 600_000, "faults."),
        fail_first=_int(value, "failFirst", 0, 0, MAX_DELIVERY_ATTEMPTS, "faults."),
        fail_first_rate=_rate(value, "failFirstRate", 0.0, "faults."),
    )


def parse_subscription(body: object, defaults: Subscription, name: str) -> Subscription:
    """A subscription from the control route's JSON body; unset fields take ``defaults``."""
    if not isinstance(body, dict):
        raise bad_request("The request body must be a JSON object (a subscription).")
    schema = body.get("schema", defaults.schema)
    if schema not in SCHEMAS:
        raise bad_request(f"'schema' must be one of {', '.join(SCHEMAS)}.", target="schema")
    types = body.get("includedEventTypes", [])
    if not isinstance(types, list) or any(t not in EVENT_TYPES for t in types):
        raise bad_request(
            f"'includedEventTypes' must list event types from: {', '.join(EVENT_TYPES)}.",
            target="includedEventTypes",
        )
    subject = {}
    for key in ("subjectBeginsWith", "subjectEndsWith"):
        subject[key] = body.get(key, "")
        if not isinstance(subject[key], str):
            raise bad_request(f"'{key}' must be a string.", target=key)
    return replace(
        defaults,
        name=name,
        url=check_url(body.get("url")),
        schema=schema,
        source="api",
        included_event_types=tuple(dict.fromkeys(types)),
        subject_begins_with=subject["subjectBeginsWith"],
        subject_ends_with=subject["subjectEndsWith"],
        max_events_per_batch=_int(
            body, "maxEventsPerBatch", defaults.max_events_per_batch, 1, MAX_EVENTS_PER_BATCH
        ),
        preferred_batch_size_kb=_int(
            body,
            "preferredBatchSizeInKilobytes",
            defaults.preferred_batch_size_kb,
            1,
            MAX_BATCH_KB,
        ),
        max_delivery_attempts=_int(
            body, "maxDeliveryAttempts", defaults.max_delivery_attempts, 1, MAX_DELIVERY_ATTEMPTS
        ),
        event_ttl_minutes=_int(
            body, "eventTimeToLiveInMinutes", defaults.event_ttl_minutes, 1, MAX_TTL_MINUTES
        ),
        delivery_headers=check_headers(body.get("deliveryHeaders", defaults.delivery_headers)),
        faults=parse_faults(body["faults"]) if "faults" in body else defaults.faults,
    )


def check_name(name: object) -> str:
    if not isinstance(name, str) or not _NAME.fullmatch(name):
        raise bad_request(
            "'name' must be 3 to 64 letters, digits and hyphens (Event Grid's rule).",
            target="name",
        )
    return name


# -- the store ----------------------------------------------------------------------------------


def _to_json(subscription: Subscription) -> str:
    spec = asdict(subscription)
    for key in ("provisioning_state", "validation_code", "last_error"):
        spec.pop(key)
    return json.dumps(spec)


def _from_row(row: sqlite3.Row) -> Subscription:
    spec = json.loads(row["spec"])
    spec["included_event_types"] = tuple(spec["included_event_types"])
    spec["faults"] = DeliveryFaults(**spec["faults"])
    return Subscription(
        **spec,
        provisioning_state=row["provisioning_state"],
        validation_code=row["validation_code"],
        last_error=row["last_error"],
    )


class SubscriptionStore:
    """The subscriptions, in SQLite and (for the per-request publish path) in memory."""

    def __init__(self, conn: sqlite3.Connection) -> None:
        self.conn = conn
        conn.executescript(_SCHEMA)
        rows = conn.execute("SELECT * FROM event_subscriptions ORDER BY name").fetchall()
        self._by_name: dict[str, Subscription] = {row["name"]: _from_row(row) for row in rows}

    def all(self) -> list[Subscription]:
        return list(self._by_name.values())

    def get(self, name: str) -> Subscription | None:
        return self._by_name.get(name)

    def put(self, subscription: Subscription) -> None:
        """Create or replace (an update asks for a new handshake, as on Event Grid)."""
        self.conn.execute(
            "INSERT INTO event_subscriptions (name, spec, provisioning_state, validation_code,"
            " last_error) VALUES (?, ?, ?, ?, ?) ON CONFLICT (name) DO UPDATE SET"
            " spec = excluded.spec, provisioning_state = excluded.provisioning_state,"
            " validation_code = excluded.validation_code, last_error = excluded.last_error",
            (
                subscription.name,
                _to_json(subscription),
                subscription.provisioning_state,
                subscription.validation_code,
                subscription.last_error,
            ),
        )
        self._by_name[subscription.name] = subscription

    def set_state(self, name: str, state: str, last_error: str | None = None) -> Subscription:
        subscription = replace(self._by_name[name], provisioning_state=state, last_error=last_error)
        self.conn.execute(
            "UPDATE event_subscriptions SET provisioning_state = ?, last_error = ? WHERE name = ?",
            (state, last_error, name),
        )
        self._by_name[name] = subscription
        return subscription

    def remove(self, name: str) -> bool:
        """Forget a subscription and every event still waiting for it."""
        if name not in self._by_name:
            return False
        with transaction(self.conn):
            self.conn.execute("DELETE FROM event_subscriptions WHERE name = ?", (name,))
            self.conn.execute("DELETE FROM event_outbox WHERE subscription = ?", (name,))
        del self._by_name[name]
        return True
