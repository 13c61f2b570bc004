"""Relay event kinds and the plain-data state of a message.

Events are stored as JSON and sent to browsers, so everything here turns into plain dicts with
snake_case keys and ISO times. A message's ``data`` is :meth:`MessageState.as_json`.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

MESSAGE_ADDED = "message.added"
MESSAGE_EDITED = "message.edited"
MESSAGE_DELETED = "message.deleted"
PARTICIPANTS_ADDED = "participants.added"
PARTICIPANTS_REMOVED = "participants.removed"
TOPIC_CHANGED = "topic.changed"
RECEIPT = "receipt"
KINDS = (
    MESSAGE_ADDED,
    MESSAGE_EDITED,
    MESSAGE_DELETED,
    PARTICIPANTS_ADDED,
    PARTICIPANTS_REMOVED,
    TOPIC_CHANGED,
    RECEIPT,
)
USER_TYPES = ("text", "html")


def iso(value: datetime | None) -> str | None:
    return value.isoformat() if value else None


def parse_time(value: str | datetime | None) -> datetime | None:
    if value is None or isinstance(value, datetime):
        return value
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


def _number(value: Any) -> int | None:
    return int(value) if value is not None and str(value).isdigit() else None


def _raw_id(identifier: Any) -> str | None:
    return getattr(identifier, "raw_id", None)


def time_of_id(message_id: str) -> datetime | None:
    """ACS message ids are the creation time in epoch milliseconds."""
    number = _number(message_id)
    return datetime.fromtimestamp(number / 1000, tz=UTC) if number is not None else None


@dataclass(frozen=True)
class MessageState:
    """What a page can show of one message, as ACS lists it now."""

    id: str
    type: str
    # The text for text/html; for system messages {"topic"?, "initiator", "participants"}.
    content: str | dict[str, Any]
    sender_id: str | None = None
    created_on: datetime | None = None
    edited_on: datetime | None = None
    deleted_on: datetime | None = None
    metadata: dict[str, str] = field(default_factory=dict)
    sequence_id: int | None = None
    version: int | None = None

    @classmethod
    def from_acs(cls, message: Any) -> MessageState:
        """From an SDK ``ChatMessage`` (sync or aio, list or get)."""
        kind = str(getattr(message.type, "value", message.type))
        content = message.content
        body: str | dict[str, Any]
        if kind in USER_TYPES:
            body = (content.message if content else "") or ""
        else:
            body = {
                "topic": getattr(content, "topic", None),
                "initiator": _raw_id(getattr(content, "initiator", None)),
                "participants": [
                    {"raw_id": p.identifier.raw_id, "share_history_time": iso(p.share_history_time)}
                    for p in (getattr(content, "participants", None) or [])
                ],
            }
        return cls(
            id=str(message.id),
            type=kind,
            content=body,
            sender_id=_raw_id(message.sender),
            created_on=message.created_on or time_of_id(message.id),
            edited_on=message.edited_on,
            deleted_on=message.deleted_on,
            metadata=dict(message.metadata or {}),
            sequence_id=_number(message.sequence_id),
            version=_number(message.version),
        )

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> MessageState:
        return cls(
            id=str(data["id"]),
            type=data["type"],
            content=data["content"],
            sender_id=data.get("sender_id"),
            created_on=parse_time(data.get("created_on")),
            edited_on=parse_time(data.get("edited_on")),
            deleted_on=parse_time(data.get("deleted_on")),
            metadata=dict(data.get("metadata") or {}),
            sequence_id=data.get("sequence_id"),
            version=data.get("version"),
        )

    def as_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "type": self.type,
            "content": self.content,
            "sender_id": self.sender_id,
            # Derived from the id when unknown, so the viewer's history filter always works.
            "created_on": iso(self.created_on or time_of_id(self.id)),
            "edited_on": iso(self.edited_on),
            "deleted_on": iso(self.deleted_on),
            "metadata": self.metadata,
            "sequence_id": self.sequence_id,
            "version": self.version,
        }

    @property
    def deleted(self) -> bool:
        return self.deleted_on is not None

    def fingerprint(self) -> str:
        """Changes exactly when what a page shows changes (not on sequence or version alone).

        A deleted message shows only that it was deleted: ACS blanks its content.
        """
        if self.deleted:
            shown: list[Any] = [self.type, "deleted"]
        else:
            shown = [self.type, self.content, self.metadata, self.edited_on is not None]
        encoded = json.dumps(shown, sort_keys=True, separators=(",", ":")).encode()
        return hashlib.sha256(encoded).hexdigest()


@dataclass(frozen=True)
class Event:
    """One logged change; ``cursor`` is its place in the thread's log."""

    thread_id: str
    cursor: int
    kind: str
    data: dict[str, Any]

    def as_json(self) -> dict[str, Any]:
        """The frame a page receives (before the viewer's own rendering)."""
        return {
            "type": "event",
            "thread": self.thread_id,
            "cursor": self.cursor,
            "kind": self.kind,
            "data": self.data,
        }
