"""Chat_CreateChatThread, Chat_ListChatThreads, Chat_DeleteChatThread,
ChatThread_GetChatThreadProperties and ChatThread_UpdateChatThreadProperties."""

from __future__ import annotations

import json
import secrets
import sqlite3
from datetime import datetime

from ..db import transaction
from ..errors import bad_request, forbidden
from .changes import ThreadCreated, ThreadDeleted, ThreadPropertiesUpdated
from .models import (
    EPOCH,
    ChatParticipant,
    ChatThread,
    CreateChatThreadResult,
    Page,
    ParticipantSpec,
    from_ms,
    maybe_from_ms,
    to_ms,
)
from .participants import ParticipantOperations

MAX_TOPIC_LENGTH = 1024


def check_topic(topic: str) -> None:
    """A topic must have visible text; the emulator also caps its length (undocumented in ACS)."""
    if not topic.strip():
        raise bad_request("'topic' must not be empty.", target="topic")
    if len(topic) > MAX_TOPIC_LENGTH:
        raise bad_request(f"'topic' must be at most {MAX_TOPIC_LENGTH} characters.", target="topic")


def new_thread_id() -> str:
    """An id shaped like the real ones: ``19:<44 url-safe characters>@thread.v2``."""
    return f"19:{secrets.token_urlsafe(33)}@thread.v2"


class ThreadOperations(ParticipantOperations):
    def create_chat_thread(
        self,
        creator: str | None,
        *,
        topic: str,
        participants: list[ParticipantSpec],
        repeatability_request_id: str | None,
        now: datetime,
    ) -> CreateChatThreadResult:
        """Create a thread; the creator always joins, with no display name and full history.

        System messages: sequence 1 ``participantAdded`` (everyone added, creator first) and
        sequence 2 ``topicUpdated``. A ``repeatability-request-id`` already used by the same
        creator replays the first result instead of creating another thread (deleted or not).
        A creator listed among ``participants`` keeps the creator's entry.
        """
        if creator is None:
            raise forbidden("Chat threads are created by communication users, not the resource.")
        check_topic(topic)
        with transaction(self.conn):
            if repeatability_request_id is not None:
                replay = self._replay(creator, repeatability_request_id)
                if replay is not None:
                    return replay
            thread_id = new_thread_id()
            self.conn.execute(
                "INSERT INTO chat_threads (id, topic, created_on, created_by, last_message_on)"
                " VALUES (?, ?, ?, ?, ?)",
                (thread_id, topic, to_ms(now), creator, to_ms(now)),
            )
            self.conn.execute(
                "INSERT INTO chat_participants (thread_id, raw_id, display_name,"
                " share_history_time) VALUES (?, ?, NULL, ?)",
                (thread_id, creator, to_ms(EPOCH)),
            )
            added, invalid = self._insert_participants(thread_id, participants)
            everyone = (ChatParticipant(creator, None, EPOCH), *added)
            self._append_message(
                thread_id,
                type="participantAdded",
                now=now,
                participants=everyone,
                initiator=creator,
            )
            opening = self._append_message(
                thread_id, type="topicUpdated", now=now, topic=topic, initiator=creator
            )
            if repeatability_request_id is not None:
                self.conn.execute(
                    "INSERT INTO chat_repeatability (creator, request_id, thread_id, topic,"
                    " invalid_participants) VALUES (?, ?, ?, ?, ?)",
                    (creator, repeatability_request_id, thread_id, topic, json.dumps(invalid)),
                )
            thread = _thread_from_row(self._thread_row(thread_id))
            self.publish(ThreadCreated(thread, everyone, version=int(opening.id)))
        return CreateChatThreadResult(thread, invalid)

    def list_chat_threads(
        self,
        caller: str | None,
        *,
        max_page_size: int,
        start_time: datetime | None,
        before_activity: int | None = None,
    ) -> Page[ChatThread]:
        """The caller's threads, most recent message first; deleted ones carry ``deletedOn``.

        ``start_time`` keeps threads whose last message arrived at or after it.
        ``before_activity`` continues after the previous page (the id of its last item's newest
        message, unique and increasing, so no two threads tie).
        """
        floor = to_ms(start_time) if start_time is not None else 0
        rows = self.conn.execute(
            "SELECT t.* FROM chat_threads t JOIN chat_participants p"
            " ON p.thread_id = t.id AND p.raw_id = ?"
            " WHERE t.last_message_on >= ? AND t.activity < ?"
            " ORDER BY t.activity DESC LIMIT ?",
            (caller, floor, before_activity or 2**62, max_page_size + 1),
        ).fetchall()
        items = [_thread_from_row(row) for row in rows[:max_page_size]]
        next_state = None
        if len(rows) > max_page_size:
            next_state = {
                "maxPageSize": max_page_size,
                "startTime": floor,
                "before": rows[max_page_size - 1]["activity"],
            }
        return Page(items, next_state)

    def get_chat_thread_properties(self, thread_id: str, caller: str | None) -> ChatThread:
        thread, _ = self._access_thread(thread_id, caller)
        return _thread_from_row(thread)

    def update_chat_thread_properties(
        self, thread_id: str, caller: str | None, *, topic: str | None, now: datetime
    ) -> None:
        """Set the topic and add a ``topicUpdated`` message; no topic (``{}``) changes nothing.

        That is merge-patch semantics and what the SDK documents for ``update_topic(None)``.
        """
        if topic is not None:
            check_topic(topic)
        with transaction(self.conn):
            thread, _ = self._access_thread(thread_id, caller)
            if topic is None:
                return
            self.conn.execute("UPDATE chat_threads SET topic = ? WHERE id = ?", (topic, thread_id))
            message = self._append_message(
                thread_id, type="topicUpdated", now=now, topic=topic, initiator=caller
            )
            self.publish(
                ThreadPropertiesUpdated(
                    thread_id,
                    created_on=from_ms(thread["created_on"]),
                    edited_by=caller,
                    topic=topic,
                    edited_on=message.created_on,
                    version=int(message.id),
                )
            )

    def delete_chat_thread(self, thread_id: str, caller: str | None, *, now: datetime) -> None:
        """Soft-delete a thread; any participant may. Deleting it again is a no-op 204.

        Afterwards every other operation on the thread answers 404, while ListChatThreads keeps
        showing it to its participants with ``deletedOn`` (as in the spec's example).
        """
        with transaction(self.conn):
            thread, _ = self._access_thread(thread_id, caller, allow_deleted=True)
            if thread["deleted_on"] is None:
                self.conn.execute(
                    "UPDATE chat_threads SET deleted_on = ? WHERE id = ?", (to_ms(now), thread_id)
                )
                self.publish(
                    ThreadDeleted(
                        thread_id,
                        created_on=from_ms(thread["created_on"]),
                        deleted_by=caller,
                        deleted_on=from_ms(to_ms(now)),
                        version=int(self._next_tick(now)),
                    )
                )

    def _replay(self, creator: str, request_id: str) -> CreateChatThreadResult | None:
        row = self.conn.execute(
            "SELECT * FROM chat_repeatability WHERE creator = ? AND request_id = ?",
            (creator, request_id),
        ).fetchone()
        if row is None:
            return None
        thread = self._thread_row(row["thread_id"])
        first = ChatThread(
            id=thread["id"],
            topic=row["topic"],
            created_on=from_ms(thread["created_on"]),
            created_by=thread["created_by"],
            deleted_on=None,
            last_message_received_on=from_ms(thread["created_on"]),
        )
        return CreateChatThreadResult(first, json.loads(row["invalid_participants"]))


def _thread_from_row(row: sqlite3.Row) -> ChatThread:
    return ChatThread(
        id=row["id"],
        topic=row["topic"],
        created_on=from_ms(row["created_on"]),
        created_by=row["created_by"],
        deleted_on=maybe_from_ms(row["deleted_on"]),
        last_message_received_on=maybe_from_ms(row["last_message_on"]),
    )
