"""Participant operations.

ChatThread_ListChatParticipants, ChatThread_AddChatParticipants, ChatThread_RemoveChatParticipant.
"""

from __future__ import annotations

from datetime import datetime

from ..db import transaction
from ..errors import bad_request
from .base import ChatStoreBase, participant_from_row
from .changes import ParticipantRemoved, ParticipantsAdded
from .models import EPOCH, ChatParticipant, Page, ParticipantSpec, from_ms, to_ms

# Service limits: participants per thread, and per CreateThread / AddParticipants request.
MAX_PARTICIPANTS_PER_THREAD = 250
MAX_PARTICIPANTS_PER_REQUEST = 200


class ParticipantOperations(ChatStoreBase):
    def list_chat_participants(
        self, thread_id: str, caller: str | None, *, max_page_size: int, skip: int
    ) -> Page[ChatParticipant]:
        """Participants in the order they joined; paged with ``skip`` like the real service."""
        self._access_thread(thread_id, caller)
        rows = self.conn.execute(
            "SELECT * FROM chat_participants WHERE thread_id = ? ORDER BY pk LIMIT ? OFFSET ?",
            (thread_id, max_page_size + 1, skip),
        ).fetchall()
        items = [participant_from_row(row) for row in rows[:max_page_size]]
        next_state = None
        if len(rows) > max_page_size:
            next_state = {"skip": skip + max_page_size, "maxPageSize": max_page_size}
        return Page(items, next_state)

    def add_chat_participants(
        self,
        thread_id: str,
        caller: str | None,
        participants: list[ParticipantSpec],
        *,
        now: datetime,
    ) -> list[str]:
        """Add participants; returns the raw ids that do not exist as identities.

        Members already in the thread are left unchanged (display name and share time included).
        A ``participantAdded`` system message lists the ones actually added. A request over the
        limits (200 per request, 250 per thread) fails whole with 400.
        """
        if not participants:
            raise bad_request("'participants' must name at least one participant.")
        with transaction(self.conn):
            thread, _ = self._access_thread(thread_id, caller)
            added, invalid = self._insert_participants(thread_id, participants)
            if added:
                message = self._append_message(
                    thread_id,
                    type="participantAdded",
                    now=now,
                    participants=tuple(added),
                    initiator=caller,
                )
                self.publish(
                    ParticipantsAdded(
                        thread_id,
                        created_on=from_ms(thread["created_on"]),
                        added_by=caller,
                        participants=tuple(added),
                        time=message.created_on,
                        version=int(message.id),
                    )
                )
        return invalid

    def remove_chat_participant(
        self, thread_id: str, caller: str | None, raw_id: str, *, now: datetime
    ) -> None:
        """Remove a participant (self-removal included); removing a non-member is a no-op 204.

        The removed user then gets 403 on every call on the thread. Real ACS documents that removed
        users keep read access to earlier history; the emulator follows what recordings show.
        """
        with transaction(self.conn):
            thread, _ = self._access_thread(thread_id, caller)
            row = self._participant_row(thread_id, raw_id)
            if row is None:
                return
            self.conn.execute("DELETE FROM chat_participants WHERE pk = ?", (row["pk"],))
            removed = participant_from_row(row)
            message = self._append_message(
                thread_id,
                type="participantRemoved",
                now=now,
                participants=(removed,),
                initiator=caller,
            )
            self.publish(
                ParticipantRemoved(
                    thread_id,
                    created_on=from_ms(thread["created_on"]),
                    removed_by=caller,
                    participant=removed,
                    time=message.created_on,
                    version=int(message.id),
                )
            )

    def _insert_participants(
        self, thread_id: str, participants: list[ParticipantSpec]
    ) -> tuple[list[ChatParticipant], list[str]]:
        """Insert the new, existing identities; returns (added, unknown raw ids)."""
        if len(participants) > MAX_PARTICIPANTS_PER_REQUEST:
            raise bad_request(
                f"At most {MAX_PARTICIPANTS_PER_REQUEST} participants can be added per request.",
                target="participants",
            )
        added: list[ChatParticipant] = []
        invalid: list[str] = []
        seen: set[str] = set()
        for spec in participants:
            if spec.raw_id in seen:
                continue
            seen.add(spec.raw_id)
            if self._participant_row(thread_id, spec.raw_id) is not None:
                continue
            if not self.identity_exists(spec.raw_id):
                invalid.append(spec.raw_id)
                continue
            participant = ChatParticipant(
                raw_id=spec.raw_id,
                display_name=spec.display_name,
                share_history_time=spec.share_history_time or EPOCH,
            )
            self.conn.execute(
                "INSERT INTO chat_participants (thread_id, raw_id, display_name,"
                " share_history_time) VALUES (?, ?, ?, ?)",
                (
                    thread_id,
                    participant.raw_id,
                    participant.display_name,
                    to_ms(participant.share_history_time),
                ),
            )
            added.append(participant)
        count = self.conn.execute(
            "SELECT COUNT(*) FROM chat_participants WHERE thread_id = ?", (thread_id,)
        ).fetchone()[0]
        if count > MAX_PARTICIPANTS_PER_THREAD:
            # Raised inside the caller's transaction, so nothing above is kept.
            raise bad_request(
                f"A chat thread can have at most {MAX_PARTICIPANTS_PER_THREAD} participants.",
                target="participants",
            )
        return added, invalid
