"""The validation handshakes before the first delivery, and what happens when they fail."""

from __future__ import annotations

import json
from pathlib import Path

import requests
from azure.eventgrid import EventGridEvent, SystemEventNames

import acs_emulator

VALIDATION = Path(acs_emulator.__file__).parent / "specs" / "EventGrid" / "subscription-validation"


def test_event_grid_handshake_comes_first_with_the_documented_shape(
    events_emulator, receiver, subscribe, chat
) -> None:
    target = receiver()
    subscription = subscribe(target)
    assert subscription["provisioningState"] == "Succeeded"
    owner = chat.member()
    chat.thread(owner)
    target.wait_for_events(1)
    first, *rest = target.snapshot()
    assert first.kind == "SubscriptionValidation"
    assert all(r.kind == "Notification" for r in rest)
    documented = json.loads((VALIDATION / "eventgrid-validation-request-headers.json").read_text())
    for name, value in documented["headers"].items():
        expected = subscription["name"] if name == "aeg-subscription-name" else value
        assert first.headers[name.lower()] == expected, name
    assert first.method == "POST" and first.path == "/hook?code=s3cret"
    [body] = first.json()
    [example] = json.loads((VALIDATION / "eventgrid-validation-request.json").read_text())
    assert sorted(body) == sorted(example) and sorted(body["data"]) == sorted(example["data"])
    event = EventGridEvent.from_dict(body)
    assert event.event_type == SystemEventNames.EventGridSubscriptionValidationEventName
    assert event.data["validationUrl"].startswith(events_emulator.endpoint + "/_emulator/")
    assert (
        events_emulator.stats()["events"]["subscriptions"][subscription["name"]]["handshakes"] == 1
    )


def test_cloudevents_handshake_is_an_options_request(receiver, subscribe, chat) -> None:
    target = receiver()
    subscribe(target, schema="cloudevents")
    chat.thread(chat.member())
    target.wait_for_events(1)
    first = target.snapshot()[0]
    documented = json.loads((VALIDATION / "cloudevents-options-request.json").read_text())
    assert first.method == documented["method"] == "OPTIONS"
    assert first.path == "/hook?code=s3cret"
    assert first.headers["webhook-request-origin"] == "eventgrid.azure.net"
    delivery = target.notifications()[0]
    assert delivery.headers["origin"] == "eventgrid.azure.net"


def test_a_webhook_that_fails_the_handshake_gets_nothing(
    events_emulator, receiver, subscribe, chat
) -> None:
    refusing = receiver(handshake="refuse")
    wrong = receiver(handshake="wrong-code")
    no_origin = receiver(handshake="no-origin")
    subscriptions = [
        subscribe(refusing, wait=False),
        subscribe(wrong, wait=False),
        subscribe(no_origin, wait=False, schema="cloudevents"),
    ]
    # Raised while the handshakes are still under way: held, then dropped when they fail.
    chat.thread(chat.member())
    for subscription, target in zip(subscriptions, (refusing, wrong, no_origin), strict=True):
        failed = events_emulator.wait_for_subscription(subscription["name"])
        assert failed["provisioningState"] == "Failed"
        assert "handshake failed" in failed["lastError"]
        assert "s3cret" not in failed["lastError"]  # the query string may hold a secret
        assert target.notifications() == []
        # Three attempts, as Event Grid retries a failed validation before giving up.
        assert len(target.snapshot()) == 3
        counters = events_emulator.stats()["events"]["subscriptions"][subscription["name"]]
        assert counters["handshakes"] == 3
        assert counters["dropped"] == 1 and counters["pending"] == 0
        assert counters["attempted"] == 0
    # Later changes are not kept for a failed subscription.
    chat.thread(chat.member())
    counters = events_emulator.stats()["events"]["subscriptions"][subscriptions[0]["name"]]
    assert counters["pending"] == 0 and counters["dropped"] == 1


def test_adding_a_failed_subscription_again_retries_the_handshake(
    events_emulator, receiver, subscribe, chat
) -> None:
    target = receiver(handshake="refuse")
    subscription = subscribe(target)
    assert subscription["provisioningState"] == "Failed"
    target.handshake = "answer"
    again = events_emulator.add_event_subscription(target.url, name=subscription["name"])
    assert again["provisioningState"] == "Creating"
    assert events_emulator.wait_for_subscription(subscription["name"])["provisioningState"] == (
        "Succeeded"
    )
    chat.thread(chat.member())
    assert target.wait_for_events(1)[0]["eventType"].endswith("ChatThreadCreated")


def test_manual_validation_through_the_validation_url(
    events_emulator, receiver, subscribe, chat
) -> None:
    target = receiver(handshake="manual")
    subscription = subscribe(target)
    assert subscription["provisioningState"] == "AwaitingManualAction"
    chat.thread(chat.member())
    assert events_emulator.stats()["events"]["subscriptions"][subscription["name"]]["pending"] == 1
    url = target.snapshot()[0].json()[0]["data"]["validationUrl"]
    wrong = requests.get(url + "x", verify=events_emulator.ca_bundle, timeout=10)
    assert wrong.status_code == 400 and wrong.json()["error"]["target"] == "code"
    # No access key: the link's own code is the credential, as on Event Grid.
    visited = requests.get(url, verify=events_emulator.ca_bundle, timeout=10)
    assert visited.status_code == 200, visited.text
    assert events_emulator.event_subscription(subscription["name"])["provisioningState"] == (
        "Succeeded"
    )
    assert target.wait_for_events(1)[0]["eventType"].endswith("ChatThreadCreated")
    again = requests.get(url, verify=events_emulator.ca_bundle, timeout=10)
    assert again.status_code == 400


def test_an_unreachable_manual_validation_expires(events_emulator, receiver, subscribe) -> None:
    # The window is 10 minutes, scaled like the retry schedule (0.01 here: 6 s).
    target = receiver(handshake="manual")
    subscription = subscribe(target)
    target.wait_for(
        lambda _: (
            events_emulator.event_subscription(subscription["name"])["provisioningState"]
            == "Failed"
        ),
        timeout=20,
    )
