"""The relay's event kinds and the logged event.

Events are stored as JSON and sent to browsers, so their ``data`` is plain data: for the
``message.*`` kinds a :meth:`chat.types.Message.as_json`, for the others the small dicts below.

| kind                   | data                                                       |
|------------------------|------------------------------------------------------------|
| `message.added`        | the message                                                |
| `message.edited`       | the message as it is now                                   |
| `message.deleted`      | the message (its body is gone)                             |
| `participants.added`   | `{participants: [{raw_id, share_history_time}], initiator}` |
| `participants.removed` | `{participants: [{raw_id, share_history_time}], initiator}` |
| `topic.changed`        | `{topic, initiator}`                                       |
| `receipt`              | `{reader, message_id}`                                     |
| `message.reactions`    | `{message_id, reactions: [{emoji, users: [raw_id]}]}`     |
| `thread.deleted`       | `{initiator}`: nothing follows                             |
| `relay.stopped`        | `{reason}`: changes made outside Kwebbel no longer arrive  |

`message.reactions` carries all of one message's reactions as they are now (chat.reactions).

``at`` is when the change happened (a message's creation time; otherwise the moment it was
observed; for `message.reactions` the message's creation time, so a viewer who cannot see the
message never hears of its reactions). A viewer whose history starts later sees none of it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

MESSAGE_ADDED = "message.added"
MESSAGE_EDITED = "message.edited"
MESSAGE_DELETED = "message.deleted"
PARTICIPANTS_ADDED = "participants.added"
PARTICIPANTS_REMOVED = "participants.removed"
TOPIC_CHANGED = "topic.changed"
RECEIPT = "receipt"
MESSAGE_REACTIONS = "message.reactions"
THREAD_DELETED = "thread.deleted"
RELAY_STOPPED = "relay.stopped"

MESSAGE_KINDS = (MESSAGE_ADDED, MESSAGE_EDITED, MESSAGE_DELETED)
PARTICIPANT_KINDS = (PARTICIPANTS_ADDED, PARTICIPANTS_REMOVED)
KINDS = (
    *MESSAGE_KINDS,
    *PARTICIPANT_KINDS,
    TOPIC_CHANGED,
    RECEIPT,
    MESSAGE_REACTIONS,
    THREAD_DELETED,
    RELAY_STOPPED,
)
# Kinds every viewer gets, whatever their history start: they are about the thread now.
UNFILTERED_KINDS = (THREAD_DELETED, RELAY_STOPPED)

# Why the relay stopped reading a thread (RELAY_STOPPED's reason).
SERVICE_REMOVED = "service-removed"


@dataclass(frozen=True)
class Event:
    """One logged change; ``cursor`` is its place in the thread's log."""

    thread_id: str
    cursor: int
    kind: str
    data: dict[str, Any]
    at: datetime | None = None
