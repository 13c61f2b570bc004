"""What a successful chat operation changed, as the store reports it to whoever listens.

The store hands one of these to its ``publish`` callback inside the operation's transaction, so
a listener that writes to the same database (the event outbox) commits or rolls back with the
change itself. Nothing here knows about events, schemas or HTTP; ``acs_emulator.events`` turns
changes into Event Grid events.

``version`` on thread changes is the thread's new version: the id-clock tick of the change
(epoch milliseconds, strictly increasing), as the real service's event examples suggest.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from .models import ChatMessage, ChatParticipant, ChatThread


@dataclass(frozen=True)
class ThreadCreated:
    thread: ChatThread
    # Everyone who joined at creation, the creator first.
    participants: tuple[ChatParticipant, ...]
    version: int


@dataclass(frozen=True)
class ThreadPropertiesUpdated:
    thread_id: str
    created_on: datetime
    edited_by: str
    topic: str
    edited_on: datetime
    version: int


@dataclass(frozen=True)
class ThreadDeleted:
    thread_id: str
    created_on: datetime
    deleted_by: str
    deleted_on: datetime
    version: int


@dataclass(frozen=True)
class MessageSent:
    thread_id: str
    message: ChatMessage


@dataclass(frozen=True)
class MessageEdited:
    thread_id: str
    message: ChatMessage


@dataclass(frozen=True)
class MessageDeleted:
    thread_id: str
    message: ChatMessage


@dataclass(frozen=True)
class ParticipantsAdded:
    thread_id: str
    created_on: datetime
    added_by: str
    participants: tuple[ChatParticipant, ...]
    time: datetime
    version: int


@dataclass(frozen=True)
class ParticipantRemoved:
    thread_id: str
    created_on: datetime
    removed_by: str
    participant: ChatParticipant
    time: datetime
    version: int


ChatChange = (
    ThreadCreated
    | ThreadPropertiesUpdated
    | ThreadDeleted
    | MessageSent
    | MessageEdited
    | MessageDeleted
    | ParticipantsAdded
    | ParticipantRemoved
)
Publish = Callable[[ChatChange], None]


def ignore(change: ChatChange) -> None:
    """The default listener: a store on its own publishes nowhere."""
