"""Tables and the helpers every chat resource shares: access checks, the id clock, message rows.

Timestamps are stored as epoch milliseconds. Message ids and versions come from one emulator-wide
millisecond clock (``max(now_ms, last + 1)``) so they look like the real service's ids and never
repeat, even for many messages in the same millisecond.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Callable
from datetime import datetime

from ..errors import forbidden, not_found
from .changes import Publish, ignore
from .models import ChatMessage, ChatParticipant, from_ms, maybe_from_ms, to_ms

SCHEMA = """
CREATE TABLE IF NOT EXISTS chat_threads (
    id TEXT PRIMARY KEY,
    topic TEXT NOT NULL,
    created_on INTEGER NOT NULL,
    created_by TEXT NOT NULL,
    deleted_on INTEGER,
    last_message_on INTEGER NOT NULL,
    -- id of the newest message: a unique, increasing key to order threads by activity
    activity INTEGER NOT NULL DEFAULT 0
);
CREATE TABLE IF NOT EXISTS chat_participants (
    pk INTEGER PRIMARY KEY,
    thread_id TEXT NOT NULL REFERENCES chat_threads(id),
    raw_id TEXT NOT NULL,
    display_name TEXT,
    share_history_time INTEGER NOT NULL,
    UNIQUE (thread_id, raw_id)
);
CREATE INDEX IF NOT EXISTS chat_participants_by_user ON chat_participants(raw_id);
CREATE TABLE IF NOT EXISTS chat_messages (
    id TEXT PRIMARY KEY,
    thread_id TEXT NOT NULL REFERENCES chat_threads(id),
    sequence_id INTEGER NOT NULL,
    type TEXT NOT NULL,
    version TEXT NOT NULL,
    created_on INTEGER NOT NULL,
    sender TEXT,
    sender_display_name TEXT,
    message TEXT,
    metadata TEXT,
    edited_on INTEGER,
    deleted_on INTEGER,
    topic TEXT,
    participants TEXT,
    initiator TEXT,
    UNIQUE (thread_id, sequence_id)
);
CREATE TABLE IF NOT EXISTS chat_read_receipts (
    pk INTEGER PRIMARY KEY,
    thread_id TEXT NOT NULL REFERENCES chat_threads(id),
    sender TEXT NOT NULL,
    chat_message_id TEXT NOT NULL,
    sequence_id INTEGER NOT NULL,
    read_on INTEGER NOT NULL,
    UNIQUE (thread_id, sender)
);
CREATE TABLE IF NOT EXISTS chat_repeatability (
    creator TEXT NOT NULL,
    request_id TEXT NOT NULL,
    thread_id TEXT NOT NULL,
    topic TEXT NOT NULL,
    invalid_participants TEXT NOT NULL,
    PRIMARY KEY (creator, request_id)
);
CREATE TABLE IF NOT EXISTS chat_clock (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    last_ms INTEGER NOT NULL
);
"""


class ChatStoreBase:
    """State shared by the per-resource operation classes that make up ``ChatStore``."""

    def __init__(
        self,
        conn: sqlite3.Connection,
        *,
        identity_exists: Callable[[str], bool],
        publish: Publish = ignore,
    ):
        self.conn = conn
        self.identity_exists = identity_exists
        # Told about every change inside its transaction (see ``changes``).
        self.publish = publish
        conn.executescript(SCHEMA)

    # -- access -------------------------------------------------------------------------------

    def _thread_row(self, thread_id: str) -> sqlite3.Row:
        row = self.conn.execute("SELECT * FROM chat_threads WHERE id = ?", (thread_id,)).fetchone()
        if row is None:
            raise not_found(f"Chat thread {thread_id} was not found.", target="chatThreadId")
        return row

    def _participant_row(self, thread_id: str, raw_id: str | None) -> sqlite3.Row | None:
        if raw_id is None:
            return None
        return self.conn.execute(
            "SELECT * FROM chat_participants WHERE thread_id = ? AND raw_id = ?",
            (thread_id, raw_id),
        ).fetchone()

    def _access_thread(
        self, thread_id: str, caller: str | None, *, allow_deleted: bool = False
    ) -> tuple[sqlite3.Row, sqlite3.Row]:
        """The thread and the caller's participant row, or the error the caller deserves.

        Unknown thread: 404. Not (or no longer) a participant: 403, with the real service's
        message. Deleted thread: 404 for everything but a repeated delete.
        """
        thread = self._thread_row(thread_id)
        participant = self._participant_row(thread_id, caller)
        if participant is None:
            raise forbidden()
        if thread["deleted_on"] is not None and not allow_deleted:
            raise not_found(f"Chat thread {thread_id} was deleted.", target="chatThreadId")
        return thread, participant

    # -- messages -----------------------------------------------------------------------------

    def _next_tick(self, now: datetime) -> str:
        """The next message id / version: epoch ms, strictly increasing across the emulator."""
        row = self.conn.execute("SELECT last_ms FROM chat_clock WHERE id = 1").fetchone()
        tick = to_ms(now) if row is None else max(to_ms(now), row["last_ms"] + 1)
        self.conn.execute(
            "INSERT INTO chat_clock (id, last_ms) VALUES (1, ?)"
            " ON CONFLICT (id) DO UPDATE SET last_ms = excluded.last_ms",
            (tick,),
        )
        return str(tick)

    def _append_message(
        self,
        thread_id: str,
        *,
        type: str,
        now: datetime,
        sender: str | None = None,
        sender_display_name: str | None = None,
        message: str | None = None,
        metadata: dict[str, str] | None = None,
        topic: str | None = None,
        participants: tuple[ChatParticipant, ...] = (),
        initiator: str | None = None,
    ) -> ChatMessage:
        """Store the next message of the thread (system and user messages share one sequence)."""
        message_id = self._next_tick(now)
        sequence_id = self.conn.execute(
            "SELECT COALESCE(MAX(sequence_id), 0) + 1 FROM chat_messages WHERE thread_id = ?",
            (thread_id,),
        ).fetchone()[0]
        participants_json = (
            json.dumps([_participant_json(p) for p in participants]) if participants else None
        )
        self.conn.execute(
            "INSERT INTO chat_messages (id, thread_id, sequence_id, type, version, created_on,"
            " sender, sender_display_name, message, metadata, topic, participants, initiator)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                message_id,
                thread_id,
                sequence_id,
                type,
                message_id,
                to_ms(now),
                sender,
                sender_display_name,
                message,
                json.dumps(metadata) if metadata is not None else None,
                topic,
                participants_json,
                initiator,
            ),
        )
        self.conn.execute(
            "UPDATE chat_threads SET last_message_on = ?, activity = ? WHERE id = ?",
            (to_ms(now), int(message_id), thread_id),
        )
        return ChatMessage(
            id=message_id,
            type=type,
            sequence_id=sequence_id,
            version=message_id,
            created_on=from_ms(to_ms(now)),
            sender=sender,
            sender_display_name=sender_display_name,
            message=message,
            metadata=metadata,
            topic=topic,
            participants=participants,
            initiator=initiator,
        )


def participant_from_row(row: sqlite3.Row) -> ChatParticipant:
    return ChatParticipant(
        raw_id=row["raw_id"],
        display_name=row["display_name"],
        share_history_time=from_ms(row["share_history_time"]),
    )


def message_from_row(row: sqlite3.Row) -> ChatMessage:
    participants: tuple[ChatParticipant, ...] = ()
    if row["participants"] is not None:  # system messages only
        participants = tuple(
            ChatParticipant(
                raw_id=item["rawId"],
                display_name=item.get("displayName"),
                share_history_time=from_ms(item["shareHistoryTime"]),
            )
            for item in json.loads(row["participants"])
        )
    return ChatMessage(
        id=row["id"],
        type=row["type"],
        sequence_id=row["sequence_id"],
        version=row["version"],
        created_on=from_ms(row["created_on"]),
        sender=row["sender"],
        sender_display_name=row["sender_display_name"],
        message=row["message"],
        metadata=json.loads(row["metadata"]) if row["metadata"] is not None else None,
        edited_on=maybe_from_ms(row["edited_on"]),
        deleted_on=maybe_from_ms(row["deleted_on"]),
        topic=row["topic"],
        participants=participants,
        initiator=row["initiator"],
    )


def _participant_json(participant: ChatParticipant) -> dict:
    return {
        "rawId": participant.raw_id,
        "displayName": participant.display_name,
        "shareHistoryTime": to_ms(participant.share_history_time),
    }
