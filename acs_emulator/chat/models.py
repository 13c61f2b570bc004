"""Plain values the chat store hands back; ``render.py`` turns them into the spec's JSON shapes."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Generic, TypeVar

T = TypeVar("T")

# The shareHistoryTime the real service gives thread creators (and the emulator's default for
# everyone): the whole history is shared.
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


# The range of times the API can carry (RFC 3339 has four-digit years), in stored units.
MIN_MS = -62_135_596_800_000  # 0001-01-01T00:00:00Z
MAX_MS = 253_402_300_799_999  # 9999-12-31T23:59:59.999Z


def to_ms(moment: datetime) -> int:
    """Epoch milliseconds, the unit timestamps are stored in."""
    return round(moment.timestamp() * 1000)


def from_ms(ms: int) -> datetime:
    return datetime.fromtimestamp(ms / 1000, tz=UTC)


def maybe_from_ms(ms: int | None) -> datetime | None:
    return None if ms is None else from_ms(ms)


@dataclass(frozen=True)
class ParticipantSpec:
    """A participant as a request names it (already type-checked, not yet checked to exist)."""

    raw_id: str
    display_name: str | None = None
    share_history_time: datetime | None = None


@dataclass(frozen=True)
class ChatParticipant:
    raw_id: str
    display_name: str | None
    share_history_time: datetime


@dataclass(frozen=True)
class ChatThread:
    id: str
    topic: str
    created_on: datetime
    created_by: str
    deleted_on: datetime | None
    last_message_received_on: datetime | None


@dataclass(frozen=True)
class CreateChatThreadResult:
    thread: ChatThread
    # Raw ids that could not be added (well-formed, but no such identity).
    invalid_participants: list[str]


@dataclass(frozen=True)
class ChatMessage:
    id: str
    type: str
    sequence_id: int
    version: str
    created_on: datetime
    sender: str | None = None
    sender_display_name: str | None = None
    # text/html messages
    message: str | None = None
    metadata: dict[str, str] | None = None
    edited_on: datetime | None = None
    deleted_on: datetime | None = None
    # system messages
    topic: str | None = None
    participants: tuple[ChatParticipant, ...] = ()
    initiator: str | None = None


@dataclass(frozen=True)
class ChatMessageReadReceipt:
    sender: str
    chat_message_id: str
    read_on: datetime


@dataclass(frozen=True)
class Page(Generic[T]):
    """One page of a list operation; ``next_state`` is what the nextLink must carry, if any."""

    items: list[T]
    next_state: dict[str, Any] | None = field(default=None)
