"""ChatThread_SendChatMessage, ChatThread_ListChatMessages, ChatThread_GetChatMessage,
ChatThread_UpdateChatMessage and ChatThread_DeleteChatMessage.

A participant only sees messages created at or after their ``shareHistoryTime`` (system messages
included); anything else is answered as if it did not exist (404).
"""

from __future__ import annotations

import json
import sqlite3
from datetime import datetime

from ..db import transaction
from ..errors import bad_request, forbidden, not_found
from .base import ChatStoreBase, message_from_row
from .changes import MessageDeleted, MessageEdited, MessageSent
from .models import ChatMessage, Page, to_ms

# "Message size ~28 KB" in the service limits; measured here on the UTF-8 bytes of the content.
MAX_CONTENT_BYTES = 28 * 1024
USER_MESSAGE_TYPES = ("text", "html")


def check_content(content: str) -> None:
    if content == "":
        raise bad_request("'content' must not be empty.", target="content")
    size = len(content.encode("utf-8"))
    if size > MAX_CONTENT_BYTES:
        raise bad_request(
            f"'content' is {size} bytes; a chat message can be at most {MAX_CONTENT_BYTES}"
            " bytes (UTF-8).",
            target="content",
        )


class MessageOperations(ChatStoreBase):
    def send_chat_message(
        self,
        thread_id: str,
        sender: str | None,
        *,
        content: str,
        type: str = "text",
        sender_display_name: str | None = None,
        metadata: dict[str, str] | None = None,
        now: datetime,
    ) -> ChatMessage:
        """Store a text or html message. HTML is kept as sent (the real service sanitises it)."""
        if type not in USER_MESSAGE_TYPES:
            raise bad_request(
                f"'type' must be one of {', '.join(USER_MESSAGE_TYPES)}, not {type!r}.",
                target="type",
            )
        check_content(content)
        with transaction(self.conn):
            self._access_thread(thread_id, sender)
            message = self._append_message(
                thread_id,
                type=type,
                now=now,
                sender=sender,
                # The real service answers "" when no display name was sent.
                sender_display_name=sender_display_name or "",
                message=content,
                metadata=metadata or None,
            )
            self.publish(MessageSent(thread_id, message))
        return message

    def list_chat_messages(
        self,
        thread_id: str,
        caller: str | None,
        *,
        max_page_size: int,
        start_time: datetime | None,
        before_sequence: int | None = None,
    ) -> Page[ChatMessage]:
        """Visible messages, newest first; ``start_time`` keeps those created at or after it."""
        start_ms = to_ms(start_time) if start_time is not None else None
        _, participant = self._access_thread(thread_id, caller)
        floor = max(participant["share_history_time"], start_ms or 0)
        rows = self.conn.execute(
            "SELECT * FROM chat_messages WHERE thread_id = ? AND created_on >= ?"
            " AND sequence_id < ? ORDER BY sequence_id DESC LIMIT ?",
            (thread_id, floor, before_sequence or 2**62, max_page_size + 1),
        ).fetchall()
        items = [message_from_row(row) for row in rows[:max_page_size]]
        next_state = None
        if len(rows) > max_page_size:
            next_state = {
                "maxPageSize": max_page_size,
                "startTime": start_ms,
                "before": items[-1].sequence_id,
            }
        return Page(items, next_state)

    def get_chat_message(self, thread_id: str, caller: str | None, message_id: str) -> ChatMessage:
        row = self._visible_message(thread_id, caller, message_id)
        return message_from_row(row)

    def update_chat_message(
        self,
        thread_id: str,
        caller: str | None,
        message_id: str,
        *,
        content: str | None = None,
        metadata: dict[str, str] | None = None,
        now: datetime,
    ) -> None:
        """Replace content and/or metadata (``{}`` clears it); sets ``editedOn`` and a new version.

        Only the sender may edit (403 otherwise). A deleted message cannot be edited: 400 (the
        real service's answer is not documented). A patch with neither field changes nothing.
        """
        if content is not None:
            check_content(content)
        with transaction(self.conn):
            row = self._own_message(thread_id, caller, message_id)
            if row["deleted_on"] is not None:
                raise bad_request(
                    f"Chat message {message_id} was deleted and can no longer be edited.",
                    target="chatMessageId",
                )
            if content is None and metadata is None:
                return
            self.conn.execute(
                "UPDATE chat_messages SET message = ?, metadata = ?, edited_on = ?, version = ?"
                " WHERE id = ?",
                (
                    content if content is not None else row["message"],
                    row["metadata"]
                    if metadata is None
                    else (json.dumps(metadata) if metadata else None),
                    to_ms(now),
                    self._next_tick(now),
                    message_id,
                ),
            )
            self.publish(MessageEdited(thread_id, self._message(message_id)))

    def delete_chat_message(
        self, thread_id: str, caller: str | None, message_id: str, *, now: datetime
    ) -> None:
        """Soft delete: content becomes ``""``, ``deletedOn`` and a new version are set.

        Only the sender may delete; deleting again is a no-op 204.
        """
        with transaction(self.conn):
            row = self._own_message(thread_id, caller, message_id)
            if row["deleted_on"] is not None:
                return
            self.conn.execute(
                "UPDATE chat_messages SET message = '', deleted_on = ?, version = ? WHERE id = ?",
                (to_ms(now), self._next_tick(now), message_id),
            )
            self.publish(MessageDeleted(thread_id, self._message(message_id)))

    def _visible_message(self, thread_id: str, caller: str | None, message_id: str) -> sqlite3.Row:
        _, participant = self._access_thread(thread_id, caller)
        row = self.conn.execute(
            "SELECT * FROM chat_messages WHERE thread_id = ? AND id = ? AND created_on >= ?",
            (thread_id, message_id, participant["share_history_time"]),
        ).fetchone()
        if row is None:
            raise not_found(f"Chat message {message_id} was not found.", target="chatMessageId")
        return row

    def _message(self, message_id: str) -> ChatMessage:
        row = self.conn.execute("SELECT * FROM chat_messages WHERE id = ?", (message_id,))
        return message_from_row(row.fetchone())

    def _own_message(self, thread_id: str, caller: str | None, message_id: str) -> sqlite3.Row:
        row = self._visible_message(thread_id, caller, message_id)
        if row["sender"] is None or row["sender"] != caller:
            raise forbidden("Only the sender of a chat message can change or delete it.")
        return row
