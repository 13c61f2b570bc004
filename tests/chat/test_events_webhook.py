"""POST /events/acs/, the Event Grid webhook, in process: secrets, handshakes of both schemas,
malformed, oversized and duplicate deliveries, and the hints it hands to the relay's group."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from channels.layers import get_channel_layer
from django.test import AsyncClient

from chat.actions.events import MAX_BODY, SECRET_HEADER
from chat.relay import hints

pytestmark = pytest.mark.django_db
SPECS = Path(__file__).resolve().parents[2] / "acs_emulator" / "specs" / "EventGrid"
SECRET = "right-secret"
URL = f"/events/acs/?secret={SECRET}"
THREAD = "19:webhook-test@thread.v2"


def event(event_id: str, event_type: str = "ChatMessageReceivedInThread", **data: object) -> dict:
    return {
        "id": event_id,
        "topic": "/subscriptions/x",
        "subject": f"thread/{THREAD}/sender/8:acs:a",
        "data": {"threadId": THREAD, "messageId": "1700000000000", **data},
        "eventType": "Microsoft.Communication." + event_type,
        "dataVersion": "1.0",
        "metadataVersion": "1",
        "eventTime": "2024-05-01T12:00:00.1234567Z",
    }


@pytest.fixture
def webhook(settings):
    settings.RELAY_EVENTS = True
    settings.ACS_EVENTS_SECRETS = ("old-secret", SECRET)
    settings.CHANNEL_LAYERS = {"default": {"BACKEND": "chat.layers.InProcessChannelLayer"}}
    hints.reset()
    yield AsyncClient(enforce_csrf_checks=True)
    hints.reset()


@pytest.fixture
async def listener(webhook):
    """A channel in THREAD's hint group, as the relay polling it joins."""
    layer = get_channel_layer()
    channel = await layer.new_channel("test-hints.")
    await layer.group_add(hints.group(THREAD), channel)
    return layer, channel


async def post(client: AsyncClient, body: object, url: str = URL, **headers: str):
    data = body if isinstance(body, bytes) else json.dumps(body).encode()
    content_type = headers.pop("content_type", "application/json; charset=utf-8")
    return await client.post(url, data, content_type=content_type, headers=headers)


async def test_a_delivery_without_or_with_a_wrong_secret_is_refused_and_hands_on_nothing(
    webhook, listener
):
    layer, channel = listener
    missing = await post(webhook, [event("e-1")], url="/events/acs/")
    wrong = await post(webhook, [event("e-2")], url="/events/acs/?secret=nope")
    wrong_header = await post(webhook, [event("e-3")], url="/events/acs/", **{SECRET_HEADER: "x"})
    assert missing.status_code == 401 and "secret" in missing.json()["error"]["message"]
    assert wrong.status_code == 403 and wrong_header.status_code == 403
    # A later good delivery is the first thing the relay hears, and it is not taken for a
    # repeat of the refused ones.
    good = await post(webhook, [event("e-1")], url="/events/acs/", **{SECRET_HEADER: SECRET})
    assert good.status_code == 200 and good.json()["accepted"] == 1
    message = await layer.receive(channel)
    assert message["thread"] == THREAD and message["kinds"] == ["message.new"]


async def test_the_old_secret_still_works_while_rotating(webhook):
    answer = await post(webhook, [event("e-1")], url="/events/acs/?secret=old-secret")
    assert answer.status_code == 200


async def test_events_off_answer_404_even_with_the_secret(webhook, settings):
    settings.RELAY_EVENTS = False
    answer = await post(webhook, [event("e-1")])
    assert answer.status_code == 404 and "RELAY_EVENTS" in answer.json()["error"]["message"]


async def test_the_event_grid_handshake_echoes_the_code(webhook):
    body = (SPECS / "subscription-validation" / "eventgrid-validation-request.json").read_bytes()
    code = json.loads(body)[0]["data"]["validationCode"]
    answer = await post(webhook, body, **{"aeg-event-type": "SubscriptionValidation"})
    assert answer.status_code == 200 and answer.json() == {"validationResponse": code}


async def test_the_event_grid_handshake_needs_the_secret_too(webhook):
    body = (SPECS / "subscription-validation" / "eventgrid-validation-request.json").read_bytes()
    assert (await post(webhook, body, url="/events/acs/")).status_code == 401


async def test_the_cloudevents_handshake_grants_the_origin(webhook):
    answer = await webhook.options(URL, headers={"WebHook-Request-Origin": "eventgrid.azure.net"})
    assert answer.status_code == 200
    assert answer.headers["WebHook-Allowed-Origin"] == "eventgrid.azure.net"
    assert "POST" in answer.headers["Allow"]
    refused = await webhook.options(
        "/events/acs/", headers={"WebHook-Request-Origin": "eventgrid.azure.net"}
    )
    assert refused.status_code == 401 and "WebHook-Allowed-Origin" not in refused.headers


async def test_a_cloudevent_is_handed_on(webhook, listener):
    layer, channel = listener
    cloud = {
        "id": "c-1",
        "source": "/subscriptions/x",
        "subject": f"thread/{THREAD}/editedBy/8:acs:a",
        "type": "Microsoft.Communication.ChatThreadPropertiesUpdated",
        "time": "2024-05-01T12:00:00Z",
        "specversion": "1.0",
        "data": {"threadId": THREAD},
    }
    answer = await post(webhook, cloud, content_type="application/cloudevents+json; charset=utf-8")
    assert answer.status_code == 200 and answer.json()["accepted"] == 1
    assert (await layer.receive(channel))["kinds"] == ["topic"]


async def test_repeats_are_dropped_and_one_batch_is_one_hint_per_thread(webhook, listener):
    layer, channel = listener
    first = await post(
        webhook,
        [event("e-1"), event("e-2", "ChatMessageEditedInThread", messageId="1700000000001")],
    )
    again = await post(webhook, [event("e-2", "ChatMessageEditedInThread"), event("e-3")])
    assert first.json() == {"accepted": 2, "duplicates": 0, "skipped": 0, "threads": 1}
    assert again.json() == {"accepted": 1, "duplicates": 1, "skipped": 0, "threads": 1}
    one = await layer.receive(channel)
    assert one["kinds"] == ["message.changed", "message.new"]
    assert one["ids"] == ["1700000000000", "1700000000001"]
    assert (await layer.receive(channel))["kinds"] == ["message.new"]


async def test_a_malformed_batch_is_400_with_the_reason(webhook):
    for body, says in (
        (b"{not json", "not JSON"),
        ({"no": "envelope"}, "array"),
        ([event("e-1"), "x"], "Event 1"),
        ([{"id": "e-9"}], "Event Grid"),
    ):
        answer = await post(webhook, body if isinstance(body, bytes) else body)
        assert answer.status_code == 400, body
        assert says in answer.json()["error"]["message"], answer.json()


async def test_one_odd_event_is_skipped_and_the_rest_accepted(webhook):
    odd = {**event("e-2"), "data": {"threadId": "not-a-thread"}, "subject": "nothing"}
    answer = await post(webhook, [event("e-1"), odd, event("e-3", "ChatThreadCreated")])
    assert answer.status_code == 200
    assert answer.json() == {"accepted": 1, "duplicates": 0, "skipped": 2, "threads": 1}


async def test_an_oversized_body_is_413(webhook):
    huge = [event("e-1", messageBody="x" * (MAX_BODY + 10))]
    answer = await post(webhook, huge)
    assert answer.status_code == 413 and "at most" in answer.json()["error"]["message"]


async def test_other_methods_are_405(webhook):
    assert (await webhook.get(URL)).status_code == 405
    assert (await webhook.put(URL, b"[]")).status_code == 405
