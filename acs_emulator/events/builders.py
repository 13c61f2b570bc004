"""Chat changes -> the eight thread-level ACS chat events: type, subject and ``data``.

Shapes follow Microsoft's documented examples (Learn, "Azure Communication Services - chat
events") field by field; where Microsoft's sources disagree the choice is:

* ``version``: JSON numbers, as the Event Grid spec types it (int64). The docs' examples show a
  string on the three ``...InThread`` message events; ``message_version="string"`` (option
  ``--events-message-version string``) sends those as strings, so a webhook can be tried on both.
* Identifiers: ``{"rawId", "communicationUser": {"id"}}``, without ``kind``, as every example
  (and as the Chat API's own answers).
* Times in ``data``: the thread-level examples' ``+00:00`` form with milliseconds
  (``2021-02-20T00:58:05.440+00:00``); the emulator keeps times to the millisecond.
* ``type``: ``Text`` / ``Html`` (the examples say ``Text``; the Chat API's ``text``/``html``).
* ``metadata`` on message events is always present (``{}`` when the message has none), as in
  every example; thread metadata, participant metadata, ``retentionPolicy`` and ``reason`` are
  left out: the spec has them, the docs' examples do not, and Chat 2024-03-07 has no such data.
* Participants without a display name carry ``"displayName": ""``.
* ``ChatThreadParticipantAdded/Removed`` carry ``createTime`` (the docs' examples do; the spec
  does not define it there). One ``ChatThreadParticipantAdded`` per member added.
* System messages (``participantAdded``, ``topicUpdated``...) raise no message events: nothing
  documents that they do; their changes have their own thread events.
* Subjects: ``participantadded``/``participantremoved`` in lower case, as in the thread-level
  examples; raw ids are not escaped.
"""

from __future__ import annotations

import base64
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from ..chat import changes
from ..chat.identifiers import identifier_model as identifier
from ..chat.models import ChatMessage, ChatParticipant

PREFIX = "Microsoft.Communication."
EVENT_TYPES = tuple(
    PREFIX + name
    for name in (
        "ChatMessageReceivedInThread",
        "ChatMessageEditedInThread",
        "ChatMessageDeletedInThread",
        "ChatThreadCreated",
        "ChatThreadDeleted",
        "ChatThreadParticipantAdded",
        "ChatThreadParticipantRemoved",
        "ChatThreadPropertiesUpdated",
    )
)
MESSAGE_TYPES = {"text": "Text", "html": "Html"}


@dataclass(frozen=True)
class ChatEvent:
    """One event before its envelope: ``Microsoft.Communication.<name>``, subject and data."""

    event_type: str
    subject: str
    data: dict[str, Any]


def event_time(moment: datetime) -> str:
    """``2021-02-20T00:58:05.440+00:00``: the thread-level examples' form, in milliseconds."""
    utc = moment.astimezone(UTC).replace(tzinfo=None)
    return utc.isoformat(timespec="milliseconds") + "+00:00"


def transaction_id() -> str:
    """Shaped like the service's correlation vectors: ``gK6+kgANy0O1wchlVKVTJg.1.1.1.1.92.1``."""
    base = base64.b64encode(secrets.token_bytes(16)).decode().rstrip("=")
    return f"{base}.1.1.1.1.{secrets.randbelow(2**31)}.1"


class EventBuilder:
    """Builds the events of one change; ``message_version`` is ``"number"`` or ``"string"``."""

    def __init__(self, *, message_version: str = "number") -> None:
        self.message_version = message_version

    def build(self, change: changes.ChatChange) -> list[ChatEvent]:
        correlation = transaction_id()
        match change:
            case changes.MessageSent():
                return [self._message("ChatMessageReceivedInThread", change, correlation)]
            case changes.MessageEdited():
                return [self._message("ChatMessageEditedInThread", change, correlation)]
            case changes.MessageDeleted():
                return [self._message("ChatMessageDeletedInThread", change, correlation)]
            case changes.ThreadCreated():
                return [_thread_created(change, correlation)]
            case changes.ThreadDeleted():
                return [_thread_deleted(change, correlation)]
            case changes.ThreadPropertiesUpdated():
                return [_properties_updated(change, correlation)]
            case changes.ParticipantsAdded():
                return [
                    _participant_event("Added", change, p, change.added_by, correlation)
                    for p in change.participants
                ]
            case changes.ParticipantRemoved():
                return [
                    _participant_event(
                        "Removed", change, change.participant, change.removed_by, correlation
                    )
                ]
        raise TypeError(f"not a chat change: {change!r}")

    def _message(
        self,
        name: str,
        change: changes.MessageSent | changes.MessageEdited | changes.MessageDeleted,
        correlation: str,
    ) -> ChatEvent:
        message: ChatMessage = change.message
        sender = message.sender or ""
        data: dict[str, Any] = {}
        if name != "ChatMessageDeletedInThread":
            data["messageBody"] = message.message or ""
            data["metadata"] = dict(message.metadata or {})
        if message.edited_on is not None and name == "ChatMessageEditedInThread":
            data["editTime"] = event_time(message.edited_on)
        if message.deleted_on is not None and name == "ChatMessageDeletedInThread":
            data["deleteTime"] = event_time(message.deleted_on)
        data.update(
            {
                "messageId": message.id,
                "type": MESSAGE_TYPES.get(message.type, message.type),
                "version": message.version
                if self.message_version == "string"
                else int(message.version),
                "senderDisplayName": message.sender_display_name or "",
                "senderCommunicationIdentifier": identifier(sender),
                "composeTime": event_time(message.created_on),
                "threadId": change.thread_id,
                "transactionId": correlation,
            }
        )
        return ChatEvent(PREFIX + name, f"thread/{change.thread_id}/sender/{sender}", data)


def _participant(participant: ChatParticipant) -> dict[str, Any]:
    return {
        "displayName": participant.display_name or "",
        "participantCommunicationIdentifier": identifier(participant.raw_id),
    }


def _thread_created(change: changes.ThreadCreated, correlation: str) -> ChatEvent:
    thread = change.thread
    return ChatEvent(
        PREFIX + "ChatThreadCreated",
        f"thread/{thread.id}/createdBy/{thread.created_by}",
        {
            "createdByCommunicationIdentifier": identifier(thread.created_by),
            "properties": {"topic": thread.topic},
            "participants": [_participant(p) for p in change.participants],
            "createTime": event_time(thread.created_on),
            "version": change.version,
            "threadId": thread.id,
            "transactionId": correlation,
        },
    )


def _thread_deleted(change: changes.ThreadDeleted, correlation: str) -> ChatEvent:
    return ChatEvent(
        PREFIX + "ChatThreadDeleted",
        f"thread/{change.thread_id}/deletedBy/{change.deleted_by}",
        {
            "deletedByCommunicationIdentifier": identifier(change.deleted_by),
            "deleteTime": event_time(change.deleted_on),
            "createTime": event_time(change.created_on),
            "version": change.version,
            "threadId": change.thread_id,
            "transactionId": correlation,
        },
    )


def _properties_updated(change: changes.ThreadPropertiesUpdated, correlation: str) -> ChatEvent:
    return ChatEvent(
        PREFIX + "ChatThreadPropertiesUpdated",
        f"thread/{change.thread_id}/editedBy/{change.edited_by}",
        {
            "editedByCommunicationIdentifier": identifier(change.edited_by),
            "editTime": event_time(change.edited_on),
            "properties": {"topic": change.topic},
            "createTime": event_time(change.created_on),
            "version": change.version,
            "threadId": change.thread_id,
            "transactionId": correlation,
        },
    )


def _participant_event(
    verb: str,
    change: changes.ParticipantsAdded | changes.ParticipantRemoved,
    participant: ChatParticipant,
    actor: str,
    correlation: str,
) -> ChatEvent:
    return ChatEvent(
        f"{PREFIX}ChatThreadParticipant{verb}",
        f"thread/{change.thread_id}/participant{verb.lower()}/{participant.raw_id}",
        {
            "time": event_time(change.time),
            f"{verb.lower()}ByCommunicationIdentifier": identifier(actor),
            f"participant{verb}": _participant(participant),
            "createTime": event_time(change.created_on),
            "version": change.version,
            "threadId": change.thread_id,
            "transactionId": correlation,
        },
    )
