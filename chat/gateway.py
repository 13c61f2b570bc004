"""The ACS chat gateway: the only module that builds Chat SDK clients.

Clients act either for a site user or for Kwebbel's service identity, with a
``CommunicationTokenCredential`` that refreshes through ``tokens.services`` and with the
configured CA bundle (``ACS_CA_BUNDLE``) on every client. ``ChatClient.get_chat_thread_client``
passes on only the keyword arguments of that call, not the ChatClient's, so thread clients made
from a chat client must go through :func:`thread_client_for` (or TLS verification against a
private CA fails).

Sync clients are cached per principal (and thread), which saves a TLS handshake per request. Each
call checks the principal's current token (one indexed query) and rebuilds the client when it
changed, so a revocation in any worker is picked up. The cache is dropped when an ``ACS_*``
setting changes. Async clients are context managers, one per use, because their credential's
refresh timer belongs to the running event loop.
"""

import threading
from collections import OrderedDict
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from dataclasses import dataclass
from datetime import datetime
from functools import partial
from typing import Any

from azure.communication.chat import (
    ChatClient,
    ChatParticipant,
    ChatThreadClient,
    CommunicationTokenCredential,
    CommunicationUserIdentifier,
)
from azure.communication.chat.aio import ChatClient as AsyncChatClient
from azure.communication.chat.aio import ChatThreadClient as AsyncChatThreadClient
from azure.communication.chat.aio import (
    CommunicationTokenCredential as AsyncCommunicationTokenCredential,
)
from azure.core.credentials import AccessToken
from channels.db import database_sync_to_async
from django.contrib.auth.models import AbstractBaseUser
from django.core.signals import setting_changed
from django.dispatch import receiver

from tokens import acs, services

__all__ = [
    "AsyncChatClient",
    "AsyncChatThreadClient",
    "ChatClient",
    "ChatThreadClient",
    "async_chat_client",
    "async_service_chat_client",
    "async_service_poll_client",
    "async_service_thread_client",
    "async_thread_client",
    "chat_client",
    "identifier",
    "participant",
    "reset",
    "service_chat_client",
    "service_thread_client",
    "thread_client",
    "thread_client_for",
]

# Cached sync clients across all principals and threads; the least recently used go first.
MAX_CACHED_CLIENTS = 512


@dataclass(frozen=True)
class _Principal:
    key: tuple[Any, ...]
    get_token: Callable[[], services.AcsToken]


def _user(user: AbstractBaseUser) -> _Principal:
    return _Principal(("user", user.pk), partial(services.get_token, user))


def _service() -> _Principal:
    return _Principal(("service",), services.get_service_token)


def _access_token(token: services.AcsToken) -> AccessToken:
    return AccessToken(token.token, int(token.expires_on.timestamp()))


# --- SDK models the rest of chat/ passes to clients -----------------------------------------------


def identifier(communication_user_id: str) -> CommunicationUserIdentifier:
    """The identifier SDK calls take for an ACS user (e.g. ``remove_participant``)."""
    return CommunicationUserIdentifier(communication_user_id)


def participant(
    communication_user_id: str,
    *,
    display_name: str | None = None,
    share_history_time: datetime | None = None,
) -> ChatParticipant:
    """A ChatParticipant for ``create_chat_thread`` / ``add_participants``."""
    return ChatParticipant(
        identifier=identifier(communication_user_id),
        display_name=display_name,
        share_history_time=share_history_time,
    )


# --- Sync clients --------------------------------------------------------------------------------


@dataclass
class _Entry:
    client: ChatClient | ChatThreadClient
    token: str  # the token the credential holds now (updated by its refresher)


class _ClientCache:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._entries: OrderedDict[tuple[Any, ...], _Entry] = OrderedDict()

    def reset(self) -> None:
        with self._lock:
            self._entries.clear()

    def get(self, principal: _Principal, thread_id: str | None) -> ChatClient | ChatThreadClient:
        token = principal.get_token()
        key = (*principal.key, thread_id)
        with self._lock:
            entry = self._entries.get(key)
            if entry is not None and entry.token == token.token:
                self._entries.move_to_end(key)
                return entry.client
        entry = self._build(principal, token, thread_id)
        with self._lock:
            self._entries[key] = entry
            self._entries.move_to_end(key)
            while len(self._entries) > MAX_CACHED_CLIENTS:
                self._entries.popitem(last=False)
        return entry.client

    @staticmethod
    def _build(principal: _Principal, token: services.AcsToken, thread_id: str | None) -> _Entry:
        entry = _Entry(client=None, token=token.token)  # type: ignore[arg-type]

        def refresh() -> AccessToken:
            fresh = principal.get_token()
            entry.token = fresh.token
            return _access_token(fresh)

        # On-demand refresh only: proactive refresh would call the refresher (and so the
        # database) from a timer thread outside any request. services.get_token() hands out
        # tokens with 10+ minutes left, and get() swaps clients when the token changes.
        credential = CommunicationTokenCredential(token.token, token_refresher=refresh)
        client = ChatClient(acs.endpoint(), credential, **acs.client_options())
        entry.client = client if thread_id is None else thread_client_for(client, thread_id)
        return entry


_cache = _ClientCache()


def reset() -> None:
    """Forget every cached client (tests; configuration changes)."""
    _cache.reset()


@receiver(setting_changed)
def _on_setting_changed(*, setting: str, **kwargs: Any) -> None:
    if setting.startswith("ACS_"):
        reset()


def thread_client_for(
    client: ChatClient | AsyncChatClient, thread_id: str
) -> ChatThreadClient | AsyncChatThreadClient:
    """``client.get_chat_thread_client(thread_id)`` with the client options passed again."""
    return client.get_chat_thread_client(thread_id, **acs.client_options())


def chat_client(user: AbstractBaseUser) -> ChatClient:
    """A ChatClient acting as ``user`` (creates the user's ACS identity on first use)."""
    return _cache.get(_user(user), None)  # type: ignore[return-value]


def thread_client(user: AbstractBaseUser, thread_id: str) -> ChatThreadClient:
    """A ChatThreadClient for one thread, acting as ``user``."""
    return _cache.get(_user(user), thread_id)  # type: ignore[return-value]


def service_chat_client() -> ChatClient:
    """A ChatClient acting as Kwebbel's service identity."""
    return _cache.get(_service(), None)  # type: ignore[return-value]


def service_thread_client(thread_id: str) -> ChatThreadClient:
    """A ChatThreadClient for one thread, acting as Kwebbel's service identity."""
    return _cache.get(_service(), thread_id)  # type: ignore[return-value]


# --- Async clients -------------------------------------------------------------------------------


async def _async_credential(principal: _Principal) -> AsyncCommunicationTokenCredential:
    # Closes stale database connections around the call, as in a long-running consumer.
    get_token = database_sync_to_async(principal.get_token)

    async def refresh() -> AccessToken:
        return _access_token(await get_token())

    token = await get_token()
    # Proactive: long-lived async users (the relay) get a new token in the background before
    # the current one expires; the timer stops when the context below closes the credential.
    return AsyncCommunicationTokenCredential(
        token.token, token_refresher=refresh, proactive_refresh=True
    )


@asynccontextmanager
async def _async_client(
    principal: _Principal, thread_id: str | None, **extra: Any
) -> AsyncIterator[AsyncChatClient | AsyncChatThreadClient]:
    credential = await _async_credential(principal)
    options = {**acs.client_options(), **extra}
    async with credential:
        if thread_id is None:
            async with AsyncChatClient(acs.endpoint(), credential, **options) as client:
                yield client
        else:
            async with AsyncChatThreadClient(
                acs.endpoint(), credential, thread_id, **options
            ) as client:
                yield client


def async_chat_client(user: AbstractBaseUser) -> AbstractAsyncContextManager[AsyncChatClient]:
    """``async with async_chat_client(user) as client:`` an aio ChatClient acting as ``user``."""
    return _async_client(_user(user), None)  # type: ignore[return-value]


def async_thread_client(
    user: AbstractBaseUser, thread_id: str
) -> AbstractAsyncContextManager[AsyncChatThreadClient]:
    """``async with async_thread_client(user, thread_id) as client:`` an aio ChatThreadClient."""
    return _async_client(_user(user), thread_id)  # type: ignore[return-value]


def async_service_chat_client() -> AbstractAsyncContextManager[AsyncChatClient]:
    """``async with async_service_chat_client() as client:`` as Kwebbel's service identity."""
    return _async_client(_service(), None)  # type: ignore[return-value]


def async_service_thread_client(
    thread_id: str,
) -> AbstractAsyncContextManager[AsyncChatThreadClient]:
    """``async with async_service_thread_client(thread_id) as client:`` as the service identity."""
    return _async_client(_service(), thread_id)  # type: ignore[return-value]


def async_service_poll_client(
    thread_id: str,
) -> AbstractAsyncContextManager[AsyncChatThreadClient]:
    """An aio ChatThreadClient as the service identity with the SDK's retries turned off.

    For the relay's poller, which owns its backoff: the SDK would otherwise retry 429s and 5xx
    itself (up to 3 times), calling ACS again before the poller could honour ``Retry-After``.
    """
    return _async_client(_service(), thread_id, retry_total=0)  # type: ignore[return-value]
