"""The chat websocket (`ws/chat/`): live events for the threads a page has open, and actions.

Protocol (JSON text frames):

client → server
    {"action": "subscribe", "thread", "cursor": n|null, "request"?}
    {"action": "unsubscribe", "thread"}
    {"action": "send", "thread", "request", "content", "format": "text"|"html", "clientId"?}
    {"action": "edit", "thread", "request", "message", "content"}
    {"action": "delete", "thread", "request", "message"}
    {"action": "typing", "thread"}
    {"action": "read", "thread", "message", "request"?}
server → client
    subscribed {thread, cursor}; event {thread, cursor, kind, data}; typing {thread, user, name};
    resync {thread} (reload the thread); removed {thread} (access lost, nothing follows);
    ack {request, ok: true, result} | ack {request, ok: false, error, status}; error {error}.

Exactly once, in order: the relay numbers each thread's events with a cursor and keeps them in
a log. A subscription joins the thread's group *first*, then replays the log after the page's
cursor, so nothing falls between the two; afterwards live events at or below the last cursor
sent are dropped (already sent) and a jump past it is filled from the log (the channel layer
delivers at most once and may drop). Every event passes the viewer's filter on the way out.

Actions run the same `chat.actions` functions as the pages, with the user's own token.
"""

from __future__ import annotations

import json
import logging
import time
from dataclasses import dataclass
from typing import Any

from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncJsonWebsocketConsumer
from django.conf import settings
from django.http import Http404
from django.utils import translation
from django.utils.translation import gettext as _
from django.utils.translation.trans_real import parse_accept_lang_header

from chat.actions import ActionError, ChatUnavailable, publish
from chat.actions.messages import (
    MESSAGE_MAX_LENGTH,
    access_own_message,
    do_delete_message,
    do_edit_message,
    do_send_message,
    do_send_read_receipt,
    do_send_typing,
)
from chat.actions.participants import fetch_participants, history_start
from chat.actions.threads import EPOCH, ThreadAccess, access_thread
from chat.live import PARTICIPANT_KINDS, Viewer, participants_in, render_event
from chat.relay import api as relay_api
from chat.relay.relay import get_relay
from tokens.services import AcsError

logger = logging.getLogger(__name__)

# A frame carries at most one message; JSON may escape each character as six (\uXXXX).
MAX_FRAME_CHARS = 6 * MESSAGE_MAX_LENGTH + 4096
# Threads one connection may follow at once (a page has one open; a few tabs' worth is plenty).
MAX_SUBSCRIPTIONS = 20
MAX_REQUEST_ID = 64
# ACS allows 5 typing notifications per user and thread per 10 s; pages send one per 8 s, and
# anything faster is dropped here rather than turned into 429s.
TYPING_MIN_INTERVAL = 3.0
# Closed with this code, a page stops reconnecting and asks the user to sign in again.
CLOSE_UNAUTHENTICATED = 4401


class FrameError(Exception):
    """A frame the protocol does not allow; the message says what is wrong."""


@dataclass
class Subscription:
    thread_id: str
    group: str
    access: ThreadAccess
    viewer: Viewer
    cursor: int  # the last cursor sent to (or deliberately skipped for) this connection


def _access_with_start(user: Any, thread_id: str) -> tuple[ThreadAccess, Any]:
    access = access_thread(user, thread_id)
    participants = fetch_participants(access)
    publish.members_seen(thread_id, participants)
    return access, history_start(participants, access.me)


def viewer_language(scope: dict) -> str:
    """The language of the page that opened the socket: the switcher's cookie, else the
    browser's Accept-Language, as LocaleMiddleware decides for pages (no request object here)."""
    cookie = scope.get("cookies", {}).get(settings.LANGUAGE_COOKIE_NAME)
    accept = dict(scope.get("headers", [])).get(b"accept-language", b"").decode("latin-1")
    wanted = [cookie] + [code for code, _q in parse_accept_lang_header(accept) if code != "*"]
    for code in filter(None, wanted):
        try:
            return translation.get_supported_language_variant(code)
        except LookupError:
            continue
    return settings.LANGUAGE_CODE


class ChatConsumer(AsyncJsonWebsocketConsumer):
    async def dispatch(self, message: dict) -> None:
        # Frames, acks and rendered events (system messages in words) speak the page's language.
        language = getattr(self, "language", None) or viewer_language(self.scope)
        with translation.override(language):
            await super().dispatch(message)

    async def connect(self) -> None:
        self.language = viewer_language(self.scope)
        self.subscriptions: dict[str, Subscription] = {}
        self.last_typing: dict[str, float] = {}
        user = self.scope.get("user")
        await self.accept()
        if user is None or not user.is_authenticated:
            await self.close(code=CLOSE_UNAUTHENTICATED)

    async def disconnect(self, code: int) -> None:
        for thread_id in list(getattr(self, "subscriptions", {})):
            await self._unsubscribe(thread_id)

    # --- Frames in -------------------------------------------------------------------------------

    async def receive(self, text_data: str | None = None, bytes_data: bytes | None = None) -> None:
        if text_data is None:
            await self._error(_("Frames must be JSON text."))
            return
        if len(text_data) > MAX_FRAME_CHARS:
            await self._error(_("The frame is too large."))
            return
        try:
            frame = json.loads(text_data)
        except ValueError:
            await self._error(_("The frame is not valid JSON."))
            return
        await self.receive_json(frame)

    async def receive_json(self, content: Any, **kwargs: Any) -> None:
        request = None
        try:
            if not isinstance(content, dict):
                raise FrameError(_("A frame must be a JSON object."))
            request = _request_id(content)
            action = content.get("action")
            handler = ACTIONS.get(action) if isinstance(action, str) else None
            if handler is None:
                raise FrameError(_("Unknown action."))
            thread_id = _text(content, "thread")
            result = await handler(self, thread_id, content)
        except FrameError as error:
            await self._fail(request, str(error), 400)
            return
        except Http404 as error:
            await self._fail(request, str(error) or _("No such conversation."), 404)
            return
        except ActionError as error:
            await self._fail(request, error.message, error.status)
            return
        except (ChatUnavailable, AcsError):
            logger.warning("chat service unavailable", exc_info=True)
            await self._fail(request, _("The chat service did not answer. Try again."), 503)
            return
        except Exception:
            # One failed action must not close a connection that carries every open thread.
            logger.exception("websocket action failed")
            await self._fail(request, _("Something went wrong. Try again."), 500)
            return
        if request is not None:
            await self.send_json({"type": "ack", "request": request, "ok": True, "result": result})

    async def _error(self, message: str) -> None:
        await self.send_json({"type": "error", "error": message})

    async def _fail(self, request: Any, message: str, status: int) -> None:
        if request is None:
            await self._error(message)
        else:
            await self.send_json(
                {"type": "ack", "request": request, "ok": False, "error": message, "status": status}
            )

    # --- Actions ---------------------------------------------------------------------------------

    async def _access(self, thread_id: str) -> ThreadAccess:
        """The subscription's access check, else a fresh one (GetChatThreadProperties)."""
        sub = self.subscriptions.get(thread_id)
        if sub is not None:
            return sub.access
        return await database_sync_to_async(access_thread)(self.scope["user"], thread_id)

    async def action_subscribe(self, thread_id: str, frame: dict) -> dict:
        cursor = frame.get("cursor")
        if cursor is not None and (type(cursor) is not int or cursor < 0):
            raise FrameError(_("The cursor must be a whole number or null."))
        if thread_id in self.subscriptions:
            # Already following it: nothing to replay, the page just learns where it stands.
            current = self.subscriptions[thread_id].cursor
            await self.send_json({"type": "subscribed", "thread": thread_id, "cursor": current})
            return {"thread": thread_id, "cursor": current}
        if len(self.subscriptions) >= MAX_SUBSCRIPTIONS:
            raise FrameError(_("Too many conversations open on one connection."))
        access, start = await database_sync_to_async(_access_with_start)(
            self.scope["user"], thread_id
        )
        group = relay_api.group_name(thread_id)
        # Join first, then read the log: an event appended in between arrives twice at most
        # (once replayed, once live) and the cursor check drops the second.
        await self.channel_layer.group_add(group, self.channel_name)
        await get_relay().watch(thread_id)
        sub = Subscription(thread_id, group, access, Viewer(access.me, start), cursor=0)
        self.subscriptions[thread_id] = sub
        if cursor is None:
            sub.cursor = await database_sync_to_async(relay_api.current_cursor)(thread_id)
        else:
            sub.cursor = cursor
            missed = await database_sync_to_async(relay_api.events_after)(thread_id, cursor)
            if missed is None:
                await self._resync(sub)
            elif not await self._deliver(sub, missed):
                return {"thread": thread_id, "removed": True}
        await self.send_json({"type": "subscribed", "thread": thread_id, "cursor": sub.cursor})
        return {"thread": thread_id, "cursor": sub.cursor}

    async def action_unsubscribe(self, thread_id: str, frame: dict) -> dict:
        await self._unsubscribe(thread_id)
        return {"thread": thread_id}

    async def action_send(self, thread_id: str, frame: dict) -> dict:
        _require_request(frame)
        content = _text(frame, "content", limit=MESSAGE_MAX_LENGTH)
        kind = frame.get("format", "text")
        if kind not in ("text", "html"):
            raise FrameError(_("Unknown message format."))
        client_id = frame.get("clientId")
        if client_id is not None and not isinstance(client_id, str):
            raise FrameError(_("Invalid client id."))
        access = await self._access(thread_id)
        message_id = await database_sync_to_async(do_send_message)(access, content, kind, client_id)
        return {"id": message_id, "clientId": client_id}

    async def action_edit(self, thread_id: str, frame: dict) -> dict:
        _require_request(frame)
        message_id = _text(frame, "message")
        content = _text(frame, "content", limit=MESSAGE_MAX_LENGTH)

        def edit(access: ThreadAccess) -> None:
            start = self._start(access)
            do_edit_message(access, access_own_message(access, message_id, start), content)

        await database_sync_to_async(edit)(await self._access(thread_id))
        return {"id": message_id}

    async def action_delete(self, thread_id: str, frame: dict) -> dict:
        _require_request(frame)
        message_id = _text(frame, "message")

        def delete(access: ThreadAccess) -> None:
            do_delete_message(access, access_own_message(access, message_id, self._start(access)))

        await database_sync_to_async(delete)(await self._access(thread_id))
        return {"id": message_id}

    async def action_typing(self, thread_id: str, frame: dict) -> dict:
        now = time.monotonic()
        if now - self.last_typing.get(thread_id, -TYPING_MIN_INTERVAL) < TYPING_MIN_INTERVAL:
            return {"sent": False}
        self.last_typing[thread_id] = now
        await database_sync_to_async(do_send_typing)(await self._access(thread_id))
        return {"sent": True}

    async def action_read(self, thread_id: str, frame: dict) -> dict:
        message_id = _text(frame, "message")
        await database_sync_to_async(do_send_read_receipt)(
            await self._access(thread_id), message_id
        )
        return {"id": message_id}

    def _start(self, access: ThreadAccess) -> Any:
        sub = self.subscriptions.get(access.thread_id)
        if sub is not None:
            return sub.viewer.history_start
        return history_start(fetch_participants(access), access.me)

    # --- Events out ------------------------------------------------------------------------------

    async def relay_event(self, message: dict) -> None:
        """A live event from the relay (group message `relay.event`)."""
        sub = self.subscriptions.get(message.get("thread"))
        if sub is None:
            return
        cursor = message["cursor"]
        if cursor <= sub.cursor:
            return  # already sent (replayed, or delivered twice)
        if cursor == sub.cursor + 1 and message.get("event"):
            events = [message["event"]]
        else:
            # The layer dropped something (or the message is a bare notice): read the log.
            events = await database_sync_to_async(relay_api.events_after)(sub.thread_id, sub.cursor)
            if events is None:
                await self._resync(sub)
                return
        await self._deliver(sub, events)

    async def relay_typing(self, message: dict) -> None:
        """Someone is typing (group message `relay.typing`; not logged, no cursor of its own)."""
        sub = self.subscriptions.get(message.get("thread"))
        if sub is None or message.get("user") == sub.viewer.raw_id:
            return
        await self.send_json(
            {
                "type": "typing",
                "thread": sub.thread_id,
                "user": message.get("user"),
                "name": message.get("name") or "",
            }
        )

    async def _deliver(self, sub: Subscription, events: list) -> bool:
        """Send the events past the subscription's cursor, in order, through the viewer's
        filter; False when the viewer turned out to be removed (the subscription is gone)."""
        for event in events:
            event = _as_dict(event)
            cursor = event["cursor"]
            if cursor <= sub.cursor:
                continue
            kind, data = event["kind"], event.get("data") or {}
            if kind in PARTICIPANT_KINDS and await self._apply_membership(sub, kind, data):
                await self.send_json({"type": "removed", "thread": sub.thread_id})
                await self._unsubscribe(sub.thread_id)
                return False
            shown = await database_sync_to_async(render_event)(
                sub.thread_id, kind, data, sub.viewer
            )
            sub.cursor = cursor
            if shown is None:
                continue  # nothing for this viewer; the cursor still moves on
            await self.send_json(
                {
                    "type": "event",
                    "thread": sub.thread_id,
                    "cursor": cursor,
                    "kind": kind,
                    "data": shown,
                }
            )
        return True

    async def _apply_membership(self, sub: Subscription, kind: str, data: dict) -> bool:
        """Follow the viewer's own membership; True when they are no longer a participant."""
        if sub.viewer.raw_id not in {raw for raw, _sht in participants_in(data)}:
            return False
        # Added again (maybe with another history start), or removed: the relay's current view
        # decides, since the log may already hold a later change that undoes this one.
        is_member, sht = await database_sync_to_async(relay_api.member_view)(
            sub.thread_id, sub.viewer.raw_id
        )
        if is_member:
            sub.viewer.history_start = _history_from(sht)
        return not is_member

    async def _resync(self, sub: Subscription) -> None:
        sub.cursor = await database_sync_to_async(relay_api.current_cursor)(sub.thread_id)
        await self.send_json({"type": "resync", "thread": sub.thread_id})

    async def _unsubscribe(self, thread_id: str) -> None:
        sub = self.subscriptions.pop(thread_id, None)
        if sub is None:
            return
        await self.channel_layer.group_discard(sub.group, self.channel_name)
        await get_relay().unwatch(thread_id)


ACTIONS = {
    "subscribe": ChatConsumer.action_subscribe,
    "unsubscribe": ChatConsumer.action_unsubscribe,
    "send": ChatConsumer.action_send,
    "edit": ChatConsumer.action_edit,
    "delete": ChatConsumer.action_delete,
    "typing": ChatConsumer.action_typing,
    "read": ChatConsumer.action_read,
}


def _history_from(sht: Any) -> Any:
    return None if sht is None or sht <= EPOCH else sht


def _as_dict(event: Any) -> dict:
    """A log entry as a dict (the log may hand out dataclasses)."""
    if isinstance(event, dict):
        return event
    return {"cursor": event.cursor, "kind": event.kind, "data": event.data}


def _request_id(frame: dict) -> Any:
    request = frame.get("request")
    if request is None:
        return None
    if isinstance(request, bool) or not isinstance(request, str | int):
        raise FrameError(_("The request id must be a string or a number."))
    if isinstance(request, str) and len(request) > MAX_REQUEST_ID:
        raise FrameError(_("The request id is too long."))
    return request


def _require_request(frame: dict) -> None:
    if frame.get("request") is None:
        raise FrameError(_("This action needs a request id."))


def _text(frame: dict, key: str, *, limit: int = 300) -> str:
    value = frame.get(key)
    if not isinstance(value, str) or not value:
        raise FrameError(_("Missing field: %(field)s.") % {"field": key})
    if len(value) > limit:
        raise FrameError(
            _("The field %(field)s is longer than %(max)d characters.")
            % {"field": key, "max": limit}
        )
    return value
