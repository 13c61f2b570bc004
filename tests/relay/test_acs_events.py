"""Reading Event Grid deliveries into hints (chat.relay.acs_events) and remembering event ids
(chat.relay.hints.SeenIds), on Microsoft's documented examples and on hostile input."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from chat.relay import acs_events
from chat.relay.acs_events import MalformedDelivery, parse_delivery
from chat.relay.hints import SeenIds, group

SPECS = Path(__file__).resolve().parents[2] / "acs_emulator" / "specs" / "EventGrid"
EXAMPLES = SPECS / "examples"
JSON = "application/json; charset=utf-8"
CLOUD = "application/cloudevents+json; charset=utf-8"
THREAD = "19:abc_def-1@thread.v2"


def example(name: str) -> bytes:
    return (EXAMPLES / f"{name}.json").read_bytes()


def grid_event(event_type: str, data: object, event_id: str = "e-1", **extra: object) -> dict:
    return {
        "id": event_id,
        "topic": "/subscriptions/x",
        "subject": f"thread/{THREAD}/sender/8:acs:a",
        "data": data,
        "eventType": "Microsoft.Communication." + event_type,
        "dataVersion": "1.0",
        "metadataVersion": "1",
        "eventTime": "2024-05-01T12:00:00.1234567Z",
        **extra,
    }


@pytest.mark.parametrize(
    ("name", "kind"),
    [
        ("ChatMessageReceivedInThread", acs_events.MESSAGE_NEW),
        ("ChatMessageEditedInThread", acs_events.MESSAGE_CHANGED),
        ("ChatMessageDeletedInThread", acs_events.MESSAGE_CHANGED),
        ("ChatThreadParticipantAdded", acs_events.MEMBERS),
        ("ChatThreadParticipantRemoved", acs_events.MEMBERS),
        ("ChatThreadPropertiesUpdated", acs_events.TOPIC),
        ("ChatThreadDeleted", acs_events.THREAD_DELETED),
        ("ChatMessageReceived", acs_events.MESSAGE_NEW),
        ("ChatParticipantAddedToThreadWithUser", acs_events.MEMBERS),
    ],
)
def test_documented_examples_become_hints_for_their_thread(name, kind):
    body = example(name)
    documented = json.loads(body)[0]
    delivery = parse_delivery(body, JSON)
    assert delivery.validation_code is None and delivery.skipped == 0
    [hint] = delivery.hints
    assert hint.event_id == documented["id"]
    assert hint.thread_id == documented["data"]["threadId"]
    assert hint.kind == kind
    if "messageId" in documented["data"]:
        assert hint.ids == (documented["data"]["messageId"],)


def test_the_cloudevents_example_is_read_as_one_object():
    body = (EXAMPLES / "cloudevents" / "ChatMessageReceivedInThread.json").read_bytes()
    delivery = parse_delivery(body, CLOUD)
    [hint] = delivery.hints
    assert hint.kind == acs_events.MESSAGE_NEW
    assert hint.thread_id == json.loads(body)["data"]["threadId"]


def test_the_validation_event_gives_its_code():
    body = (SPECS / "subscription-validation" / "eventgrid-validation-request.json").read_bytes()
    code = json.loads(body)[0]["data"]["validationCode"]
    assert parse_delivery(body, JSON).validation_code == code


def test_thread_created_and_unknown_types_are_skipped_not_refused():
    body = json.dumps(
        [
            json.loads(example("ChatThreadCreated"))[0],
            grid_event("SomethingNew", {"threadId": THREAD}, "e-2"),
            grid_event("ChatMessageReceivedInThread", {"threadId": THREAD}, "e-3"),
        ]
    ).encode()
    delivery = parse_delivery(body, JSON)
    assert delivery.skipped == 2 and [h.event_id for h in delivery.hints] == ["e-3"]


def test_an_event_whose_data_names_no_valid_thread_is_skipped():
    events = [
        grid_event("ChatMessageReceivedInThread", {"threadId": "../../etc"}, "a", subject="x"),
        grid_event("ChatMessageReceivedInThread", "not an object", "b"),
        grid_event("ChatMessageEditedInThread", {"messageId": "1' OR 1"}, "c"),
    ]
    delivery = parse_delivery(json.dumps(events).encode(), JSON)
    # The subject still names the thread of the third; its odd message id is dropped.
    assert delivery.skipped == 2
    [hint] = delivery.hints
    assert hint.event_id == "c" and hint.thread_id == THREAD and hint.ids == ()


@pytest.mark.parametrize(
    ("body", "says"),
    [
        (b"not json", "not JSON"),
        (b"\xff\xfe", "not JSON"),
        (b"[]", "non-empty"),
        (b"42", "non-empty"),
        (b'["a string"]', "not a JSON object"),
        (json.dumps([{"id": "x"}]).encode(), "not a valid Event Grid event"),
        (json.dumps([grid_event("X", {}, event_id="")]).encode(), "no id"),
        (json.dumps([grid_event("X", {}, event_id="i" * 300)]).encode(), "longer"),
        (
            json.dumps(
                [{**grid_event("X", {}), "eventType": acs_events.VALIDATION, "data": {}}]
            ).encode(),
            "validationCode",
        ),
    ],
)
def test_malformed_batches_are_refused_with_the_reason(body, says):
    with pytest.raises(MalformedDelivery) as refused:
        parse_delivery(body, JSON)
    assert says in str(refused.value)


def test_a_cloudevent_without_its_required_attributes_is_malformed():
    with pytest.raises(MalformedDelivery, match="CloudEvents"):
        parse_delivery(json.dumps({"specversion": "1.0", "data": {}}).encode(), CLOUD)


def test_too_many_events_in_one_batch_are_refused():
    events = [grid_event("X", {}, str(n)) for n in range(acs_events.MAX_EVENTS + 1)]
    with pytest.raises(MalformedDelivery, match="at most"):
        parse_delivery(json.dumps(events).encode(), JSON)


def test_seen_ids_drop_repeats_and_forget_the_oldest_first():
    seen = SeenIds(size=3)
    assert [seen.first_time(i) for i in "abca"] == [True, True, True, False]
    assert seen.first_time("d")  # forgets b, the least recently seen ("a" was just seen)
    assert seen.first_time("b") and not seen.first_time("a")
    assert len(seen) == 3
    seen.forget(["a"])
    assert seen.first_time("a")


def test_hint_groups_are_valid_channel_layer_names():
    name = group("19:" + "x" * 200 + "@thread.v2")
    assert len(name) < 100 and name.isascii() and name != group(THREAD)
