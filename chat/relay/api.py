"""What the rest of Kwebbel asks of the relay's stored state (all sync: database only)."""

from __future__ import annotations

from dataclasses import dataclass

from django.db import transaction

from chat.models import RelayThread
from chat.relay import log, observe
from chat.relay.log import current_cursor, events_after, group_name
from chat.types import Participant

__all__ = [
    "ThreadState",
    "current_cursor",
    "events_after",
    "group_name",
    "record_members",
    "thread_state",
]


@dataclass(frozen=True)
class ThreadState:
    """What the relay knows of a thread, read at once: the log's cursor, the members as of that
    cursor ({raw_id: share_history_time ISO}; None: not known), and whether the thread is
    deleted or unreadable for the service identity. The members are current while the thread
    is polled (``Relay.polled``): a poll publishes any change within a round."""

    cursor: int
    members: dict[str, str | None] | None
    deleted: bool
    service_removed: bool


def _state(row: RelayThread | None) -> ThreadState:
    if row is None:
        return ThreadState(0, None, False, False)
    return ThreadState(
        cursor=row.last_cursor,
        members=row.members,
        deleted=row.deleted_on is not None,
        service_removed=row.service_removed_on is not None,
    )


def thread_state(thread_id: str) -> ThreadState:
    """The relay's view of a thread (no ACS call)."""
    return _state(RelayThread.objects.filter(chat_thread_id=thread_id).first())


def record_members(thread_id: str, participants: list[Participant]) -> ThreadState:
    """Publish the members just read from ACS and return the state as of that observation, read
    under the same lock (so its cursor and its members belong together)."""
    with transaction.atomic():
        observe.observe_members(thread_id, participants, baseline_only=True)
        row = log.locked_thread(thread_id)
        members = {
            p.raw_id: (p.share_history_time.isoformat() if p.share_history_time else None)
            for p in participants
        }
        state = _state(row)
        return ThreadState(state.cursor, members, state.deleted, state.service_removed)
