"""The two delivery schemas around an event, and the Event Grid validation event.

* Event Grid schema: ``id, topic, subject, data, eventType, dataVersion "1.0", metadataVersion
  "1", eventTime``; a delivery is always a JSON array (of one event unless batching is on).
* CloudEvents 1.0, structured mode: ``id, source, subject, type, time, data, specversion "1.0"``
  (the fields of Microsoft's CloudEvents chat example; ``source`` is the Event Grid ``topic``).
  One event is one JSON object (``application/cloudevents+json``). How Event Grid batches
  CloudEvents is not documented; the emulator sends a batch in the CloudEvents JSON batch format
  (a JSON array, ``application/cloudevents-batch+json``) and only when batching is turned on.

``topic`` / ``source``: Event Grid stamps the resource's ARM id. The emulator has no Azure
subscription or resource group, so it makes a stable one from the resource GUID (see
:func:`resource_topic`).
"""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime
from typing import Any

from .builders import ChatEvent

EVENTGRID = "eventgrid"
CLOUDEVENTS = "cloudevents"
SCHEMAS = (EVENTGRID, CLOUDEVENTS)
VALIDATION_EVENT_TYPE = "Microsoft.EventGrid.SubscriptionValidationEvent"
# Microsoft's sample answers this origin, and products built on Event Grid document it.
CLOUDEVENTS_ORIGIN = "eventgrid.azure.net"

CONTENT_TYPES = {
    EVENTGRID: "application/json; charset=utf-8",
    CLOUDEVENTS: "application/cloudevents+json; charset=utf-8",
}
CLOUDEVENTS_BATCH_CONTENT_TYPE = "application/cloudevents-batch+json; charset=utf-8"


def resource_topic(resource_id: str) -> str:
    """The ARM-style id events carry as ``topic``: the resource GUID as subscription and name.

    ``/subscriptions/<resource id>/resourcegroups/acs-emulator/providers/
    microsoft.communication/communicationservices/acs-emulator-<first 8 of the resource id>``,
    in the lower case of the thread-level examples (Microsoft's examples vary; compare it
    case-insensitively).
    """
    return (
        f"/subscriptions/{resource_id}/resourcegroups/acs-emulator/providers"
        f"/microsoft.communication/communicationservices/acs-emulator-{resource_id[:8]}"
    )


def envelope_time(moment: datetime) -> str:
    """``eventTime``/``time``: UTC, ``Z``, seven fractional digits, as Event Grid writes it."""
    utc = moment.astimezone(UTC).replace(tzinfo=None)
    return utc.isoformat(timespec="microseconds") + "0Z"


def new_event_id() -> str:
    return str(uuid.uuid4())


def wrap(event: ChatEvent, schema: str, *, event_id: str, topic: str, now: datetime) -> str:
    """The event in ``schema`` as compact JSON text, ready to go into a delivery."""
    body: dict[str, Any]
    if schema == CLOUDEVENTS:
        body = {
            "id": event_id,
            "source": topic,
            "subject": event.subject,
            "type": event.event_type,
            "time": envelope_time(now),
            "data": event.data,
            "specversion": "1.0",
        }
    else:
        body = {
            "id": event_id,
            "topic": topic,
            "subject": event.subject,
            "data": event.data,
            "eventType": event.event_type,
            "dataVersion": "1.0",
            "metadataVersion": "1",
            "eventTime": envelope_time(now),
        }
    return json.dumps(body, separators=(",", ":"))


def batch_body(schema: str, events: list[str]) -> tuple[bytes, str]:
    """(body, content type) of one delivery of already wrapped events."""
    if schema == CLOUDEVENTS:
        if len(events) == 1:
            return events[0].encode(), CONTENT_TYPES[CLOUDEVENTS]
        return f"[{','.join(events)}]".encode(), CLOUDEVENTS_BATCH_CONTENT_TYPE
    return f"[{','.join(events)}]".encode(), CONTENT_TYPES[EVENTGRID]


def validation_event(
    *, code: str, validation_url: str, resource_id: str, now: datetime
) -> list[dict[str, Any]]:
    """The ``SubscriptionValidationEvent`` array Event Grid POSTs before the first delivery."""
    return [
        {
            "id": new_event_id(),
            "topic": f"/subscriptions/{resource_id}",
            "subject": "",
            "data": {"validationCode": code, "validationUrl": validation_url},
            "eventType": VALIDATION_EVENT_TYPE,
            "eventTime": envelope_time(now),
            "metadataVersion": "1",
            "dataVersion": "1",
        }
    ]
