"""The chat websocket (`ws/chat/`): live events for the threads a page has open, and actions.

Protocol (JSON text frames):

client → server
    {"action": "subscribe", "thread", "cursor": n|null, "request"?}
    {"action": "unsubscribe", "thread"}
    {"action": "send", "thread", "request", "content", "format": "text"|"html", "clientId"?,
     "replyTo"?, "attachments"?: [id, ...]}: replyTo (a message id) makes it a reply, kept in
     the message's ACS metadata as kwebbelReplyTo; the original must be one the sender sees.
     Mentions in HTML (<span data-mention="rawId">@Name</span>) are kept only for the thread's
     participants. attachments are ids of the sender's own uploads to this thread
     (POST /chat/t/<thread>/attachments/, at most 10, each sent once); with them "content" may
     be "". The message carries them in its metadata (fileSharingMetadata).
    {"action": "edit", "thread", "request", "message", "content"}
    {"action": "delete", "thread", "request", "message"}
    {"action": "react", "thread", "request", "message", "emoji", "on": true|false}: the user's
     reaction (one of 👍 ❤️ 😂 😮 😢 🎉) on or off; acked {id, emoji, on}. Refused: another emoji
     (400), a message unknown (404) or not the user's to see, deleted or a system message
     (400/404), a thread they are not in (404).
    {"action": "typing", "thread"}
    {"action": "read", "thread", "message", "request"?}
    {"action": "ping", "request"}: acked with {} (pages use it to notice a dead connection)
server → client
    subscribed {thread, cursor}; event {thread, cursor, kind, data}; typing {thread, user, name};
    resync {thread} (reload the thread); removed {thread} (access lost, nothing follows);
    deleted {thread} (the conversation was deleted, nothing follows);
    inbox {thread, topic, at, kind, ...} for the user's other threads (see chat.relay.inbox):
        message {id, sender {rawId, name}, mine, preview, mentionsMe}; added {me}; removed {me};
        topic {topic}; deleted; read {id} (the user's own receipt);
    ack {request, ok: true, result} | ack {request, ok: false, error, status}; error {error}.
    A subscribe's result is {thread, cursor}, or {thread, ended: true} when a removed/deleted
    frame ended it, or {thread, deleted: true}.
close codes
    4401: the session is gone (signed out, password changed elsewhere, deactivated, expired):
    sign in again. 1009: a frame over the server's limit (1 MiB): reconnect. 4400: more than 20
    malformed frames in 10 s (a page never sends one); that session's handshakes are then refused
    (403) for 30 s.

Event kinds and their data are listed in ``chat.relay.events``; what a viewer is sent of them
in ``chat.relay.render``. ``message.reactions`` {messageId, reactions [{emoji, count, users
[rawId], names [name]}], markup} carries all of one message's reactions (replace, never add);
a viewer who cannot see the message never gets it. Messages carry ``reply`` {id, permalink,
name, text} or {id, permalink, hidden: true} ("a message you can't see": before the viewer's
history, deleted or unknown) and ``mentions`` [rawId].

Bad frames (not JSON, too deep, wrong types, text that is not valid Unicode, NUL characters)
get an error or a failed ack, and the socket keeps working. Statuses in failed acks follow HTTP:
400 bad frame, 403/404 refused, 409 the same send is still in progress, 503 busy or ACS
unavailable (try again; a send with a client id is never doubled).

Actions run the same checks as the pages, with the user's own token, in order per connection
but beside the live events (a slow send does not hold up what the page is shown). The work
lives in ``chat.relay.subscription`` (subscribe, replay, delivery) and ``chat.actions.live``.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
from collections import deque
from collections.abc import Awaitable, Callable
from typing import Any

from channels.generic.websocket import AsyncJsonWebsocketConsumer
from django.conf import settings
from django.http import Http404
from django.utils import translation
from django.utils.translation import gettext as _
from django.utils.translation.trans_real import parse_accept_lang_header

from chat import gateway, sessions
from chat.actions import ActionError, ChatUnavailable, acs_call, check_text, reactions
from chat.actions import live as actions
from chat.actions.messages import MESSAGE_MAX_LENGTH
from chat.attachments import base_url_of_scope
from chat.db import run_db
from chat.people import load_profile, raw_id_of
from chat.relay.subscription import SubscribeRefused, Subscriptions
from chat.types import history_start

logger = logging.getLogger(__name__)

# A frame carries at most one message; JSON may escape each character as six (\uXXXX).
MAX_FRAME_CHARS = 6 * MESSAGE_MAX_LENGTH + 4096
MAX_REQUEST_ID = 64
# ACS allows 5 typing notifications per user and thread per 10 s; pages send one per 8 s, and
# anything faster is dropped here rather than turned into 429s.
TYPING_MIN_INTERVAL = 3.0
# Actions waiting their turn on one connection; beyond this a frame is refused as busy.
MAX_QUEUED_ACTIONS = 32
# An action that has not finished in this long is answered "busy, try again".
ACTION_TIMEOUT = 15.0
# Past this many actions in progress in the process, typing and read receipts are shed (they
# are worth least and come back on their own) so that messages keep going through.
SHED_AT = 200
SHEDDABLE = ("typing", "read")
CLOSE_SIGNED_OUT = sessions.CLOSE_SIGNED_OUT
# A page never sends malformed frames; a connection that sends more than this many in
# BAD_FRAME_WINDOW seconds is closed rather than answered forever. (Daphne's WebSocket library
# lets a server close only with 1000 or an application code from 3000 to 4999.)
MAX_BAD_FRAMES = 20
BAD_FRAME_WINDOW = 10.0
CLOSE_BAD_FRAMES = 4400


class FrameError(Exception):
    """A frame the protocol does not allow; the message says what is wrong."""


class _Busy(Exception):
    """Refused for load: the page may try again."""


_in_progress = 0  # actions in progress in this process (all connections)


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
    subs: Subscriptions | None = None
    _worker: asyncio.Task[None] | None = None
    _expiry: asyncio.Task[None] | None = None
    _groups_joined: tuple[str, ...] = ()
    _gone = False

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        # However the connection ends (closed, cancelled, or a failure in a handler), its
        # subscriptions are released, so a thread nobody follows has no poller.
        try:
            await super().__call__(scope, receive, send)
        finally:
            await self._release()

    async def dispatch(self, message: dict) -> None:
        # Frames, acks and rendered events (system messages in words) speak the page's language.
        language = getattr(self, "language", None) or viewer_language(self.scope)
        with translation.override(language):
            await super().dispatch(message)

    async def connect(self) -> None:
        self.language = viewer_language(self.scope)
        self.last_typing: dict[str, float] = {}
        self.bad_frames: deque[float] = deque()
        user = self.scope.get("user")
        await self.accept()
        if user is None or not user.is_authenticated:
            await self._sign_out()
            return
        self.user = user
        self.session_key = getattr(self.scope.get("session"), "session_key", None)
        self.checked_at = time.monotonic()
        self.me = await run_db(raw_id_of, user)
        # The actions name the user (display_name, read from their profile) on the event loop,
        # where no query may run: read it now. A name changed meanwhile applies from the next
        # connection on.
        await run_db(load_profile, user)
        self.subs = Subscriptions(
            me=self.me,
            channel_name=self.channel_name,
            layer=self.channel_layer,
            send=self.send_json,
            read_members=lambda thread_id: gateway.athread(user, thread_id).list_participants(),
        )
        self._groups_joined = (sessions.user_group(user.pk),) + (
            (sessions.session_group(self.session_key),) if self.session_key else ()
        )
        for group in self._groups_joined:
            await self.channel_layer.group_add(group, self.channel_name)
        self.queue: asyncio.Queue[tuple[Any, Any]] = asyncio.Queue(MAX_QUEUED_ACTIONS)
        self._worker = asyncio.create_task(self._work(), name="chat actions")
        self._expiry = asyncio.create_task(self._watch_expiry(), name="session expiry")

    async def disconnect(self, code: int) -> None:
        await self._release()

    async def _release(self) -> None:
        self._gone = True
        for task in (self._worker, self._expiry):
            if task is not None and task is not asyncio.current_task():
                task.cancel()
                with contextlib.suppress(BaseException):
                    await task
        self._worker = self._expiry = None
        groups, self._groups_joined = self._groups_joined, ()
        for group in groups:
            with contextlib.suppress(Exception):
                await self.channel_layer.group_discard(group, self.channel_name)
        if self.subs is not None:
            subs, self.subs = self.subs, None
            await subs.close()

    # --- The session ---------------------------------------------------------------------------

    async def _sign_out(self) -> None:
        self._gone = True
        await self.close(code=CLOSE_SIGNED_OUT)

    async def _still_signed_in(self) -> bool:
        self.checked_at = time.monotonic()
        user_id = await run_db(sessions.signed_in_user_id, self.session_key)
        return user_id is not None and user_id == self.user.pk

    async def session_ended(self, message: dict) -> None:
        """The socket's session was signed out (group message ``session.ended``)."""
        await self._sign_out()

    async def session_check(self, message: dict) -> None:
        """The user's credentials changed (group message ``session.check``)."""
        if not await self._still_signed_in():
            await self._sign_out()

    async def _watch_expiry(self) -> None:
        while True:
            left = await run_db(sessions.expiry_seconds, self.session_key)
            if left is None or left <= 0:
                await self._sign_out()
                return
            await asyncio.sleep(left + 1)
            if not await self._still_signed_in():
                await self._sign_out()
                return

    # --- Frames in -------------------------------------------------------------------------------

    async def receive(self, text_data: str | None = None, bytes_data: bytes | None = None) -> None:
        if self._gone:
            return
        if text_data is None:
            await self._refuse(None, _("Frames must be JSON text."), 400)
            return
        if len(text_data) > MAX_FRAME_CHARS:
            await self._refuse(None, _("The frame is too large."), 400)
            return
        try:
            frame = json.loads(text_data)
        except (ValueError, RecursionError):
            await self._refuse(None, _("The frame is not valid JSON."), 400)
            return
        await self.receive_json(frame)

    async def _refuse(self, request: Any, message: str, status: int) -> None:
        """Answer a malformed frame, or close a connection that keeps sending them."""
        now = time.monotonic()
        self.bad_frames.append(now)
        while self.bad_frames and self.bad_frames[0] < now - BAD_FRAME_WINDOW:
            self.bad_frames.popleft()
        if len(self.bad_frames) > MAX_BAD_FRAMES:
            logger.warning("websocket: closed a connection of user %s sending malformed frames",
                           self.user.pk)  # fmt: skip
            self._gone = True
            # Its session gets no new socket for a while (refused at the handshake).
            await run_db(sessions.penalise, self.session_key)
            await self.close(code=CLOSE_BAD_FRAMES)
            return
        await self._fail(request, message, status)

    async def receive_json(self, content: Any, **kwargs: Any) -> None:
        request = None
        try:
            if not isinstance(content, dict):
                raise FrameError(_("A frame must be a JSON object."))
            request = _request_id(content)
            action = content.get("action")
            if not isinstance(action, str) or action not in ACTIONS:
                raise FrameError(_("Unknown action."))
            if action in SHEDDABLE and _in_progress >= SHED_AT:
                raise _Busy
            self.queue.put_nowait((request, content))
        except FrameError as error:
            await self._refuse(request, str(error), 400)
        except (_Busy, asyncio.QueueFull):
            await self._fail(request, _("Kwebbel is busy. Try again in a moment."), 503)

    async def _work(self) -> None:
        """Run the connection's actions one after the other (a page's sends stay in order)."""
        while True:
            request, frame = await self.queue.get()
            with translation.override(self.language):
                await self._act(request, frame)

    async def _act(self, request: Any, frame: dict) -> None:
        global _in_progress
        due = time.monotonic() - self.checked_at > sessions.RECHECK_EVERY
        if due and not await self._still_signed_in():
            await self._sign_out()
            return
        if self._gone:
            return
        _in_progress += 1
        try:
            handler = ACTIONS[frame["action"]]
            thread_id = "" if frame["action"] == "ping" else _text(frame, "thread")
            async with asyncio.timeout(ACTION_TIMEOUT):
                result = await handler(self, thread_id, frame)
        except FrameError as error:
            await self._refuse(request, str(error), 400)
        except Http404 as error:
            await self._fail(request, str(error) or _("No such conversation."), 404)
        except (ActionError, SubscribeRefused) as error:
            await self._fail(request, error.message, error.status)
        except (ChatUnavailable, gateway.GatewayError, TimeoutError):
            logger.warning("chat service unavailable or slow", exc_info=True)
            await self._fail(request, _("The chat service did not answer. Try again."), 503)
        except Exception:
            # One failed action must not close a connection that carries every open thread.
            logger.exception("websocket action failed")
            await self._fail(request, _("Something went wrong. Try again."), 500)
        else:
            if request is not None:
                await self.send_json(
                    {"type": "ack", "request": request, "ok": True, "result": result}
                )
        finally:
            _in_progress -= 1

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

    def _access(self, thread_id: str) -> actions.LiveAccess:
        sub = self.subs.get(thread_id) if self.subs else None
        start = sub.viewer.history_start if sub else None
        return actions.live_access(self.user, self.me, thread_id, start)

    async def _access_with_start(self, thread_id: str) -> actions.LiveAccess:
        """As `_access`, with the history start read from ACS when the thread is not followed."""
        access = self._access(thread_id)
        if self.subs and self.subs.get(thread_id):
            return access
        with acs_call(not_found_is_404=True):
            participants = await access.thread.list_participants()
        return actions.live_access(
            self.user, self.me, thread_id, history_start(participants, self.me)
        )

    async def action_subscribe(self, thread_id: str, frame: dict) -> dict:
        cursor = frame.get("cursor")
        if cursor is not None and (type(cursor) is not int or cursor < 0):
            raise FrameError(_("The cursor must be a whole number or null."))
        self._access(thread_id)  # refuses what cannot be a thread id
        return await self.subs.subscribe(thread_id, cursor)

    async def action_unsubscribe(self, thread_id: str, frame: dict) -> dict:
        await self.subs.unsubscribe(thread_id)
        return {"thread": thread_id}

    async def action_send(self, thread_id: str, frame: dict) -> dict:
        _require_request(frame)
        # Ids of the user's uploads (POST .../attachments/); with them the text may be empty.
        attachments = frame.get("attachments")
        if attachments is not None and not isinstance(attachments, list):
            raise FrameError(_("Attachments must be a list of attachment ids."))
        if attachments and frame.get("content") == "":
            content = ""
        else:
            content = _text(frame, "content", limit=MESSAGE_MAX_LENGTH)
        kind = frame.get("format", "text")
        if kind not in ("text", "html"):
            raise FrameError(_("Unknown message format."))
        client_id = frame.get("clientId")
        if client_id is not None and not isinstance(client_id, str):
            raise FrameError(_("Invalid client id."))
        reply_to = frame.get("replyTo")
        if reply_to is not None and not isinstance(reply_to, str):
            raise FrameError(_("The replyTo field must be a message id."))
        message_id = await actions.do_send_message(
            self._access(thread_id),
            content,
            kind,
            client_id,
            reply_to,
            attachments=attachments,
            base_url=base_url_of_scope(self.scope),
        )
        return {"id": message_id, "clientId": client_id}

    async def action_edit(self, thread_id: str, frame: dict) -> dict:
        _require_request(frame)
        message_id = _text(frame, "message")
        content = _text(frame, "content", limit=MESSAGE_MAX_LENGTH)
        await actions.do_edit_message(await self._access_with_start(thread_id), message_id, content)
        return {"id": message_id}

    async def action_delete(self, thread_id: str, frame: dict) -> dict:
        _require_request(frame)
        message_id = _text(frame, "message")
        await actions.do_delete_message(await self._access_with_start(thread_id), message_id)
        return {"id": message_id}

    async def action_react(self, thread_id: str, frame: dict) -> dict:
        _require_request(frame)
        message_id = _text(frame, "message")
        emoji = _text(frame, "emoji", limit=16)
        on = frame.get("on")
        if not isinstance(on, bool):
            raise FrameError(_("The field on must be true or false."))
        access = await self._access_with_start(thread_id)
        reacted = await reactions.ado_react(access, message_id, emoji, on)
        return {"id": message_id, "emoji": emoji, "on": reacted.on}

    async def action_typing(self, thread_id: str, frame: dict) -> dict:
        now = time.monotonic()
        if now - self.last_typing.get(thread_id, -TYPING_MIN_INTERVAL) < TYPING_MIN_INTERVAL:
            return {"sent": False}
        self.last_typing[thread_id] = now
        await actions.do_send_typing(self._access(thread_id), self.channel_layer)
        return {"sent": True}

    async def action_ping(self, thread_id: str, frame: dict) -> dict:
        return {}

    async def action_read(self, thread_id: str, frame: dict) -> dict:
        message_id = _text(frame, "message")
        await actions.do_send_read_receipt(self._access(thread_id), message_id)
        return {"id": message_id}

    # --- Events out ------------------------------------------------------------------------------

    async def relay_event(self, message: dict) -> None:
        """A live event from the relay (group message `relay.event`)."""
        if self.subs is not None and not self._gone:
            await self._deliver(self.subs.relay_event(message), message)

    async def relay_typing(self, message: dict) -> None:
        """Someone is typing (group message `relay.typing`; not logged, no cursor of its own)."""
        if self.subs is not None and not self._gone:
            await self.subs.relay_typing(message)

    async def relay_inbox(self, message: dict) -> None:
        """A change in one of the user's threads (group message `relay.inbox`)."""
        if self.subs is not None and not self._gone:
            await self._deliver(self.subs.relay_inbox(message), message)

    async def _deliver(self, delivery: Awaitable[None], message: dict) -> None:
        try:
            await delivery
        except Exception:
            # The page can always catch up from its cursor; a reload is the safe way back.
            logger.exception("relay: delivery to a socket failed")
            with contextlib.suppress(Exception):
                await self.send_json({"type": "resync", "thread": message.get("thread")})


Action = Callable[[ChatConsumer, str, dict], Awaitable[dict]]
ACTIONS: dict[str, Action] = {
    "subscribe": ChatConsumer.action_subscribe,
    "unsubscribe": ChatConsumer.action_unsubscribe,
    "send": ChatConsumer.action_send,
    "edit": ChatConsumer.action_edit,
    "delete": ChatConsumer.action_delete,
    "react": ChatConsumer.action_react,
    "typing": ChatConsumer.action_typing,
    "read": ChatConsumer.action_read,
    "ping": ChatConsumer.action_ping,
}


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
    try:
        check_text(value, key)
    except ActionError as error:
        raise FrameError(error.message) from error
    return value
