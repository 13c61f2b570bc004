"""The spec's JSON shapes for the values the chat store returns."""

from __future__ import annotations

from typing import Any

from ..http import format_time
from .identifiers import identifier_model
from .models import (
    ChatMessage,
    ChatMessageReadReceipt,
    ChatParticipant,
    ChatThread,
    CreateChatThreadResult,
)


def thread_properties(thread: ChatThread) -> dict[str, Any]:
    """ChatThreadProperties."""
    body: dict[str, Any] = {
        "id": thread.id,
        "topic": thread.topic,
        "createdOn": format_time(thread.created_on),
        "createdByCommunicationIdentifier": identifier_model(thread.created_by),
    }
    if thread.deleted_on is not None:
        body["deletedOn"] = format_time(thread.deleted_on)
    return body


def thread_item(thread: ChatThread) -> dict[str, Any]:
    """ChatThreadItem, as listed by Chat_ListChatThreads."""
    body: dict[str, Any] = {"id": thread.id, "topic": thread.topic}
    if thread.deleted_on is not None:
        body["deletedOn"] = format_time(thread.deleted_on)
    if thread.last_message_received_on is not None:
        body["lastMessageReceivedOn"] = format_time(thread.last_message_received_on)
    return body


def invalid_participants(raw_ids: list[str]) -> list[dict[str, str]]:
    """CommunicationError per participant that could not be added, as the real service words it.

    ``target`` must be the raw id: the SDK matches it to the participants it sent.
    """
    return [{"code": "403", "message": "Permissions check failed", "target": r} for r in raw_ids]


def create_thread_result(result: CreateChatThreadResult) -> dict[str, Any]:
    body: dict[str, Any] = {"chatThread": thread_properties(result.thread)}
    if result.invalid_participants:
        body["invalidParticipants"] = invalid_participants(result.invalid_participants)
    return body


def participant(p: ChatParticipant) -> dict[str, Any]:
    body: dict[str, Any] = {"communicationIdentifier": identifier_model(p.raw_id)}
    if p.display_name is not None:
        body["displayName"] = p.display_name
    body["shareHistoryTime"] = format_time(p.share_history_time)
    return body


def message(m: ChatMessage) -> dict[str, Any]:
    """ChatMessage; system messages carry no sender fields, but always a ``content`` object."""
    content: dict[str, Any] = {}
    if m.type in ("text", "html"):
        content["message"] = m.message or ""
    elif m.type == "topicUpdated":
        content["topic"] = m.topic
    else:
        content["participants"] = [participant(p) for p in m.participants]
    if m.initiator is not None:
        content["initiatorCommunicationIdentifier"] = identifier_model(m.initiator)
    body: dict[str, Any] = {
        "id": m.id,
        "type": m.type,
        "sequenceId": str(m.sequence_id),
        "version": m.version,
        "content": content,
        "createdOn": format_time(m.created_on),
    }
    if m.sender is not None:
        body["senderDisplayName"] = m.sender_display_name or ""
        body["senderCommunicationIdentifier"] = identifier_model(m.sender)
    if m.deleted_on is not None:
        body["deletedOn"] = format_time(m.deleted_on)
    if m.edited_on is not None:
        body["editedOn"] = format_time(m.edited_on)
    if m.metadata:
        body["metadata"] = m.metadata
    return body


def read_receipt(r: ChatMessageReadReceipt) -> dict[str, Any]:
    return {
        "senderCommunicationIdentifier": identifier_model(r.sender),
        "chatMessageId": r.chat_message_id,
        "readOn": format_time(r.read_on),
    }
