"""The emulated ACS Chat service (REST api-version 2024-03-07).

``store.ChatStore`` holds the state and the rules over SQLite, one method per operationId, split by
resource (``threads``, ``participants``, ``messages``, ``receipts``; shared tables and access checks
in ``base``). ``routes`` only parses (``parse``, ``identifiers``), calls the store and renders
(``render``, ``paging`` for nextLinks). Store methods take the caller and ``now``, not a request.
Every change is also handed, inside its transaction, to the store's ``publish`` callback as a
``changes`` value (the Event Grid publisher listens there; the store knows nothing of events).

Operations (all 16 implemented) and where the emulator differs from, or chooses for, real ACS:

[X] Chat_CreateChatThread -- creator joins with no display name and shareHistoryTime 1970; system
    messages seq 1 participantAdded and seq 2 topicUpdated; ``repeatability-request-id`` replays the
    first 201 body per (creator, header). Unknown but well-formed ids -> ``invalidParticipants``
    (code "403", "Permissions check failed"); a malformed raw id fails the whole request (400).
[X] Chat_ListChatThreads -- threads the caller currently belongs to, most recent message first;
    deleted ones stay listed with ``deletedOn``. ``startTime`` filters on the last message time.
[X] Chat_DeleteChatThread -- soft delete by any participant; repeated delete -> 204. Afterwards the
    other thread operations answer 404.
[X] ChatThread_GetChatThreadProperties
[X] ChatThread_UpdateChatThreadProperties -- ``{}`` (SDK ``update_topic(None)``) changes nothing;
    an empty topic or ``"topic": null`` -> 400.
[X] ChatThread_SendChatMessage -- text/html only; content 1 byte .. 28 KiB (UTF-8); HTML is stored
    as sent (the real service sanitises it). Ids are epoch-ms strings, unique emulator-wide.
[X] ChatThread_ListChatMessages -- newest first; ``startTime`` keeps messages created at or after
    it; page size 1..200 (default 100, an emulator choice).
[X] ChatThread_GetChatMessage
[X] ChatThread_UpdateChatMessage -- sender only (403); editing a deleted message -> 400.
[X] ChatThread_DeleteChatMessage -- soft delete, sender only; repeated delete -> 204.
[X] ChatThread_ListChatParticipants -- join order, ``skip`` paging.
[X] ChatThread_AddChatParticipants -- existing members unchanged; 200 per request and 250 per
    thread, beyond that the whole request fails with 400.
[X] ChatThread_RemoveChatParticipant -- self-removal allowed; a non-member -> 204, nothing changes.
[X] ChatThread_SendTypingNotification -- access is checked, nothing is stored or delivered.
[X] ChatThread_SendChatReadReceipt -- one receipt per participant, for the highest message read.
[X] ChatThread_ListChatReadReceipts

Access: unknown thread -> 404; caller not (or no longer) a participant -> 403 on every operation,
including reads of history (the docs say removed users keep read access; recordings show 403).
A participant sees only messages created at or after their shareHistoryTime; other messages are
404 to them. Receipts and typing also work in threads above 20 participants (ACS: unsupported).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from datetime import datetime

from aiohttp import web

from .changes import Publish, ignore
from .routes import ChatRoutes
from .store import ChatStore

__all__ = ["ChatStore", "setup_chat"]


def setup_chat(
    app: web.Application,
    conn: sqlite3.Connection,
    *,
    clock: Callable[[], datetime],
    identity_exists: Callable[[str], bool],
    publish: Publish = ignore,
) -> None:
    """Create the chat tables and add the 16 named chat routes to ``app``.

    ``publish`` is told every change (``changes``), inside the operation's transaction.
    """
    store = ChatStore(conn, identity_exists=identity_exists, publish=publish)
    ChatRoutes(store, clock).register(app.router)
