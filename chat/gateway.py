"""The ACS chat gateway: the one module that knows the Chat SDK.

Everything past this module speaks Kwebbel's own types (``chat.types``) and sees one error,
:class:`GatewayError`, whatever the SDK raised (HTTP errors, no answer, or an answer it could
not deserialise). Two flavours of the same operations:

* :class:`ChatThread` / :class:`Chat` (sync SDK) for the pages, which are sync Django views;
* :class:`AsyncChatThread` / :class:`AsyncChat` (``azure.communication.chat.aio``) for the live
  path: websocket actions and the relay's pollers run on the event loop, so a slow ACS call for
  one user never holds up anyone else.

Both act for a *principal*: a site user (their own server-side ``chat`` token, which never
leaves the server) or Kwebbel's service identity. A 401 from ACS means the token was revoked
elsewhere (another device signed out, an admin revoked it): the call gets a fresh token and is
made once more, so the user never sees it fail.

Connections are reused. SDK clients are cached per principal and thread; every sync client
shares one ``requests`` session and every async client shares one aiohttp session per event
loop, with one SSL context per process. (Left to themselves, the async clients build a new SSL
context for every request when given a CA bundle, which defeats aiohttp's connection pool: a
TLS handshake per call. ``trust_env`` is off, which also spares reading ``~/.netrc`` per
request; proxies from the environment are therefore not used.) Caches are dropped when an
``ACS_*`` setting changes.

``ChatClient.get_chat_thread_client`` passes on only the keyword arguments of that call, not the
ChatClient's (the SDK pitfall in the README), so thread clients are built directly here.
"""

from __future__ import annotations

import asyncio
import ssl
import threading
import weakref
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from functools import partial
from typing import Any, TypeVar

import aiohttp
import requests
from azure.communication.chat import (
    ChatClient,
    ChatParticipant,
    ChatThreadClient,
    CommunicationTokenCredential,
    CommunicationUserIdentifier,
)
from azure.communication.chat.aio import ChatClient as AioChatClient
from azure.communication.chat.aio import ChatThreadClient as AioChatThreadClient
from azure.communication.chat.aio import (
    CommunicationTokenCredential as AioCommunicationTokenCredential,
)
from azure.core.credentials import AccessToken
from azure.core.exceptions import (
    AzureError,
    ClientAuthenticationError,
    DeserializationError,
    HttpResponseError,
    SerializationError,
)
from azure.core.pipeline.transport import AioHttpTransport, RequestsTransport
from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser
from django.core.signals import setting_changed
from django.dispatch import receiver

from chat.db import run_db
from chat.types import (
    AddFailure,
    CreatedThread,
    Message,
    Page,
    Participant,
    ReadReceipt,
    ThreadItem,
    ThreadProperties,
)
from tokens import acs, services

T = TypeVar("T")

# Cached SDK clients per process (sync) or per event loop (async); least recently used go first.
MAX_CACHED_CLIENTS = 1024

# How the SDK retries, per purpose. Pages: the SDK's defaults (3 retries). Websocket actions:
# one retry and short time-outs, so a send is answered within a bounded time even when ACS is
# slow. The relay's pollers: no retries at all, they own their backoff (see chat.relay.poller).
PURPOSES: dict[str, dict[str, Any]] = {
    "page": {"read_timeout": 30, "connection_timeout": 10},
    "action": {
        "retry_total": 1,
        "retry_backoff_max": 2,
        "read_timeout": 10,
        "connection_timeout": 5,
    },
    "poll": {"retry_total": 0, "read_timeout": 10, "connection_timeout": 5},
}


class GatewayError(Exception):
    """ACS refused a call, did not answer, or answered with something unreadable.

    ``status`` is the HTTP status (None when there was no usable answer), ``code`` ACS's error
    code (or one of Kwebbel's: ``Unreachable``, ``InvalidResponse``), ``message`` what ACS said.
    """

    def __init__(
        self, status: int | None, code: str, message: str, *, retry_after: float | None = None
    ) -> None:
        super().__init__(f"{status or '-'} {code}: {message}")
        self.status = status
        self.code = code
        self.message = message
        self.retry_after = retry_after

    @property
    def not_found(self) -> bool:
        return self.status == 404

    @property
    def forbidden(self) -> bool:
        return self.status == 403

    @property
    def unavailable(self) -> bool:
        """ACS is busy or down (or unreachable): trying again later may work."""
        return self.status is None or self.status == 429 or self.status >= 500

    @property
    def refused(self) -> bool:
        """ACS refused this request as such (a 4xx other than throttling)."""
        return self.status is not None and 400 <= self.status < 500 and self.status != 429


def _retry_after(error: HttpResponseError) -> float | None:
    """Seconds from ``retry-after-ms``/``x-ms-retry-after-ms``/``Retry-After``, if any."""
    headers = getattr(error.response, "headers", None) or {}
    for name, scale in (
        ("retry-after-ms", 1000),
        ("x-ms-retry-after-ms", 1000),
        ("retry-after", 1),
    ):
        value = headers.get(name)
        if value is not None:
            try:
                return max(0.0, float(value) / scale)
            except ValueError:
                continue  # an HTTP date; ACS sends seconds
    return None


def translate(error: BaseException) -> GatewayError:
    """The GatewayError for anything the SDK raises."""
    if isinstance(error, HttpResponseError) and error.status_code is not None:
        detail = getattr(error, "error", None)
        return GatewayError(
            error.status_code,
            getattr(detail, "code", None) or str(error.status_code),
            getattr(detail, "message", None) or error.reason or str(error.status_code),
            retry_after=_retry_after(error),
        )
    if isinstance(error, DeserializationError | SerializationError):
        # E.g. a timestamp the SDK cannot parse: a ValueError, not an AzureError.
        return GatewayError(None, "InvalidResponse", f"ACS answered with unreadable data: {error}")
    return GatewayError(None, "Unreachable", str(error) or type(error).__name__)


@contextmanager
def _translated() -> Iterator[None]:
    try:
        yield
    except (AzureError, DeserializationError, SerializationError) as error:
        raise translate(error) from error
    except services.AcsError as error:
        # No token for the principal (the Identity service failed or is not configured).
        raise GatewayError(None, "TokenUnavailable", str(error)) from error


# --- SDK models to Kwebbel's types ---------------------------------------------------------------


def _raw(identifier: Any) -> str | None:
    return getattr(identifier, "raw_id", None)


def _number(value: Any) -> int | None:
    return int(value) if value is not None and str(value).isdigit() else None


def _participant(p: Any) -> Participant:
    return Participant(_raw(p.identifier) or "", p.display_name, p.share_history_time)


def _message(m: Any) -> Message:
    content = m.content
    return Message(
        id=str(m.id),
        type=str(getattr(m.type, "value", m.type)),
        created_on=m.created_on,
        sequence_id=_number(m.sequence_id),
        version=_number(m.version),
        edited_on=m.edited_on,
        deleted_on=m.deleted_on,
        sender_id=_raw(m.sender),
        sender_display_name=m.sender_display_name,
        body=(getattr(content, "message", None) or "") if content else "",
        metadata=dict(m.metadata or {}),
        topic=getattr(content, "topic", None) if content else None,
        initiator_id=_raw(getattr(content, "initiator", None)) if content else None,
        participants=tuple(_participant(p) for p in (getattr(content, "participants", None) or [])),
    )


def _receipt(r: Any) -> ReadReceipt:
    return ReadReceipt(_raw(r.sender) or "", str(r.chat_message_id), r.read_on)


def _properties(p: Any) -> ThreadProperties:
    return ThreadProperties(str(p.id), p.topic or "", p.created_on, _raw(p.created_by))


def _thread_item(t: Any) -> ThreadItem:
    return ThreadItem(str(t.id), t.topic or "", t.deleted_on, t.last_message_received_on)


def _sdk_participant(p: Participant) -> ChatParticipant:
    return ChatParticipant(
        identifier=CommunicationUserIdentifier(p.raw_id),
        display_name=p.display_name,
        share_history_time=p.share_history_time,
    )


def _failures(errors: Any) -> tuple[AddFailure, ...]:
    """The SDK's [(ChatParticipant, ChatError)] for people ACS did not add."""
    return tuple(
        AddFailure(_raw(p.identifier) or "", getattr(error, "message", "") or "")
        for p, error in errors or []
    )


def _messages_page(pages: Any, first: Any) -> Page[Message]:
    return Page([_message(m) for m in first or []], pages.continuation_token or None)


# --- Principals and connections ------------------------------------------------------------------


@dataclass(frozen=True)
class _Principal:
    """Who a client acts as; ``token(rejected)`` gives a token other than ``rejected``."""

    key: tuple[Any, ...]
    token: Callable[[str | None], services.AcsToken]


def _user(user: AbstractBaseUser) -> _Principal:
    return _Principal(("user", user.pk), partial(_user_token, user))


def _user_token(user: AbstractBaseUser, rejected: str | None) -> services.AcsToken:
    return services.get_token(user, rejected=rejected)


def _service_token(rejected: str | None) -> services.AcsToken:
    return services.get_service_token(rejected=rejected)


_SERVICE = _Principal(("service",), _service_token)


def _access_token(token: services.AcsToken) -> AccessToken:
    return AccessToken(token.token, int(token.expires_on.timestamp()))


class _Connections:
    """The process's TLS context and HTTP sessions (rebuilt after a settings change)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._ssl: ssl.SSLContext | None = None
        self._requests: requests.Session | None = None
        self.generation = 0

    def reset(self) -> None:
        with self._lock:
            self._ssl = None
            self._requests = None
            self.generation += 1

    def ssl_context(self) -> ssl.SSLContext:
        with self._lock:
            if self._ssl is None:
                self._ssl = ssl.create_default_context(cafile=settings.ACS_CA_BUNDLE or None)
            return self._ssl

    def requests_session(self) -> requests.Session:
        with self._lock:
            if self._requests is None:
                session = requests.Session()
                session.trust_env = False
                self._requests = session
            return self._requests


_connections = _Connections()


class _SharedAioTransport(AioHttpTransport):
    """aiohttp transport on a shared session, with the process's SSL context for every call."""

    def _build_ssl_config(self, cert: Any, verify: Any) -> ssl.SSLContext:
        return _connections.ssl_context()


def _sync_options(purpose: str) -> dict[str, Any]:
    transport = RequestsTransport(
        session=_connections.requests_session(), session_owner=False, **acs.client_options()
    )
    return {"transport": transport, **PURPOSES[purpose]}


# --- Sync clients (pages) ------------------------------------------------------------------------


@dataclass
class _Entry:
    client: Any
    token: str


class _SyncCache:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._entries: OrderedDict[tuple[Any, ...], _Entry] = OrderedDict()

    def reset(self) -> None:
        with self._lock:
            self._entries.clear()

    def get(
        self, principal: _Principal, thread_id: str | None, purpose: str, rejected: str | None
    ) -> _Entry:
        key = (*principal.key, thread_id, purpose)
        with self._lock:
            entry = self._entries.get(key)
            if entry is not None and entry.token != rejected:
                self._entries.move_to_end(key)
                return entry
        token = principal.token(rejected)
        credential = CommunicationTokenCredential(
            token.token, token_refresher=lambda: _access_token(principal.token(None))
        )
        options = _sync_options(purpose)
        if thread_id is None:
            client: Any = ChatClient(acs.endpoint(), credential, **options)
        else:
            client = ChatThreadClient(acs.endpoint(), credential, thread_id, **options)
        entry = _Entry(client, token.token)
        with self._lock:
            self._entries[key] = entry
            while len(self._entries) > MAX_CACHED_CLIENTS:
                self._entries.popitem(last=False)
        return entry


_sync_cache = _SyncCache()


class _SyncClient:
    def __init__(self, principal: _Principal, thread_id: str | None, purpose: str) -> None:
        self._principal = principal
        self._thread_id = thread_id
        self._purpose = purpose

    def _call(self, call: Callable[[Any], T]) -> T:
        with _translated():
            entry = _sync_cache.get(self._principal, self._thread_id, self._purpose, None)
            try:
                return call(entry.client)
            except ClientAuthenticationError:
                # Revoked elsewhere: once more with a token other than the rejected one.
                entry = _sync_cache.get(
                    self._principal, self._thread_id, self._purpose, entry.token
                )
                return call(entry.client)


class ChatThread(_SyncClient):
    """One thread, acting as one principal (ChatThread_* operations)."""

    def __init__(self, principal: _Principal, thread_id: str, purpose: str = "page") -> None:
        super().__init__(principal, thread_id, purpose)
        self.thread_id = thread_id

    def get_properties(self) -> ThreadProperties:
        return self._call(lambda c: _properties(c.get_properties()))

    def update_topic(self, topic: str) -> None:
        self._call(lambda c: c.update_topic(topic))

    def list_messages(self, page_size: int, continuation: str | None = None) -> Page[Message]:
        def call(c: ChatThreadClient) -> Page[Message]:
            pages = c.list_messages(results_per_page=page_size).by_page(continuation)
            return _messages_page(pages, next(pages, None))

        return self._call(call)

    def get_message(self, message_id: str) -> Message:
        return self._call(lambda c: _message(c.get_message(message_id)))

    def send_message(
        self, content: str, kind: str, *, display_name: str, metadata: dict[str, str] | None
    ) -> str:
        return self._call(
            lambda c: (
                c.send_message(
                    content,
                    chat_message_type=kind,
                    sender_display_name=display_name,
                    metadata=metadata,
                ).id
            )
        )

    def update_message(self, message_id: str, content: str) -> None:
        self._call(lambda c: c.update_message(message_id, content=content))

    def delete_message(self, message_id: str) -> None:
        self._call(lambda c: c.delete_message(message_id))

    def list_participants(self) -> list[Participant]:
        return self._call(lambda c: [_participant(p) for p in c.list_participants()])

    def add_participants(self, participants: list[Participant]) -> tuple[AddFailure, ...]:
        sdk = [_sdk_participant(p) for p in participants]
        return self._call(lambda c: _failures(c.add_participants(sdk)))

    def remove_participant(self, raw_id: str) -> None:
        self._call(lambda c: c.remove_participant(CommunicationUserIdentifier(raw_id)))

    def list_read_receipts(self) -> list[ReadReceipt]:
        return self._call(lambda c: [_receipt(r) for r in c.list_read_receipts()])


class Chat(_SyncClient):
    """Thread-level operations, acting as one principal (Chat_* operations)."""

    def __init__(self, principal: _Principal, purpose: str = "page") -> None:
        super().__init__(principal, None, purpose)

    def create_thread(
        self, topic: str, participants: list[Participant], idempotency_token: str
    ) -> CreatedThread:
        sdk = [_sdk_participant(p) for p in participants]

        def call(c: ChatClient) -> CreatedThread:
            result = c.create_chat_thread(
                topic, thread_participants=sdk, idempotency_token=idempotency_token
            )
            return CreatedThread(str(result.chat_thread.id), _failures(result.errors))

        return self._call(call)

    def list_threads(self, page_size: int, continuation: str | None = None) -> Page[ThreadItem]:
        def call(c: ChatClient) -> Page[ThreadItem]:
            pages = c.list_chat_threads(results_per_page=page_size).by_page(continuation)
            items = [_thread_item(t) for t in next(pages, None) or []]
            return Page(items, pages.continuation_token or None)

        return self._call(call)

    def delete_thread(self, thread_id: str) -> None:
        self._call(lambda c: c.delete_chat_thread(thread_id))


def thread(user: AbstractBaseUser, thread_id: str) -> ChatThread:
    """A thread acting as ``user``, with their own token (creates their identity if needed)."""
    return ChatThread(_user(user), thread_id)


def chat(user: AbstractBaseUser) -> Chat:
    return Chat(_user(user))


def service_thread(thread_id: str) -> ChatThread:
    """A thread acting as Kwebbel's service identity (staff pages, the admin)."""
    return ChatThread(_SERVICE, thread_id)


def service_chat() -> Chat:
    return Chat(_SERVICE)


# --- Async clients (the live path) ---------------------------------------------------------------


class _LoopPool:
    """The aiohttp session and the SDK clients of one event loop."""

    def __init__(self, generation: int) -> None:
        self.generation = generation
        self.session: aiohttp.ClientSession | None = None
        self.entries: OrderedDict[tuple[Any, ...], _Entry] = OrderedDict()

    def http_session(self) -> aiohttp.ClientSession:
        if self.session is None or self.session.closed:
            self.session = aiohttp.ClientSession(
                connector=aiohttp.TCPConnector(limit=200, ssl=_connections.ssl_context()),
                trust_env=False,
                cookie_jar=aiohttp.DummyCookieJar(),
                auto_decompress=False,
            )
        return self.session

    async def get(
        self, principal: _Principal, thread_id: str | None, purpose: str, rejected: str | None
    ) -> _Entry:
        key = (*principal.key, thread_id, purpose)
        entry = self.entries.get(key)
        if entry is not None and entry.token != rejected:
            self.entries.move_to_end(key)
            return entry
        token = await run_db(principal.token, rejected)

        async def refresh() -> AccessToken:
            return _access_token(await run_db(principal.token, None))

        credential = AioCommunicationTokenCredential(token.token, token_refresher=refresh)
        options = {
            "transport": _SharedAioTransport(session=self.http_session(), session_owner=False),
            **PURPOSES[purpose],
        }
        if thread_id is None:
            client: Any = AioChatClient(acs.endpoint(), credential, **options)
        else:
            client = AioChatThreadClient(acs.endpoint(), credential, thread_id, **options)
        entry = _Entry(client, token.token)
        old = self.entries.get(key)
        self.entries[key] = entry
        self.entries.move_to_end(key)
        if old is not None:
            _close_later(old.client)
        while len(self.entries) > MAX_CACHED_CLIENTS:
            _close_later(self.entries.popitem(last=False)[1].client)
        return entry

    async def close(self) -> None:
        entries, self.entries = list(self.entries.values()), OrderedDict()
        for entry in entries:
            await entry.client.close()
        if self.session is not None:
            await self.session.close()
            self.session = None


def _close_later(client: Any) -> None:
    # The shared session stays open (session_owner=False): closing a client only ends its pipeline.
    asyncio.get_running_loop().create_task(client.close())


_pools: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, _LoopPool] = (
    weakref.WeakKeyDictionary()
)


def _pool() -> _LoopPool:
    loop = asyncio.get_running_loop()
    pool = _pools.get(loop)
    if pool is None or pool.generation != _connections.generation:
        if pool is not None:
            loop.create_task(pool.close())
        pool = _pools[loop] = _LoopPool(_connections.generation)
    return pool


class _AsyncClient:
    def __init__(self, principal: _Principal, thread_id: str | None, purpose: str) -> None:
        self._principal = principal
        self._thread_id = thread_id
        self._purpose = purpose

    async def _call(self, call: Callable[[Any], Awaitable[T]]) -> T:
        pool = _pool()
        with _translated():
            entry = await pool.get(self._principal, self._thread_id, self._purpose, None)
            try:
                return await call(entry.client)
            except ClientAuthenticationError:
                entry = await pool.get(self._principal, self._thread_id, self._purpose, entry.token)
                return await call(entry.client)


async def _first_page(pages: Any) -> list[Any]:
    try:
        page = await pages.__anext__()
    except StopAsyncIteration:
        return []
    return [item async for item in page]


class AsyncChatThread(_AsyncClient):
    """One thread, acting as one principal, on the running event loop."""

    def __init__(self, principal: _Principal, thread_id: str, purpose: str = "action") -> None:
        super().__init__(principal, thread_id, purpose)
        self.thread_id = thread_id

    async def get_properties(self) -> ThreadProperties:
        async def call(c: AioChatThreadClient) -> ThreadProperties:
            return _properties(await c.get_properties())

        return await self._call(call)

    async def update_topic(self, topic: str) -> None:
        await self._call(lambda c: c.update_topic(topic))

    async def list_messages(
        self,
        page_size: int,
        continuation: str | None = None,
        *,
        start_time: datetime | None = None,
    ) -> Page[Message]:
        """One page, newest first; ``start_time`` keeps messages created at or after it."""

        async def call(c: AioChatThreadClient) -> Page[Message]:
            pages = c.list_messages(results_per_page=page_size, start_time=start_time).by_page(
                continuation
            )
            return _messages_page(pages, await _first_page(pages))

        return await self._call(call)

    async def get_message(self, message_id: str) -> Message:
        async def call(c: AioChatThreadClient) -> Message:
            return _message(await c.get_message(message_id))

        return await self._call(call)

    async def send_message(
        self, content: str, kind: str, *, display_name: str, metadata: dict[str, str] | None
    ) -> str:
        async def call(c: AioChatThreadClient) -> str:
            result = await c.send_message(
                content, chat_message_type=kind, sender_display_name=display_name, metadata=metadata
            )
            return result.id

        return await self._call(call)

    async def update_message(self, message_id: str, content: str) -> None:
        await self._call(lambda c: c.update_message(message_id, content=content))

    async def delete_message(self, message_id: str) -> None:
        await self._call(lambda c: c.delete_message(message_id))

    async def list_participants(self) -> list[Participant]:
        async def call(c: AioChatThreadClient) -> list[Participant]:
            return [_participant(p) async for p in c.list_participants()]

        return await self._call(call)

    async def list_read_receipts(self) -> list[ReadReceipt]:
        async def call(c: AioChatThreadClient) -> list[ReadReceipt]:
            return [_receipt(r) for r in await _first_page(c.list_read_receipts().by_page())]

        return await self._call(call)

    async def send_typing(self, display_name: str) -> None:
        await self._call(lambda c: c.send_typing_notification(sender_display_name=display_name))

    async def send_read_receipt(self, message_id: str) -> None:
        await self._call(lambda c: c.send_read_receipt(message_id))


class AsyncChat(_AsyncClient):
    """Thread-level operations on the running event loop."""

    def __init__(self, principal: _Principal, purpose: str = "action") -> None:
        super().__init__(principal, None, purpose)

    async def delete_thread(self, thread_id: str) -> None:
        await self._call(lambda c: c.delete_chat_thread(thread_id))


def athread(user: AbstractBaseUser, thread_id: str) -> AsyncChatThread:
    """A thread acting as ``user``, for websocket actions."""
    return AsyncChatThread(_user(user), thread_id)


def service_poll_thread(thread_id: str) -> AsyncChatThread:
    """A thread acting as the service identity, without SDK retries (the relay's pollers)."""
    return AsyncChatThread(_SERVICE, thread_id, "poll")


async def aclose() -> None:
    """Close the running loop's clients and HTTP session (tests; shutdown)."""
    pool = _pools.pop(asyncio.get_running_loop(), None)
    if pool is not None:
        await pool.close()


def reset() -> None:
    """Forget every cached client and connection (tests; configuration changes)."""
    _sync_cache.reset()
    _connections.reset()


@receiver(setting_changed)
def _on_setting_changed(*, setting: str, **kwargs: Any) -> None:
    if setting.startswith("ACS_"):
        reset()


__all__ = [
    "AsyncChat",
    "AsyncChatThread",
    "Chat",
    "ChatThread",
    "GatewayError",
    "aclose",
    "athread",
    "chat",
    "reset",
    "service_chat",
    "service_poll_thread",
    "service_thread",
    "thread",
    "translate",
]
