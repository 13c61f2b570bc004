"""Event Grid deliveries of ACS chat events, read into hints for the relay.

The only module that knows the Event Grid SDK (``azure-eventgrid``'s ``EventGridEvent``,
``azure-core``'s ``CloudEvent``), as ``chat/gateway.py`` is for the Chat SDK. It turns one
webhook request body into a :class:`Delivery`: the subscription-validation code if the body is
Event Grid's handshake, else one :class:`Hint` per chat event that names a thread. Nothing here
trusts an event's content beyond "this thread changed": the relay reads the change from ACS,
through the same path as its polls, so a forged or stale event can cost one read, no more.

Both schemas: Event Grid's (a JSON array, ``application/json``) and CloudEvents 1.0 in
structured mode (one object, ``application/cloudevents+json``; an array for
``application/cloudevents-batch+json``). A body that is no such thing, or an envelope the SDK
cannot read, makes the whole batch malformed (:class:`MalformedDelivery`, a 400); an event of a
type Kwebbel does not use, or one whose data names no valid thread, is only skipped, since a 400
would make Event Grid drop the good events of the batch with it.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any

from azure.core.messaging import CloudEvent
from azure.eventgrid import EventGridEvent, SystemEventNames

# What changed, as the relay's poller reads it (see ThreadPoller.hint).
MESSAGE_NEW = "message.new"
MESSAGE_CHANGED = "message.changed"  # edited or deleted: read the newest messages whole
MEMBERS = "members"  # announced by a system message, like the topic
TOPIC = "topic"
THREAD_DELETED = "thread.deleted"

_PREFIX = "Microsoft.Communication."
# Thread-level events and their per-user copies (which some subscriptions include).
KINDS: dict[str, str] = {
    _PREFIX + name: kind
    for names, kind in (
        (("ChatMessageReceivedInThread", "ChatMessageReceived"), MESSAGE_NEW),
        (
            (
                "ChatMessageEditedInThread",
                "ChatMessageEdited",
                "ChatMessageDeletedInThread",
                "ChatMessageDeleted",
            ),
            MESSAGE_CHANGED,
        ),
        (
            (
                "ChatThreadParticipantAdded",
                "ChatThreadParticipantRemoved",
                "ChatParticipantAddedToThreadWithUser",
                "ChatParticipantRemovedFromThreadWithUser",
            ),
            MEMBERS,
        ),
        (("ChatThreadPropertiesUpdated", "ChatThreadPropertiesUpdatedPerUser"), TOPIC),
        (("ChatThreadDeleted", "ChatThreadWithUserDeleted"), THREAD_DELETED),
    )
    for name in names
}
VALIDATION = SystemEventNames.EventGridSubscriptionValidationEventName.value

# ACS thread ids, as chat.actions.threads checks them; message ids are epoch milliseconds.
THREAD_ID = re.compile(r"^19:[A-Za-z0-9_.~\-]{1,200}@thread\.v2$")
MESSAGE_ID = re.compile(r"^[0-9]{1,20}$")
GRID_REQUIRED = ("id", "subject", "eventType", "eventTime", "data")
MAX_EVENTS = 5000  # Event Grid's largest batch
MAX_EVENT_ID = 200


class MalformedDelivery(ValueError):
    """The body is not a batch of Event Grid or CloudEvents envelopes; says what is wrong."""


@dataclass(frozen=True)
class Hint:
    """One event's news: thread ``thread_id`` changed (``kind``), about ``ids`` (messages)."""

    event_id: str
    thread_id: str
    kind: str
    ids: tuple[str, ...] = ()


@dataclass
class Delivery:
    """What one request carried: a handshake's code, or hints (and how many events it skipped)."""

    validation_code: str | None = None
    hints: list[Hint] = field(default_factory=list)
    events: int = 0
    skipped: int = 0


def is_cloudevents(content_type: str) -> bool:
    return content_type.split(";")[0].strip().lower().startswith("application/cloudevents")


def parse_delivery(body: bytes, content_type: str) -> Delivery:
    """Read one webhook request body (either schema); MalformedDelivery if it is not one."""
    try:
        document = json.loads(body)
    except (UnicodeDecodeError, ValueError) as error:
        raise MalformedDelivery(f"The body is not JSON: {error}.") from None
    cloud = is_cloudevents(content_type) or (
        isinstance(document, dict) and "specversion" in document
    )
    items = [document] if cloud and isinstance(document, dict) else document
    if not isinstance(items, list) or not items:
        raise MalformedDelivery(
            "The body must be a non-empty JSON array of events (CloudEvents: or one event)."
        )
    if len(items) > MAX_EVENTS:
        raise MalformedDelivery(f"A delivery holds at most {MAX_EVENTS} events.")
    delivery = Delivery(events=len(items))
    for number, item in enumerate(items):
        if not isinstance(item, dict):
            raise MalformedDelivery(f"Event {number} is not a JSON object.")
        event_id, event_type, subject, data = _envelope(item, number, cloud)
        if len(event_id) > MAX_EVENT_ID:
            raise MalformedDelivery(f"Event {number}: the id is longer than {MAX_EVENT_ID}.")
        if event_type == VALIDATION and not cloud:
            code = data.get("validationCode") if isinstance(data, dict) else None
            if not isinstance(code, str) or not code:
                raise MalformedDelivery("The validation event has no data.validationCode.")
            delivery.validation_code = code
            continue
        hint = _hint(event_id, event_type, subject, data)
        if hint is None:
            delivery.skipped += 1
        else:
            delivery.hints.append(hint)
    return delivery


def _envelope(item: dict[str, Any], number: int, cloud: bool) -> tuple[str, str, str, Any]:
    """(id, type, subject, data) through the SDK's own model of the schema."""
    schema = "CloudEvents" if cloud else "Event Grid"
    # The Event Grid model accepts a dict missing any field; the schema requires these.
    missing = [] if cloud else [k for k in GRID_REQUIRED if k not in item]
    if missing:
        raise MalformedDelivery(
            f"Event {number} is not a valid {schema} event: no {', '.join(missing)}."
        )
    try:
        if cloud:
            event = CloudEvent.from_dict(item)
            fields = (event.id, event.type, event.subject or "", event.data)
        else:
            grid = EventGridEvent.from_dict(item)
            fields = (grid.id, grid.event_type, grid.subject, grid.data)
    except Exception as error:  # the SDK raises ValueError, KeyError, TypeError, ...
        raise MalformedDelivery(
            f"Event {number} is not a valid {schema} event: {type(error).__name__}: {error}"[:300]
        ) from None
    event_id, event_type, subject, data = fields
    if not all(isinstance(value, str) and value for value in (event_id, event_type)):
        raise MalformedDelivery(f"Event {number} has no id or no type.")
    return event_id, event_type, subject if isinstance(subject, str) else "", data


def _hint(event_id: str, event_type: str, subject: str, data: Any) -> Hint | None:
    kind = KINDS.get(event_type)
    if kind is None or not isinstance(data, dict):
        return None
    thread_id = data.get("threadId")
    if not isinstance(thread_id, str):
        # The subject is "thread/{threadId}/..." on every chat event.
        parts = subject.split("/")
        thread_id = parts[1] if len(parts) > 1 and parts[0] == "thread" else ""
    if not THREAD_ID.match(thread_id):
        return None
    message_id = data.get("messageId")
    ids = (message_id,) if isinstance(message_id, str) and MESSAGE_ID.match(message_id) else ()
    return Hint(event_id, thread_id, kind, ids)
