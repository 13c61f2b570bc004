"""ACS chat events from Event Grid (``POST /events/acs/``): check, read, hand on to the relay.

The webhook never calls ACS: it answers the subscription handshakes, checks the shared secret,
reads the body (``chat.relay.acs_events``), drops events it has seen, and hands each thread's
"changed" hint to that thread's poller (``chat.relay.hints``), which reads the change the way
it reads a poll. So it answers in milliseconds, as Event Grid asks (30 s at most, else retries).
"""

from __future__ import annotations

import hmac
import logging
from dataclasses import dataclass, field

from django.conf import settings

from chat.relay import hints
from chat.relay.acs_events import MalformedDelivery, parse_delivery

logger = logging.getLogger(__name__)

# Event Grid sends at most 1 MB per event and per batch (a little more with the envelope).
MAX_BODY = 1_536 * 1024
SECRET_HEADER = "Kwebbel-Events-Secret"
SECRET_PARAMETER = "secret"


@dataclass
class Outcome:
    """The answer for the webhook: status and JSON body (and headers)."""

    status: int
    body: dict[str, object]
    headers: dict[str, str] = field(default_factory=dict)


def refusal(status: int, code: str, message: str) -> Outcome:
    return Outcome(status, {"error": {"code": code, "message": message}})


def check_events_request(header_secret: str | None, query_secret: str | None) -> Outcome | None:
    """None when the webhook is on and the request carries one of its secrets (header or query
    parameter, compared in constant time); otherwise the refusal (404 off, 401, 403)."""
    if not settings.RELAY_EVENTS:
        return refusal(404, "EventsOff", "Chat events are not enabled on this site (RELAY_EVENTS).")
    given = [s for s in (header_secret, query_secret) if s]
    if not given:
        return refusal(
            401,
            "SecretMissing",
            f"Send the subscription's secret as ?{SECRET_PARAMETER}=... or {SECRET_HEADER}.",
        )
    for candidate in given:
        for secret in settings.ACS_EVENTS_SECRETS:
            if hmac.compare_digest(candidate.encode(), secret.encode()):
                return None
    return refusal(403, "SecretWrong", "The secret is not this site's.")


async def do_allow_origin(origin: str | None) -> Outcome:
    """The CloudEvents handshake (an OPTIONS with WebHook-Request-Origin): grant that origin."""
    headers = {"Allow": "POST, OPTIONS"}
    if origin:
        headers["WebHook-Allowed-Origin"] = origin[:255]
        headers["WebHook-Allowed-Rate"] = "*"
        await hints.mark_alive()
    return Outcome(200, {}, headers)


async def do_receive_events(body: bytes, content_type: str) -> Outcome:
    """An Event Grid delivery: the handshake's answer, or the events handed to the relay."""
    try:
        delivery = parse_delivery(body, content_type)
    except MalformedDelivery as error:
        return refusal(400, "MalformedEvents", str(error))
    await hints.mark_alive()
    if delivery.validation_code is not None:
        return Outcome(200, {"validationResponse": delivery.validation_code})
    fresh = [hint for hint in delivery.hints if hints.seen.first_time(hint.event_id)]
    try:
        threads = await hints.send(fresh)
    except Exception:
        # The channel layer (Redis) failed: not the events' fault. Forget them so Event Grid's
        # retry (it retries a 503) is not taken for a duplicate.
        logger.exception("events: could not hand %d event(s) to the relay", len(fresh))
        hints.seen.forget(hint.event_id for hint in fresh)
        return refusal(503, "RelayUnavailable", "The relay cannot take events now; retry later.")
    return Outcome(
        200,
        {
            "accepted": len(fresh),
            "duplicates": len(delivery.hints) - len(fresh),
            "skipped": delivery.skipped,
            "threads": threads,
        },
    )
