"""The documented ACS rate limits, enforced with sliding windows when ``--enforce-limits`` is on.

Source: the ACS "Service limits" page. Chat limits apply per user, per thread or per user and
thread; Identity limits per resource over 30 s. Where the page lists several operations in one
row ("send / update / delete message") they share one budget. Going over answers 429 with a
Retry-After saying when the oldest counted request leaves the window. Rejected requests are not
counted, so a client that waits as told gets through.
"""

from __future__ import annotations

import math
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass

from .errors import too_many_requests

RESOURCE, USER, THREAD, USER_THREAD = "resource", "user", "thread", "user+thread"


@dataclass(frozen=True)
class Limit:
    operations: frozenset[str]
    scope: str
    # (window seconds, maximum requests in that window), all of which must hold.
    windows: tuple[tuple[int, int], ...]


def _limit(scope: str, windows: tuple[tuple[int, int], ...], *operations: str) -> Limit:
    return Limit(frozenset(operations), scope, windows)


_SEND_UPDATE_DELETE = ("ChatThread_SendChatMessage", "ChatThread_UpdateChatMessage")
LIMITS: tuple[Limit, ...] = (
    _limit(USER, ((10, 10),), "Chat_CreateChatThread"),
    _limit(USER, ((10, 10),), "Chat_DeleteChatThread"),
    _limit(THREAD, ((10, 5),), "ChatThread_UpdateChatThreadProperties"),
    _limit(
        THREAD,
        ((10, 10), (60, 30)),
        "ChatThread_AddChatParticipants",
        "ChatThread_RemoveChatParticipant",
    ),
    _limit(USER, ((10, 50),), "ChatThread_GetChatThreadProperties", "Chat_ListChatThreads"),
    _limit(USER_THREAD, ((10, 50),), "ChatThread_GetChatMessage"),
    _limit(THREAD, ((10, 250),), "ChatThread_GetChatMessage"),
    _limit(USER_THREAD, ((10, 50), (60, 200)), "ChatThread_ListChatMessages"),
    _limit(THREAD, ((10, 250), (60, 400)), "ChatThread_ListChatMessages"),
    _limit(USER_THREAD, ((10, 5),), "ChatThread_ListChatReadReceipts"),
    _limit(THREAD, ((10, 100),), "ChatThread_ListChatReadReceipts"),
    _limit(USER_THREAD, ((10, 10),), "ChatThread_ListChatParticipants"),
    _limit(THREAD, ((10, 250),), "ChatThread_ListChatParticipants"),
    _limit(THREAD, ((10, 10), (60, 30)), *_SEND_UPDATE_DELETE, "ChatThread_DeleteChatMessage"),
    _limit(USER_THREAD, ((10, 10), (60, 30)), "ChatThread_SendChatReadReceipt"),
    _limit(USER_THREAD, ((10, 5), (60, 15)), "ChatThread_SendTypingNotification"),
    _limit(THREAD, ((10, 10), (60, 30)), "ChatThread_SendTypingNotification"),
    _limit(RESOURCE, ((30, 1000),), "CommunicationIdentity_Create"),
    _limit(RESOURCE, ((30, 500),), "CommunicationIdentity_Delete"),
    _limit(RESOURCE, ((30, 1000),), "CommunicationIdentity_IssueAccessToken"),
    _limit(RESOURCE, ((30, 500),), "CommunicationIdentity_RevokeAccessTokens"),
    _limit(RESOURCE, ((30, 500),), "CommunicationIdentity_ExchangeTeamsUserAccessToken"),
)

# Drop idle windows every this many checks so memory follows the active users and threads.
_SWEEP_EVERY = 1000


class RateLimiter:
    def __init__(
        self, limits: tuple[Limit, ...] = LIMITS, *, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self._clock = clock
        self._by_operation: dict[str, list[Limit]] = {}
        for limit in limits:
            for operation in limit.operations:
                self._by_operation.setdefault(operation, []).append(limit)
        self._windows: dict[tuple, deque[float]] = {}
        self._checks = 0

    def check(self, operation_id: str, *, user: str | None, chat_thread_id: str | None) -> None:
        """Count the request, or raise a 429 (not counted) if any applicable window is full."""
        now = self._clock()
        self._checks += 1
        if self._checks % _SWEEP_EVERY == 0:
            self._sweep(now)
        keys: list[tuple[tuple, int]] = []
        wait = 0.0
        for limit in self._by_operation.get(operation_id, ()):
            subject = {
                RESOURCE: (),
                USER: (user,),
                THREAD: (chat_thread_id,),
                USER_THREAD: (user, chat_thread_id),
            }[limit.scope]
            for seconds, maximum in limit.windows:
                key = (id(limit), seconds, *subject)
                window = self._windows.setdefault(key, deque())
                while window and window[0] <= now - seconds:
                    window.popleft()
                if len(window) >= maximum:
                    wait = max(wait, window[0] + seconds - now)
                keys.append((key, seconds))
        if wait > 0:
            raise too_many_requests(
                max(1, math.ceil(wait)), "Too many requests: an ACS rate limit was exceeded."
            )
        for key, _ in keys:
            self._windows[key].append(now)

    def _sweep(self, now: float) -> None:
        for key in [k for k, w in self._windows.items() if not w or w[-1] <= now - k[1]]:
            del self._windows[key]
