"""Websockets belong to the session that opened them.

A page's socket is signed in by its session cookie once, at the handshake; after that the
session can end while the socket stays open. So every socket joins two channel-layer groups, one
for its session and one for its user, and:

* sign-out ends that session's sockets, on every server process, at once;
* a password change or deactivation makes every socket of the user check its session again
  (Django's session auth hash no longer matches on the user's other sessions, and an inactive
  user has no valid session at all): the ones whose session is gone close;
* a session's expiry is checked when it falls due, and any socket re-checks its session before
  an action once a minute, which also catches sessions deleted by other means.

A socket whose session is gone closes with ``CLOSE_SIGNED_OUT``, on which the page asks the user
to sign in again; it accepts no action or subscribe meanwhile.

A session whose socket was closed for sending malformed frames (see chat.consumers) is refused
new sockets for a while, at the handshake, before anything is loaded for it
(:class:`RefusePenalisedSessions`).
"""

from __future__ import annotations

import hashlib
from importlib import import_module
from types import SimpleNamespace
from typing import Any

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from channels.security.websocket import WebsocketDenier
from django.conf import settings
from django.contrib import auth
from django.core.cache import cache

# Closed with this code, a page stops reconnecting and asks the user to sign in again.
CLOSE_SIGNED_OUT = 4401
# How often a socket re-checks its session before an action, at most.
RECHECK_EVERY = 60.0

SESSION_ENDED = "session.ended"
SESSION_CHECK = "session.check"


def session_group(session_key: str) -> str:
    return "session." + hashlib.sha256(session_key.encode()).hexdigest()[:40]


def user_group(user_pk: Any) -> str:
    return f"user.{user_pk}"


def signed_in_user_id(session_key: str | None) -> Any:
    """The pk of the user the session signs in now, or None (expired, signed out, password
    changed elsewhere, deactivated). Sync: reads the session store and the user."""
    if not session_key:
        return None
    store = import_module(settings.SESSION_ENGINE).SessionStore(session_key)
    if not store.exists(session_key):
        return None
    user = auth.get_user(SimpleNamespace(session=store))  # type: ignore[arg-type]
    return user.pk if user.is_authenticated else None


def expiry_seconds(session_key: str | None) -> float | None:
    """Seconds until the session expires (None: no session)."""
    if not session_key:
        return None
    store = import_module(settings.SESSION_ENGINE).SessionStore(session_key)
    return float(store.get_expiry_age()) if store.exists(session_key) else None


def _tell(group: str, message_type: str) -> None:
    layer = get_channel_layer()
    if layer is not None:
        async_to_sync(layer.group_send)(group, {"type": message_type})


def end_session_sockets(session_key: str | None) -> None:
    """Close the sockets of a session that just ended (sign-out), on every server process."""
    if session_key:
        _tell(session_group(session_key), SESSION_ENDED)


def recheck_user_sockets(user_pk: Any) -> None:
    """Make every socket of the user check whether its session still signs the user in."""
    _tell(user_group(user_pk), SESSION_CHECK)


# How long a session is refused sockets after one was closed for malformed frames.
PENALTY_SECONDS = 30


def _penalty_key(session_key: str) -> str:
    return "chat.ws.penalty." + hashlib.sha256(session_key.encode()).hexdigest()[:40]


def penalise(session_key: str | None) -> None:
    """Refuse the session new sockets for PENALTY_SECONDS (sync: the cache)."""
    if session_key:
        cache.set(_penalty_key(session_key), 1, PENALTY_SECONDS)


def penalised(session_key: str | None) -> bool:
    return bool(session_key) and bool(cache.get(_penalty_key(session_key)))


def _session_key_of(scope: dict) -> str | None:
    for name, value in scope.get("headers", []):
        if name == b"cookie":
            for part in value.decode("latin-1").split(";"):
                key, _, found = part.strip().partition("=")
                if key == settings.SESSION_COOKIE_NAME:
                    return found or None
    return None


class RefusePenalisedSessions:
    """ASGI middleware: a penalised session's handshakes are refused (403), cheaply."""

    def __init__(self, application: Any) -> None:
        self.application = application

    async def __call__(self, scope: dict, receive: Any, send: Any) -> Any:
        from chat.db import run_db

        if scope["type"] == "websocket":
            session_key = _session_key_of(scope)
            if session_key and await run_db(penalised, session_key):
                return await WebsocketDenier()(scope, receive, send)
        return await self.application(scope, receive, send)
