"""Kwebbel's own words for what ACS chat holds, used everywhere past the gateway.

``chat.gateway`` turns the SDK's models into these (and every SDK error into
``GatewayError``), so the rest of Kwebbel never sees an ``azure.*`` object. They are plain
frozen data: the relay stores messages as :meth:`Message.as_json` and reads them back with
:meth:`Message.from_json`, and the renderers take them as they are.

The small rules of the ACS data model live here once: message ids are the creation time in
epoch milliseconds (so they order messages), a ``share_history_time`` at or before 1970 means
"all history", ACS keeps one read receipt per reader.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Generic, TypeVar

# Message types (ChatMessageType). Users send text and HTML; ACS writes the others.
TEXT = "text"
HTML = "html"
TOPIC_UPDATED = "topicUpdated"
PARTICIPANT_ADDED = "participantAdded"
PARTICIPANT_REMOVED = "participantRemoved"
USER_TYPES = (TEXT, HTML)
MEMBER_TYPES = (PARTICIPANT_ADDED, PARTICIPANT_REMOVED)
SYSTEM_TYPES = (TOPIC_UPDATED, *MEMBER_TYPES)

# A share_history_time at (or before) this means the participant sees all history.
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)

T = TypeVar("T")


def message_number(message_id: Any) -> int:
    """A message id as a number (ACS ids are epoch milliseconds); -1 for anything else."""
    text = str(message_id) if message_id is not None else ""
    return int(text) if text.isdigit() and len(text) <= 20 else -1


def time_of_message(message_id: Any) -> datetime | None:
    """When a message was created, read from its id."""
    number = message_number(message_id)
    if number < 0:
        return None
    try:
        return datetime.fromtimestamp(number / 1000, tz=UTC)
    except (OverflowError, OSError, ValueError):
        return None


def parse_time(value: str | datetime | None) -> datetime | None:
    """An aware datetime from an ISO 8601 string (``Z`` allowed), or the value itself."""
    if value is None or isinstance(value, datetime):
        return value
    return datetime.fromisoformat(str(value).replace("Z", "+00:00"))


def iso(value: datetime | None) -> str | None:
    return value.isoformat() if value else None


def history_from(share_history_time: datetime | None) -> datetime | None:
    """When a participant's view of the history starts: None for all of it."""
    if share_history_time is None or share_history_time <= EPOCH:
        return None
    return share_history_time


@dataclass(frozen=True, slots=True)
class Participant:
    """A thread participant (ChatParticipant): who, and from when they see the history."""

    raw_id: str
    display_name: str | None = None
    share_history_time: datetime | None = None

    @property
    def history_start(self) -> datetime | None:
        return history_from(self.share_history_time)


@dataclass(frozen=True, slots=True)
class Message:
    """One chat message (ChatMessage) as ACS lists it now.

    ``body`` is the text or HTML of user messages; system messages carry ``topic`` or
    ``participants`` and ``initiator_id`` instead.
    """

    id: str
    type: str
    created_on: datetime | None = None
    sequence_id: int | None = None
    # ACS's version (epoch ms; it grows with each edit and with the deletion).
    version: int | None = None
    edited_on: datetime | None = None
    deleted_on: datetime | None = None
    sender_id: str | None = None
    sender_display_name: str | None = None
    body: str = ""
    metadata: dict[str, str] = field(default_factory=dict)
    topic: str | None = None
    initiator_id: str | None = None
    participants: tuple[Participant, ...] = ()

    @property
    def number(self) -> int:
        return message_number(self.id)

    @property
    def deleted(self) -> bool:
        return self.deleted_on is not None

    @property
    def is_user_message(self) -> bool:
        return self.type in USER_TYPES

    @property
    def created(self) -> datetime | None:
        """The creation time, from the id when ACS did not say."""
        return self.created_on or time_of_message(self.id)

    def people(self) -> set[str]:
        """Raw ids the message refers to: its sender, initiator and listed participants."""
        ids = {self.sender_id, self.initiator_id, *(p.raw_id for p in self.participants)}
        return {i for i in ids if i}

    def as_json(self) -> dict[str, Any]:
        """Plain data (snake_case keys, ISO times), as the relay stores it."""
        return {
            "id": self.id,
            "type": self.type,
            "created_on": iso(self.created),
            "sequence_id": self.sequence_id,
            "version": self.version,
            "edited_on": iso(self.edited_on),
            "deleted_on": iso(self.deleted_on),
            "sender_id": self.sender_id,
            "sender_display_name": self.sender_display_name,
            "body": self.body,
            "metadata": dict(self.metadata),
            "topic": self.topic,
            "initiator_id": self.initiator_id,
            "participants": [
                {"raw_id": p.raw_id, "share_history_time": iso(p.share_history_time)}
                for p in self.participants
            ],
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Message:
        return cls(
            id=str(data["id"]),
            type=str(data.get("type") or ""),
            created_on=parse_time(data.get("created_on")),
            sequence_id=data.get("sequence_id"),
            version=data.get("version"),
            edited_on=parse_time(data.get("edited_on")),
            deleted_on=parse_time(data.get("deleted_on")),
            sender_id=data.get("sender_id"),
            sender_display_name=data.get("sender_display_name"),
            body=data.get("body") or "",
            metadata=dict(data.get("metadata") or {}),
            topic=data.get("topic"),
            initiator_id=data.get("initiator_id"),
            participants=tuple(
                Participant(p["raw_id"], None, parse_time(p.get("share_history_time")))
                for p in data.get("participants") or []
            ),
        )


@dataclass(frozen=True, slots=True)
class ReadReceipt:
    """A read receipt (ChatMessageReadReceipt): the reader has seen everything up to the message."""

    reader_id: str
    message_id: str
    read_on: datetime | None = None


@dataclass(frozen=True, slots=True)
class ThreadProperties:
    """A thread's properties (ChatThreadProperties)."""

    id: str
    topic: str
    created_on: datetime | None
    created_by: str | None


@dataclass(frozen=True, slots=True)
class ThreadItem:
    """A thread as the caller's thread list shows it (ChatThreadItem)."""

    id: str
    topic: str
    deleted_on: datetime | None
    last_message_received_on: datetime | None


@dataclass(frozen=True, slots=True)
class AddFailure:
    """Someone ACS did not add (``invalidParticipants``), with ACS's reason."""

    raw_id: str
    reason: str


@dataclass(frozen=True, slots=True)
class CreatedThread:
    id: str
    failures: tuple[AddFailure, ...] = ()


@dataclass(frozen=True, slots=True)
class Page(Generic[T]):
    """One page of a list, and the opaque token of the next page (None: the last)."""

    items: list[T]
    continuation: str | None = None


def history_start(participants: Iterable[Participant], raw_id: str) -> datetime | None:
    """When ``raw_id``'s view of the thread starts (None: all history, or not a participant)."""
    for p in participants:
        if p.raw_id == raw_id:
            return p.history_start
    return None


def latest_receipts(receipts: Iterable[ReadReceipt]) -> dict[str, int]:
    """Each reader's latest read message, as a message number (ACS keeps one per reader, but a
    list may still hold several while it catches up)."""
    latest: dict[str, int] = {}
    for receipt in receipts:
        number = message_number(receipt.message_id)
        if number > latest.get(receipt.reader_id, -1):
            latest[receipt.reader_id] = number
    return latest


def is_visible(created_on: datetime | None, start: datetime | None) -> bool:
    """Whether something that happened at ``created_on`` lies inside a history from ``start``."""
    return start is None or (created_on is not None and created_on >= start)
