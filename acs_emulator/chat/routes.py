"""HTTP side of the chat service: parse the request, call the store, render the spec's shape.

Route names are the spec's operationIds; the app's middlewares (api-version, bearer token, scopes,
faults, counters) key on them, so handlers only read ``request["principal"].raw_id``.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from urllib.parse import quote

from aiohttp import web

from ..errors import bad_request, unauthorized
from ..http import empty_response, json_response, parse_time, query_int, read_json
from . import parse, render
from .models import MAX_MS, MIN_MS, from_ms
from .paging import page_response, state_int, sync_state
from .store import ChatStore

# Emulator choices: the real default page sizes are not documented; 200 is the documented maximum
# page size for messages and is used for every list.
DEFAULT_PAGE_SIZE = 100
MAX_PAGE_SIZE = 200
MAX_SKIP = 2**31 - 1
MAX_REPEATABILITY_ID_LENGTH = 256


class ChatRoutes:
    def __init__(self, store: ChatStore, clock: Callable[[], datetime]) -> None:
        self.store = store
        self.clock = clock

    def register(self, router: web.UrlDispatcher) -> None:
        """Add the 16 operations, each named by its operationId."""
        t = "/chat/threads/{chatThreadId}"
        m = t + "/messages/{chatMessageId}"
        operations = {
            "Chat_CreateChatThread": ("POST", "/chat/threads", self.create_chat_thread),
            "Chat_ListChatThreads": ("GET", "/chat/threads", self.list_chat_threads),
            "Chat_DeleteChatThread": ("DELETE", t, self.delete_chat_thread),
            "ChatThread_GetChatThreadProperties": ("GET", t, self.get_thread),
            "ChatThread_UpdateChatThreadProperties": ("PATCH", t, self.update_thread),
            "ChatThread_SendChatMessage": ("POST", t + "/messages", self.send_message),
            "ChatThread_ListChatMessages": ("GET", t + "/messages", self.list_messages),
            "ChatThread_GetChatMessage": ("GET", m, self.get_message),
            "ChatThread_UpdateChatMessage": ("PATCH", m, self.update_message),
            "ChatThread_DeleteChatMessage": ("DELETE", m, self.delete_message),
            "ChatThread_ListChatParticipants": ("GET", t + "/participants", self.list_participants),
            "ChatThread_AddChatParticipants": (
                "POST",
                t + "/participants/:add",
                self.add_participants,
            ),
            "ChatThread_RemoveChatParticipant": (
                "POST",
                t + "/participants/:remove",
                self.remove_participant,
            ),
            "ChatThread_SendTypingNotification": ("POST", t + "/typing", self.send_typing),
            "ChatThread_SendChatReadReceipt": ("POST", t + "/readReceipts", self.send_receipt),
            "ChatThread_ListChatReadReceipts": ("GET", t + "/readReceipts", self.list_receipts),
        }
        for name, (method, path, handler) in operations.items():
            router.add_route(method, path, handler, name=name)

    # -- threads ------------------------------------------------------------------------------

    async def create_chat_thread(self, request: web.Request) -> web.Response:
        topic, participants = parse.create_chat_thread(await read_json(request))
        result = self.store.create_chat_thread(
            _caller(request),
            topic=topic,
            participants=participants,
            repeatability_request_id=_repeatability_id(request),
            now=self.clock(),
        )
        location = f"{_base(request)}/chat/threads/{quote(result.thread.id, safe='@')}"
        return json_response(
            render.create_thread_result(result), status=201, headers={"Location": location}
        )

    async def list_chat_threads(self, request: web.Request) -> web.Response:
        state = sync_state(request)
        if state is None:
            page = self.store.list_chat_threads(
                _caller(request),
                max_page_size=_page_size(request),
                start_time=_start_time(request),
            )
        else:
            page = self.store.list_chat_threads(
                _caller(request),
                max_page_size=state_int(state, "maxPageSize", 1, MAX_PAGE_SIZE),
                start_time=from_ms(state_int(state, "startTime", MIN_MS, MAX_MS)),
                before_activity=state_int(state, "before", 1, 2**62),
            )
        return page_response(request, [render.thread_item(t) for t in page.items], page.next_state)

    async def delete_chat_thread(self, request: web.Request) -> web.Response:
        self.store.delete_chat_thread(_thread_id(request), _caller(request), now=self.clock())
        return empty_response(204)

    async def get_thread(self, request: web.Request) -> web.Response:
        thread = self.store.get_chat_thread_properties(_thread_id(request), _caller(request))
        return json_response(render.thread_properties(thread))

    async def update_thread(self, request: web.Request) -> web.Response:
        topic = parse.update_chat_thread(await read_json(request))
        self.store.update_chat_thread_properties(
            _thread_id(request), _caller(request), topic=topic, now=self.clock()
        )
        return empty_response(204)

    # -- messages -----------------------------------------------------------------------------

    async def send_message(self, request: web.Request) -> web.Response:
        fields = parse.send_chat_message(await read_json(request))
        thread_id = _thread_id(request)
        message = self.store.send_chat_message(
            thread_id, _caller(request), now=self.clock(), **fields
        )
        location = (
            f"{_base(request)}/chat/threads/{quote(thread_id, safe='@')}/messages/{message.id}"
        )
        return json_response({"id": message.id}, status=201, headers={"Location": location})

    async def list_messages(self, request: web.Request) -> web.Response:
        state = sync_state(request)
        if state is None:
            page = self.store.list_chat_messages(
                _thread_id(request),
                _caller(request),
                max_page_size=_page_size(request),
                start_time=_start_time(request),
            )
        else:
            start = state.get("startTime")
            if start is not None:
                start = state_int(state, "startTime", MIN_MS, MAX_MS)
            page = self.store.list_chat_messages(
                _thread_id(request),
                _caller(request),
                max_page_size=state_int(state, "maxPageSize", 1, MAX_PAGE_SIZE),
                start_time=None if start is None else from_ms(start),
                before_sequence=state_int(state, "before", 1, 2**62),
            )
        return page_response(request, [render.message(m) for m in page.items], page.next_state)

    async def get_message(self, request: web.Request) -> web.Response:
        message = self.store.get_chat_message(
            _thread_id(request), _caller(request), request.match_info["chatMessageId"]
        )
        return json_response(render.message(message))

    async def update_message(self, request: web.Request) -> web.Response:
        content, metadata = parse.update_chat_message(await read_json(request))
        self.store.update_chat_message(
            _thread_id(request),
            _caller(request),
            request.match_info["chatMessageId"],
            content=content,
            metadata=metadata,
            now=self.clock(),
        )
        return empty_response(204)

    async def delete_message(self, request: web.Request) -> web.Response:
        self.store.delete_chat_message(
            _thread_id(request),
            _caller(request),
            request.match_info["chatMessageId"],
            now=self.clock(),
        )
        return empty_response(204)

    # -- participants -------------------------------------------------------------------------

    async def list_participants(self, request: web.Request) -> web.Response:
        page = self.store.list_chat_participants(
            _thread_id(request),
            _caller(request),
            max_page_size=_page_size(request),
            skip=_skip(request),
        )
        items = [render.participant(p) for p in page.items]
        return page_response(request, items, page.next_state, opaque=False)

    async def add_participants(self, request: web.Request) -> web.Response:
        participants = parse.add_chat_participants(await read_json(request))
        invalid = self.store.add_chat_participants(
            _thread_id(request), _caller(request), participants, now=self.clock()
        )
        body = {"invalidParticipants": render.invalid_participants(invalid)} if invalid else {}
        return json_response(body, status=201)

    async def remove_participant(self, request: web.Request) -> web.Response:
        raw_id = parse.remove_chat_participant(await read_json(request))
        self.store.remove_chat_participant(
            _thread_id(request), _caller(request), raw_id, now=self.clock()
        )
        return empty_response(204)

    # -- typing and read receipts -------------------------------------------------------------

    async def send_typing(self, request: web.Request) -> web.Response:
        name = parse.send_typing_notification(await read_json(request, required=False))
        self.store.send_typing_notification(
            _thread_id(request), _caller(request), sender_display_name=name
        )
        return empty_response(200)

    async def send_receipt(self, request: web.Request) -> web.Response:
        message_id = parse.send_chat_read_receipt(await read_json(request))
        self.store.send_chat_read_receipt(
            _thread_id(request), _caller(request), message_id, now=self.clock()
        )
        return empty_response(200)

    async def list_receipts(self, request: web.Request) -> web.Response:
        page = self.store.list_chat_read_receipts(
            _thread_id(request),
            _caller(request),
            max_page_size=_page_size(request),
            skip=_skip(request),
        )
        items = [render.read_receipt(r) for r in page.items]
        return page_response(request, items, page.next_state, opaque=False)


def _skip(request: web.Request) -> int:
    """The ``skip`` of participant and read-receipt paging (ACS's own nextLinks carry it)."""
    return query_int(request, "skip", default=0, minimum=0, maximum=MAX_SKIP)


def _caller(request: web.Request) -> str | None:
    principal = request.get("principal")
    if principal is None:
        # Only reachable if the app was wired without the authentication middleware.
        raise unauthorized()
    return principal.raw_id


def _thread_id(request: web.Request) -> str:
    return request.match_info["chatThreadId"]


def _base(request: web.Request) -> str:
    return f"{request.scheme}://{request.host}"


def _repeatability_id(request: web.Request) -> str | None:
    value = request.headers.get("repeatability-request-id", "").strip()
    if len(value) > MAX_REPEATABILITY_ID_LENGTH:
        raise bad_request(
            f"'repeatability-request-id' must be at most {MAX_REPEATABILITY_ID_LENGTH} characters.",
            target="repeatability-request-id",
        )
    return value or None


def _page_size(request: web.Request) -> int:
    return query_int(
        request, "maxPageSize", default=DEFAULT_PAGE_SIZE, minimum=1, maximum=MAX_PAGE_SIZE
    )


def _start_time(request: web.Request) -> datetime | None:
    raw = request.query.get("startTime")
    if not raw:
        return None
    # An unescaped "+hh:mm" offset arrives as a space after query decoding.
    return parse_time(raw.replace(" ", "+"), field="startTime")
