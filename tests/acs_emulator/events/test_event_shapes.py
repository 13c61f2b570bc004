"""Every thread-level chat event, in both schemas, against Microsoft's documented examples.

One thread goes through every operation that raises an event (create, send, edit, delete a
message, change the topic, add and remove a member, delete the thread) through the official SDK.
Two webhooks receive the events, one per schema. Each event must parse with azure-eventgrid's
``EventGridEvent`` or azure-core's ``CloudEvent``, and match Microsoft's example for its type
field by field: the same keys at every level, the same JSON types, and strings of the same
kind (times with an offset or ``Z``, GUIDs, thread ids, raw ids, epoch-ms ids...). Ids and times
differ of course, and the values are checked against what the test did.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from azure.communication.chat import ChatParticipant
from azure.core.messaging import CloudEvent
from azure.eventgrid import EventGridEvent, SystemEventNames

import acs_emulator
from acs_emulator.events.builders import EVENT_TYPES

from .conftest import Chat, own_emulator
from .receiver import WebhookReceiver

EXAMPLES = Path(acs_emulator.__file__).parent / "specs" / "EventGrid" / "examples"
METADATA = {"key": "value", "description": "A map of data associated with the message"}
# Where the documented examples and the spec disagree (version: string in the docs' examples of
# these three, int64 in the spec) the emulator sends the spec's number by default.
STRING_VERSION_IN_EXAMPLES = {
    "Microsoft.Communication.ChatMessageReceivedInThread",
    "Microsoft.Communication.ChatMessageEditedInThread",
    "Microsoft.Communication.ChatMessageDeletedInThread",
}

KINDS = [
    ("time+offset", re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{1,7})?[+-]\d\d:\d\d")),
    ("time-Z", re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{1,7})?Z")),
    ("guid", re.compile(r"[0-9a-f]{8}(-[0-9a-f]{4}){3}-[0-9a-f]{12}")),
    ("thread-id", re.compile(r"19:\S+@thread\.v2")),
    ("acs-user", re.compile(r"8:acs:[0-9a-f-]{36}_[0-9a-f-]+")),
    ("epoch-ms", re.compile(r"1\d{12}")),
    ("correlation", re.compile(r"[A-Za-z0-9+/]{22}(\.\d+)+")),
    (
        "resource",
        re.compile(
            r"/subscriptions/[^/]+/resourcegroups/[^/]+/providers/microsoft\.communication"
            r"/communicationservices/[^/]+",
            re.IGNORECASE,
        ),
    ),
]


# Free text, whatever it happens to look like (one example's messageBody is a GUID).
FREE_TEXT = {"messageBody", "senderDisplayName", "displayName", "topic"}


def kind(value: Any) -> Any:
    """The shape of a JSON value: keys and kinds, not contents."""
    if isinstance(value, dict):
        return {
            key: "text" if key in FREE_TEXT and isinstance(item, str) else kind(item)
            for key, item in value.items()
        }
    if isinstance(value, list):
        return [kind(item) for item in value[:1]]
    if isinstance(value, str):
        return next((name for name, pattern in KINDS if pattern.fullmatch(value)), "text")
    return type(value).__name__


def example(event_type: str, schema: str = "eventgrid") -> dict[str, Any]:
    name = event_type.removeprefix("Microsoft.Communication.")
    if schema == "cloudevents":
        return json.loads((EXAMPLES / "cloudevents" / f"{name}.json").read_text())
    [event] = json.loads((EXAMPLES / f"{name}.json").read_text())
    return event


def documented_shape(event_type: str) -> dict[str, Any]:
    shape = kind(example(event_type))
    if event_type in STRING_VERSION_IN_EXAMPLES:
        shape["data"]["version"] = "int"
    return shape


@pytest.fixture(scope="module")
def journey(events_emulator) -> Iterator[dict[str, Any]]:
    """Run every event-raising operation once; both webhooks' events, by type."""
    eventgrid, cloudevents = WebhookReceiver(), WebhookReceiver()
    names = [
        events_emulator.add_event_subscription(eventgrid.url)["name"],
        events_emulator.add_event_subscription(cloudevents.url, schema="cloudevents")["name"],
    ]
    for name in names:
        assert events_emulator.wait_for_subscription(name)["provisioningState"] == "Succeeded"
    chat = Chat(events_emulator)
    alice, bob, carol = chat.member(), chat.member(), chat.member()
    thread = chat.thread(alice, bob, topic="Talk about new Thread Events")
    sent = thread.send_message("Hello events", sender_display_name="Alice", metadata=METADATA)
    thread.update_message(sent.id, content="Hello again", metadata=METADATA)
    thread.delete_message(sent.id)
    thread.update_topic("A new topic")
    thread.add_participants([ChatParticipant(identifier=carol.user.identifier, display_name="C")])
    thread.remove_participant(carol.user.identifier)
    alice.client.delete_chat_thread(thread.thread_id)
    chat.close()
    by_schema = {}
    for schema, target in (("eventgrid", eventgrid), ("cloudevents", cloudevents)):
        events = target.wait_for_events(len(EVENT_TYPES))
        by_type = {e.get("eventType") or e.get("type"): e for e in events}
        assert sorted(by_type) == sorted(EVENT_TYPES), events
        assert len(events) == len(EVENT_TYPES), events
        by_schema[schema] = by_type
    yield {
        "events": by_schema,
        "thread_id": thread.thread_id,
        "alice": alice.user.raw_id,
        "bob": bob.user.raw_id,
        "carol": carol.user.raw_id,
        "message_id": sent.id,
        "receivers": (eventgrid, cloudevents),
    }
    for name in names:
        events_emulator.remove_event_subscription(name)
    eventgrid.close()
    cloudevents.close()


@pytest.mark.parametrize("event_type", EVENT_TYPES)
def test_event_grid_schema_matches_the_documented_example(journey, event_type: str) -> None:
    event = journey["events"]["eventgrid"][event_type]
    assert kind(event) == documented_shape(event_type)
    parsed = EventGridEvent.from_dict(event)
    assert parsed.event_type == event_type == SystemEventNames(event_type)
    assert parsed.data_version == "1.0" and parsed.metadata_version == "1"
    assert parsed.data == event["data"]
    assert abs(parsed.event_time - datetime.now(UTC)).total_seconds() < 3600
    assert EventGridEvent.from_json(json.dumps(event)).id == event["id"]


@pytest.mark.parametrize("event_type", EVENT_TYPES)
def test_cloudevents_schema_matches_the_documented_example(journey, event_type: str) -> None:
    event = journey["events"]["cloudevents"][event_type]
    envelope = {key: value for key, value in event.items() if key != "data"}
    documented = kind(example("Microsoft.Communication.ChatMessageReceivedInThread", "cloudevents"))
    documented.pop("data")
    assert kind(envelope) == documented
    # The data object is the same in both schemas.
    assert kind(event["data"]) == documented_shape(event_type)["data"]
    parsed = CloudEvent.from_dict(event)
    assert parsed.type == event_type and parsed.specversion == "1.0"
    assert parsed.source == journey["events"]["eventgrid"][event_type]["topic"]
    assert not parsed.extensions
    assert parsed.data == journey_data(journey, event_type)


def test_the_cloudevents_example_itself_matches(journey) -> None:
    event_type = "Microsoft.Communication.ChatMessageReceivedInThread"
    shape = kind(example(event_type, "cloudevents"))
    shape["data"]["version"] = "int"
    assert kind(journey["events"]["cloudevents"][event_type]) == shape


def journey_data(journey, event_type: str) -> dict[str, Any]:
    return journey["events"]["eventgrid"][event_type]["data"]


def test_both_schemas_carry_the_same_event(journey) -> None:
    for event_type in EVENT_TYPES:
        grid = journey["events"]["eventgrid"][event_type]
        cloud = journey["events"]["cloudevents"][event_type]
        assert (cloud["id"], cloud["subject"], cloud["data"]) == (
            grid["id"],
            grid["subject"],
            grid["data"],
        )
        assert cloud["time"] == grid["eventTime"]


def test_values_say_what_happened(journey) -> None:
    events = journey["events"]["eventgrid"]
    thread, alice, bob, carol = (journey[k] for k in ("thread_id", "alice", "bob", "carol"))

    def ev(name: str) -> dict[str, Any]:
        return events["Microsoft.Communication." + name]

    assert all(e["data"]["threadId"] == thread for e in events.values())
    assert {e["topic"] for e in events.values()} == {ev("ChatThreadCreated")["topic"]}

    created = ev("ChatThreadCreated")
    assert created["subject"] == f"thread/{thread}/createdBy/{alice}"
    assert created["data"]["properties"] == {"topic": "Talk about new Thread Events"}
    members = [
        p["participantCommunicationIdentifier"]["rawId"] for p in created["data"]["participants"]
    ]
    assert members == [alice, bob]
    assert created["data"]["participants"][1]["displayName"] == "member 0"

    received = ev("ChatMessageReceivedInThread")
    assert received["subject"] == f"thread/{thread}/sender/{alice}"
    assert received["data"]["messageId"] == journey["message_id"]
    assert received["data"]["messageBody"] == "Hello events"
    assert received["data"]["metadata"] == METADATA
    assert received["data"]["senderDisplayName"] == "Alice"
    assert received["data"]["type"] == "Text"
    assert received["data"]["version"] == int(journey["message_id"])

    edited = ev("ChatMessageEditedInThread")
    assert edited["data"]["messageBody"] == "Hello again"
    assert edited["data"]["version"] > received["data"]["version"]
    assert edited["data"]["composeTime"] == received["data"]["composeTime"]
    deleted = ev("ChatMessageDeletedInThread")
    assert deleted["data"]["version"] > edited["data"]["version"]
    assert "messageBody" not in deleted["data"]

    updated = ev("ChatThreadPropertiesUpdated")
    assert updated["subject"] == f"thread/{thread}/editedBy/{alice}"
    assert updated["data"]["properties"] == {"topic": "A new topic"}

    added = ev("ChatThreadParticipantAdded")
    assert added["subject"] == f"thread/{thread}/participantadded/{carol}"
    assert added["data"]["participantAdded"]["displayName"] == "C"
    assert added["data"]["addedByCommunicationIdentifier"]["rawId"] == alice
    removed = ev("ChatThreadParticipantRemoved")
    assert removed["subject"] == f"thread/{thread}/participantremoved/{carol}"
    assert removed["data"]["removedByCommunicationIdentifier"]["rawId"] == alice
    assert removed["data"]["version"] > added["data"]["version"]

    gone = ev("ChatThreadDeleted")
    assert gone["subject"] == f"thread/{thread}/deletedBy/{alice}"
    assert gone["data"]["createTime"] == created["data"]["createTime"]
    assert gone["data"]["version"] > removed["data"]["version"]
    # One change, one event id; every event its own.
    assert len({e["id"] for e in events.values()}) == len(EVENT_TYPES)


def test_notification_headers(journey) -> None:
    eventgrid, cloudevents = journey["receivers"]
    for request in eventgrid.notifications():
        assert request.method == "POST"
        assert request.path == "/hook?code=s3cret"
        assert request.headers["content-type"] == "application/json; charset=utf-8"
        assert request.headers["aeg-event-type"] == "Notification"
        assert request.headers["aeg-delivery-count"] == "0"
        assert request.headers["aeg-data-version"] == "1.0"
        assert request.headers["aeg-metadata-version"] == "1"
        assert request.headers["aeg-output-event-id"] == request.json()[0]["id"]
        assert request.headers["aeg-subscription-name"]
    for request in cloudevents.notifications():
        assert request.headers["content-type"] == "application/cloudevents+json; charset=utf-8"
        assert request.headers["aeg-metadata-version"] == "1.0"
        assert request.headers["origin"] == "eventgrid.azure.net"
        assert isinstance(request.json(), dict)


def test_message_version_as_a_string_matches_the_examples_exactly(tmp_path, receiver) -> None:
    target = receiver()
    args = ["--events-to", target.url, "--events-message-version", "string"]
    with own_emulator(tmp_path / "acs", *args) as emulator:
        chat = Chat(emulator)
        alice = chat.member()
        thread = chat.thread(alice)
        thread.send_message("x", metadata=METADATA)
        chat.close()
        events = target.wait_for_events(2)
    event_type = "Microsoft.Communication.ChatMessageReceivedInThread"
    [received] = [e for e in events if e["eventType"] == event_type]
    assert kind(received) == kind(example(event_type))
    thread_event = next(e for e in events if e["eventType"].endswith("ChatThreadCreated"))
    assert isinstance(thread_event["data"]["version"], int)
