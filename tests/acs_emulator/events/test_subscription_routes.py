"""The ``/_emulator/events/subscriptions`` routes: shapes, access key, bad bodies, removal."""

from __future__ import annotations

import pytest
import requests

from acs_emulator.process import EmulatorError, EmulatorProcess
from tests.fixtures.emulator import hmac_headers

BASE = "/_emulator/events/subscriptions"


def call(emulator, method: str, path: str, **kwargs) -> requests.Response:
    return requests.request(
        method, emulator.endpoint + path, verify=emulator.ca_bundle, timeout=10, **kwargs
    )


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("GET", BASE, None),
        ("POST", BASE, {"url": "http://127.0.0.1:9/hook"}),
        ("GET", BASE + "/anything", None),
        ("DELETE", BASE + "/anything", None),
    ],
)
def test_every_route_needs_the_access_key(events_emulator, method, path, body) -> None:
    for headers in ({}, {"x-emulator-key": events_emulator.access_key[:-4] + "AAA="}):
        response = call(events_emulator, method, path, json=body, headers=headers)
        assert response.status_code == 401, response.text
        assert response.json()["error"]["code"] == "Denied"
    assert not [s for s in events_emulator.event_subscriptions() if s["url"].endswith(":9/hook")]


def test_hmac_signed_requests_work_too(events_emulator) -> None:
    host = events_emulator.endpoint.removeprefix("https://")
    signed = hmac_headers(events_emulator.access_key, "GET", BASE, host)
    response = call(events_emulator, "GET", BASE, headers=signed)
    assert response.status_code == 200
    assert response.json()["topic"].startswith("/subscriptions/")


def test_add_list_get_update_and_remove(events_emulator, receiver, chat) -> None:
    target = receiver()
    created = events_emulator.add_event_subscription(
        target.url,
        name="kwebbel-dev",
        schema="cloudevents",
        maxEventsPerBatch=10,
        deliveryHeaders={"X-Secret": "one"},
    )
    try:
        assert created["name"] == "kwebbel-dev" and created["source"] == "api"
        assert created["provisioningState"] == "Creating"
        assert created["deliveryHeaders"] == ["X-Secret"]  # names only: values may be secret
        assert created["maxEventsPerBatch"] == 10 and created["schema"] == "cloudevents"
        assert created["topic"] == events_emulator.control("GET", BASE)["topic"]
        listed = {s["name"]: s for s in events_emulator.event_subscriptions()}
        assert listed["kwebbel-dev"]["url"] == target.url
        assert events_emulator.wait_for_subscription("kwebbel-dev")["provisioningState"] == (
            "Succeeded"
        )
        # The same name again is an update: 200, and a new handshake.
        response = call(
            events_emulator,
            "POST",
            BASE,
            json={"name": "kwebbel-dev", "url": target.url},
            headers={"x-emulator-key": events_emulator.access_key},
        )
        assert response.status_code == 200
        assert response.json()["provisioningState"] == "Creating"
        assert response.json()["schema"] == "eventgrid"
        events_emulator.wait_for_subscription("kwebbel-dev")
        assert [r.method for r in target.snapshot()] == ["OPTIONS", "POST"]
    finally:
        events_emulator.remove_event_subscription("kwebbel-dev")
    with pytest.raises(EmulatorError, match="404"):
        events_emulator.event_subscription("kwebbel-dev")
    with pytest.raises(EmulatorError, match="404"):
        events_emulator.remove_event_subscription("kwebbel-dev")
    chat.thread(chat.member())
    assert "kwebbel-dev" not in events_emulator.stats()["events"]["subscriptions"]


def test_a_header_no_subscription_may_carry_stops_the_start(tmp_path) -> None:
    emulator = EmulatorProcess(tmp_path / "acs", extra_args=["--events-header", "aeg-event-type:x"])
    with pytest.raises(EmulatorError, match="exited with 2"):
        emulator.start()
    assert "not a header name a subscription may set" in emulator.log_path.read_text()


def test_a_generated_name(events_emulator, subscribe, receiver) -> None:
    subscription = subscribe(receiver())
    assert subscription["name"].startswith("sub-")


@pytest.mark.parametrize(
    ("body", "target"),
    [
        ({}, "url"),
        ({"url": "ftp://127.0.0.1/x"}, "url"),
        ({"url": "/relative"}, "url"),
        ({"url": "http://127.0.0.1:99999/x"}, "url"),
        ({"url": "http://h/x", "schema": "xml"}, "schema"),
        ({"url": "http://h/x", "name": "a"}, "name"),
        ({"url": "http://h/x", "name": "no spaces here"}, "name"),
        ({"url": "http://h/x", "maxEventsPerBatch": 0}, "maxEventsPerBatch"),
        ({"url": "http://h/x", "maxDeliveryAttempts": 31}, "maxDeliveryAttempts"),
        ({"url": "http://h/x", "eventTimeToLiveInMinutes": True}, "eventTimeToLiveInMinutes"),
        ({"url": "http://h/x", "includedEventTypes": ["Foo"]}, "includedEventTypes"),
        ({"url": "http://h/x", "subjectBeginsWith": 5}, "subjectBeginsWith"),
        ({"url": "http://h/x", "deliveryHeaders": {"aeg-x": "1"}}, "deliveryHeaders"),
        ({"url": "http://h/x", "deliveryHeaders": {"Content-Type": "x"}}, "deliveryHeaders"),
        ({"url": "http://h/x", "deliveryHeaders": {"X": "a\r\nb"}}, "deliveryHeaders"),
        (
            {"url": "http://h/x", "deliveryHeaders": {f"X{i}": "v" for i in range(11)}},
            "deliveryHeaders",
        ),
        ({"url": "http://h/x", "faults": {"duplicateRate": 2}}, "faults.duplicateRate"),
        ({"url": "http://h/x", "faults": {"failFirst": -1}}, "faults.failFirst"),
        ({"url": "http://h/x", "faults": {"shuffle": "yes"}}, "faults.shuffle"),
    ],
)
def test_bad_subscriptions_are_a_400(events_emulator, body, target) -> None:
    before = events_emulator.event_subscriptions()
    response = call(
        events_emulator,
        "POST",
        BASE,
        json=body,
        headers={"x-emulator-key": events_emulator.access_key},
    )
    assert response.status_code == 400, response.text
    assert response.json()["error"]["target"] == target
    assert events_emulator.event_subscriptions() == before


def test_removing_a_subscription_drops_its_waiting_events(
    events_emulator, receiver, subscribe, chat
) -> None:
    target = receiver(statuses=[503] * 50)
    subscription = subscribe(target, faults={"delayMs": 60000})
    chat.thread(chat.member())
    assert events_emulator.stats()["events"]["subscriptions"][subscription["name"]]["pending"] == 1
    events_emulator.remove_event_subscription(subscription["name"])
    assert subscription["name"] not in events_emulator.stats()["events"]["subscriptions"]
    assert target.notifications() == []


def test_stats_reset_keeps_what_is_pending(events_emulator, receiver, subscribe, chat) -> None:
    target = receiver()
    delayed = receiver()
    subscription = subscribe(target)
    waiting = subscribe(delayed, faults={"delayMs": 60000})
    chat.thread(chat.member())
    target.wait_for_events(1)
    events_emulator.reset_stats()
    stats = events_emulator.stats()["events"]["subscriptions"]
    assert stats[subscription["name"]]["delivered"] == 0
    assert stats[subscription["name"]]["handshakes"] == 0
    assert stats[waiting["name"]]["pending"] == 1
