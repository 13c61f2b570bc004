"""The emulator's aiohttp application: the request pipeline, the services and control routes.

Pipeline, outermost first (each step keys on the route name, which is the spec's operationId):
errors + access log -> request counters -> fault injection -> ACS rate limits (when enforced) ->
api-version check -> authentication and scopes -> the operation's handler.
"""

from __future__ import annotations

import base64
import logging
import os
import secrets
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import unquote

from aiohttp import web

from .auth.jwt import derive_signing_key, unverified_raw_id
from .auth.middleware import Credentials, auth_middleware
from .auth.scopes import IDENTITY_OPERATIONS, is_acs_operation
from .chat import setup_chat
from .config import ConfigError, EmulatorConfig
from .db import open_database
from .errors import AcsError, bad_request
from .events import EVENTS, EventService, EventSettings, add_event_routes
from .events.delivery import DeliverySettings
from .events.subscriptions import DeliveryFaults, Subscription
from .faults import FaultInjector
from .http import check_header_text, empty_response, json_response
from .identity import IdentityStore, add_identity_routes
from .limits import RateLimiter
from .stats import RequestStats

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
CHAT_API_VERSION = "2024-03-07"
IDENTITY_API_VERSION = "2023-10-01"
REQUEST_STATS = web.AppKey("request_stats", RequestStats)
EMULATOR_CONFIG = web.AppKey("emulator_config", EmulatorConfig)

access_log = logging.getLogger("acs_emulator.access")
log = logging.getLogger("acs_emulator")


@dataclass(frozen=True)
class ResourceState:
    """What makes a data dir one ACS resource: its access key and resource GUID."""

    access_key: str
    resource_id: str


def _read_or_create(path: Path, make: Callable[[], str]) -> str:
    if path.exists():
        value = path.read_text().strip()
        if value:
            return value
    value = make()
    tmp = path.with_name(path.name + ".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(value + "\n")
    os.replace(tmp, path)
    return value


def prepare_data_dir(config: EmulatorConfig) -> ResourceState:
    """Create the data dir, and keep the access key and resource id across restarts."""
    config.data_dir.mkdir(parents=True, exist_ok=True)
    key_path = config.data_dir / "access-key"
    if config.access_key is not None:
        # An explicitly given key becomes the stored one (tokens signed with the old key stop
        # working, as after a key rotation on the real service).
        key_path.unlink(missing_ok=True)
    access_key = _read_or_create(
        key_path, lambda: config.access_key or base64.b64encode(secrets.token_bytes(64)).decode()
    )
    resource_id = _read_or_create(config.data_dir / "resource-id", lambda: str(uuid.uuid4()))
    return ResourceState(access_key=access_key, resource_id=resource_id)


def _supported_version(operation_id: str) -> str:
    return IDENTITY_API_VERSION if operation_id in IDENTITY_OPERATIONS else CHAT_API_VERSION


def _error_response(error: AcsError) -> web.Response:
    return json_response(error.body(), status=error.status, headers=error.headers)


def _http_error(exc: web.HTTPException, request: web.Request) -> AcsError:
    if exc.status == 404:
        return AcsError(404, "NotFound", f"No such resource: {request.method} {request.path}.")
    if exc.status == 405:
        allowed = exc.headers.get("Allow", "")
        return AcsError(
            405,
            "MethodNotAllowed",
            f"{request.method} is not allowed on {request.path}.",
            headers={"Allow": allowed} if allowed else None,
        )
    return AcsError(exc.status, exc.reason.replace(" ", ""), exc.text or exc.reason)


@web.middleware
async def errors_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Render every failure in the spec's error shape and log one line per request."""
    started = time.perf_counter()
    operation_id = request.match_info.route.name
    try:
        check_header_text(request.headers)
        response = await handler(request)
    except AcsError as error:
        response = _error_response(error)
    except web.HTTPException as exc:
        if exc.status < 400:
            raise
        response = _error_response(_http_error(exc, request))
    except Exception:
        log.exception("Unhandled error in %s %s", request.method, request.path)
        response = _error_response(AcsError(500, "InternalError", "Internal server error."))
    if is_acs_operation(operation_id):
        response.headers["api-supported-versions"] = _supported_version(operation_id)
    elapsed_ms = (time.perf_counter() - started) * 1000
    # The path only: query strings and headers (tokens, signatures) stay out of the log.
    access_log.info(
        "%s %s %s %d %.1fms",
        request.method,
        request.path,
        operation_id or "-",
        response.status,
        elapsed_ms,
    )
    return response


def _thread_of_created(response: web.StreamResponse) -> str | None:
    location = response.headers.get("Location", "")
    return unquote(location.rstrip("/").rsplit("/", 1)[-1]) if location else None


def counting_middleware(stats: RequestStats):
    @web.middleware
    async def count(request: web.Request, handler: Handler) -> web.StreamResponse:
        operation_id = request.match_info.route.name
        if not is_acs_operation(operation_id):
            return await handler(request)
        thread_id = request.match_info.get("chatThreadId")
        stats.record(operation_id, thread_id)
        response = await handler(request)
        if operation_id == "Chat_CreateChatThread" and response.status == 201:
            # The new thread's id is only known now; count its creation under it too.
            created = _thread_of_created(response)
            if created:
                stats.record_for_thread(operation_id, created)
        return response

    return count


def faults_middleware(faults: FaultInjector):
    @web.middleware
    async def inject(request: web.Request, handler: Handler) -> web.StreamResponse:
        operation_id = request.match_info.route.name
        if is_acs_operation(operation_id):
            await faults.apply(operation_id)
        return await handler(request)

    return inject


def limits_middleware(limiter: RateLimiter):
    @web.middleware
    async def limit(request: web.Request, handler: Handler) -> web.StreamResponse:
        operation_id = request.match_info.route.name
        if is_acs_operation(operation_id):
            # Runs before authentication, so the user comes from the token unverified; a forged
            # token only spends its own budget and is refused right after.
            _, _, token = request.headers.get("Authorization", "").partition(" ")
            limiter.check(
                operation_id,
                user=unverified_raw_id(token.strip()) if token else None,
                chat_thread_id=request.match_info.get("chatThreadId"),
            )
        return await handler(request)

    return limit


@web.middleware
async def api_version_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    operation_id = request.match_info.route.name
    if is_acs_operation(operation_id):
        supported = _supported_version(operation_id)
        given = request.query.get("api-version")
        if not given:
            raise AcsError(
                400,
                "MissingApiVersionParameter",
                f"The api-version query parameter is required; supported: {supported}.",
                target="api-version",
            )
        if given != supported:
            raise AcsError(
                400,
                "UnsupportedApiVersion",
                f"The api-version '{given}' is not supported; supported: {supported}.",
                target="api-version",
            )
    return await handler(request)


async def get_stats(request: web.Request) -> web.Response:
    thread = request.query.get("thread")
    if thread == "":
        raise bad_request("'thread' must be a chat thread id.", target="thread")
    snapshot = request.app[REQUEST_STATS].snapshot(thread)
    if thread is None:
        snapshot["events"] = request.app[EVENTS].stats()
    return json_response(snapshot)


async def reset_stats(request: web.Request) -> web.Response:
    request.app[REQUEST_STATS].reset()
    request.app[EVENTS].counters.reset()
    return empty_response(204)


def event_settings(config: EmulatorConfig) -> EventSettings:
    """The events options of ``config`` as the events package takes them."""
    defaults = Subscription(
        name="",
        url="",
        schema=config.events_schema,
        max_events_per_batch=config.events_max_batch,
        max_delivery_attempts=config.events_max_attempts,
        event_ttl_minutes=config.events_ttl_minutes,
        delivery_headers=dict(config.events_header),
        faults=DeliveryFaults(
            duplicate_rate=config.events_duplicate_rate,
            shuffle=config.events_shuffle,
            delay_ms=config.events_delay_ms,
            fail_first=config.events_fail_first,
            fail_first_rate=config.events_fail_first_rate,
        ),
    )
    delivery = DeliverySettings(
        retry_scale=config.events_retry_scale,
        timeout_s=config.events_timeout,
        ca_bundle=config.events_ca_bundle,
        seed=config.fault_seed,
    )
    return EventSettings(
        urls=config.events_to,
        defaults=defaults,
        delivery=delivery,
        message_version=config.events_message_version,
    )


async def health(request: web.Request) -> web.Response:
    return json_response({"status": "ok"})


def create_app(
    config: EmulatorConfig,
    *,
    state: ResourceState | None = None,
    clock: Callable[[], datetime] | None = None,
) -> web.Application:
    """Build the application on ``config.data_dir`` (database, keys) with all routes."""
    state = state or prepare_data_dir(config)
    clock = clock or (lambda: datetime.now(UTC))
    conn = open_database(config.data_dir / "emulator.sqlite3")
    access_key_bytes = base64.b64decode(state.access_key)
    signing_key = derive_signing_key(access_key_bytes)
    identities = IdentityStore(
        conn, resource_id=state.resource_id, signing_key=signing_key, clock=clock
    )
    stats = RequestStats()
    middlewares = [
        errors_middleware,
        counting_middleware(stats),
        faults_middleware(
            FaultInjector(
                latency_ms=config.latency_ms,
                fail_rate=config.fail_rate,
                throttle_rate=config.throttle_rate,
                retry_after=config.retry_after,
                operations=config.faults_for,
                seed=config.fault_seed,
            )
        ),
    ]
    if config.enforce_limits:
        middlewares.append(limits_middleware(RateLimiter()))
    middlewares += [
        api_version_middleware,
        auth_middleware(Credentials(state.access_key, access_key_bytes, signing_key), identities),
    ]
    app = web.Application(middlewares=middlewares)
    app[REQUEST_STATS] = stats
    app[EMULATOR_CONFIG] = config
    add_identity_routes(app, identities)
    try:
        events = EventService(conn, resource_id=state.resource_id, settings=event_settings(config))
    except AcsError as error:  # a --events-header that a subscription may not carry
        conn.close()
        raise ConfigError(error.message) from None
    add_event_routes(app, events)
    setup_chat(
        app,
        conn,
        clock=clock,
        identity_exists=identities.identity_exists,
        publish=events.publish,
    )
    app.router.add_get("/_emulator/health", health, name="Emulator_Health")
    app.router.add_get("/_emulator/stats", get_stats, name="Emulator_GetStats")
    app.router.add_post("/_emulator/stats/reset", reset_stats, name="Emulator_ResetStats")
    known = {route.name for route in app.router.routes() if is_acs_operation(route.name)}
    if unknown := config.faults_for - known:
        conn.close()
        raise ConfigError(
            f"--faults-for names unknown operations: {', '.join(sorted(unknown))}"
            f" (known: {', '.join(sorted(known))})"
        )

    async def close_database(_: web.Application) -> None:
        await events.stop()
        conn.close()

    app.on_cleanup.append(close_database)
    return app
