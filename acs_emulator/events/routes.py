"""Control routes for event subscriptions, under ``/_emulator/events/subscriptions``.

Access-key protected like the other control routes (``x-emulator-key`` or HMAC), except the
``validate`` link, which is the ``validationUrl`` of a manual handshake and carries its own code.

* ``GET    /_emulator/events/subscriptions`` -> ``{"topic", "value": [subscription, ...]}``
* ``POST   /_emulator/events/subscriptions`` with ``{"url", "name"?, "schema"?, ...}`` -> 201
  (200 when ``name`` exists: an update, which asks for a new handshake)
* ``GET    /_emulator/events/subscriptions/{name}`` -> the subscription, 404 if unknown
* ``DELETE /_emulator/events/subscriptions/{name}`` -> 204 (its waiting events are dropped)
* ``GET    /_emulator/events/subscriptions/{name}/validate?code=<validationCode>`` -> 200
"""

from __future__ import annotations

import secrets

from aiohttp import web

from ..errors import bad_request, not_found
from ..http import empty_response, json_response, read_json
from .service import EventService
from .subscriptions import AWAITING_MANUAL_ACTION, Subscription, check_name, parse_subscription

EVENTS = web.AppKey("events", EventService)
BASE = "/_emulator/events/subscriptions"


def _service(request: web.Request) -> EventService:
    return request.app[EVENTS]


def _known(service: EventService, name: str) -> Subscription:
    subscription = service.subscriptions.get(name)
    if subscription is None:
        raise not_found(f"Event subscription {name!r} was not found.", target="name")
    return subscription


async def list_subscriptions(request: web.Request) -> web.Response:
    service = _service(request)
    return json_response(
        {
            "topic": service.topic,
            "value": [s.describe(service.topic) for s in service.subscriptions.all()],
        }
    )


async def put_subscription(request: web.Request) -> web.Response:
    service = _service(request)
    body = await read_json(request)
    if not isinstance(body, dict):
        raise bad_request("The request body must be a JSON object (a subscription).")
    name = check_name(body.get("name", f"sub-{secrets.token_hex(6)}"))
    existed = service.subscriptions.get(name) is not None
    subscription = service.add(parse_subscription(body, service.defaults, name))
    return json_response(subscription.describe(service.topic), status=200 if existed else 201)


async def get_subscription(request: web.Request) -> web.Response:
    service = _service(request)
    return json_response(_known(service, request.match_info["name"]).describe(service.topic))


async def delete_subscription(request: web.Request) -> web.Response:
    service = _service(request)
    _known(service, request.match_info["name"])
    service.remove(request.match_info["name"])
    return empty_response(204)


async def validate_subscription(request: web.Request) -> web.Response:
    """The ``validationUrl``: a manual handshake's second half."""
    service = _service(request)
    subscription = _known(service, request.match_info["name"])
    code = request.query.get("code", "")
    if subscription.provisioning_state != AWAITING_MANUAL_ACTION or not secrets.compare_digest(
        code.encode(), subscription.validation_code.encode()
    ):
        raise bad_request("This validation link is not valid (or no longer).", target="code")
    service.validated(subscription.name)
    return json_response({"validationResponse": code})


def add_event_routes(app: web.Application, service: EventService) -> None:
    app[EVENTS] = service
    router = app.router
    router.add_get(BASE, list_subscriptions, name="Emulator_ListEventSubscriptions")
    router.add_post(BASE, put_subscription, name="Emulator_PutEventSubscription")
    router.add_get(BASE + "/{name}", get_subscription, name="Emulator_GetEventSubscription")
    router.add_delete(
        BASE + "/{name}", delete_subscription, name="Emulator_DeleteEventSubscription"
    )
    router.add_get(
        BASE + "/{name}/validate", validate_subscription, name="Emulator_ValidateEventSubscription"
    )
