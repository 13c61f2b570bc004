"""Typing notifications and read receipts.

ChatThread_SendTypingNotification, ChatThread_SendChatReadReceipt, ChatThread_ListChatReadReceipts.

The real service documents receipts and typing notifications as unsupported in threads with more
than 20 participants. The emulator accepts and stores them at any size so that applications work
the same way in small and large test threads; it has no event channel, so typing notifications are
only checked for access and then dropped.
"""

from __future__ import annotations

from datetime import datetime

from ..db import transaction
from ..errors import not_found
from .base import ChatStoreBase
from .models import ChatMessageReadReceipt, Page, from_ms, to_ms


class ReceiptOperations(ChatStoreBase):
    def send_typing_notification(
        self, thread_id: str, caller: str | None, *, sender_display_name: str | None = None
    ) -> None:
        """Check that the caller may post to the thread; nothing is stored."""
        self._access_thread(thread_id, caller)

    def send_chat_read_receipt(
        self, thread_id: str, caller: str | None, chat_message_id: str, *, now: datetime
    ) -> None:
        """Record that the caller read up to ``chat_message_id``.

        Only one receipt per participant is kept: the one for the latest message (highest
        sequence id). A receipt for an older message than the one already recorded changes
        nothing. The message must exist and be visible to the caller (404 otherwise).
        """
        with transaction(self.conn):
            _, participant = self._access_thread(thread_id, caller)
            message = self.conn.execute(
                "SELECT sequence_id FROM chat_messages WHERE thread_id = ? AND id = ?"
                " AND created_on >= ?",
                (thread_id, chat_message_id, participant["share_history_time"]),
            ).fetchone()
            if message is None:
                raise not_found(
                    f"Chat message {chat_message_id} was not found.", target="chatMessageId"
                )
            self.conn.execute(
                "INSERT INTO chat_read_receipts (thread_id, sender, chat_message_id, sequence_id,"
                " read_on) VALUES (?, ?, ?, ?, ?)"
                " ON CONFLICT (thread_id, sender) DO UPDATE SET"
                " chat_message_id = excluded.chat_message_id,"
                " sequence_id = excluded.sequence_id, read_on = excluded.read_on"
                " WHERE excluded.sequence_id > chat_read_receipts.sequence_id",
                (thread_id, caller, chat_message_id, message["sequence_id"], to_ms(now)),
            )

    def list_chat_read_receipts(
        self, thread_id: str, caller: str | None, *, max_page_size: int, skip: int
    ) -> Page[ChatMessageReadReceipt]:
        """The latest receipt of each participant, in the order they first sent one."""
        self._access_thread(thread_id, caller)
        rows = self.conn.execute(
            "SELECT * FROM chat_read_receipts WHERE thread_id = ? ORDER BY pk LIMIT ? OFFSET ?",
            (thread_id, max_page_size + 1, skip),
        ).fetchall()
        items = [
            ChatMessageReadReceipt(row["sender"], row["chat_message_id"], from_ms(row["read_on"]))
            for row in rows[:max_page_size]
        ]
        next_state = None
        if len(rows) > max_page_size:
            next_state = {"skip": skip + max_page_size, "maxPageSize": max_page_size}
        return Page(items, next_state)
