"""Type checks for chat request bodies: JSON in, typed values out, or a 400 naming the field.

Only shapes are checked here (objects, strings, arrays, date-times); the rules about values
(non-empty topic, message size, participant limits) live in the store. Unknown fields are ignored,
as the real service does. For optional fields ``null`` means "not given".
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from ..errors import bad_request
from ..http import parse_time
from .identifiers import parse_identifier
from .models import ParticipantSpec

# Not a documented ACS limit; keeps display names to a sane size.
MAX_DISPLAY_NAME_LENGTH = 256


def require_object(body: Any, what: str) -> dict[str, Any]:
    if not isinstance(body, dict):
        raise bad_request(f"The request body must be a JSON object ({what}).")
    return body


def required_str(obj: dict[str, Any], key: str, *, prefix: str = "") -> str:
    value = obj.get(key)
    if value is None:
        raise bad_request(f"'{prefix}{key}' is required.", target=prefix + key)
    if not isinstance(value, str):
        raise bad_request(f"'{prefix}{key}' must be a string.", target=prefix + key)
    return value


def optional_str(obj: dict[str, Any], key: str, *, prefix: str = "") -> str | None:
    value = obj.get(key)
    if value is not None and not isinstance(value, str):
        raise bad_request(f"'{prefix}{key}' must be a string.", target=prefix + key)
    return value


def display_name(obj: dict[str, Any], key: str, *, prefix: str = "") -> str | None:
    value = optional_str(obj, key, prefix=prefix)
    if value is not None and len(value) > MAX_DISPLAY_NAME_LENGTH:
        raise bad_request(
            f"'{prefix}{key}' must be at most {MAX_DISPLAY_NAME_LENGTH} characters.",
            target=prefix + key,
        )
    return value


def participant(value: Any, *, field: str) -> ParticipantSpec:
    """A ChatParticipant: ``communicationIdentifier`` plus optional name and share time."""
    if not isinstance(value, dict):
        raise bad_request(f"'{field}' must be a participant object.", target=field)
    raw_id = parse_identifier(
        value.get("communicationIdentifier"), field=f"{field}.communicationIdentifier"
    )
    share = optional_str(value, "shareHistoryTime", prefix=f"{field}.")
    share_time: datetime | None = None
    if share is not None:
        share_time = parse_time(share, field=f"{field}.shareHistoryTime")
    return ParticipantSpec(
        raw_id, display_name(value, "displayName", prefix=f"{field}."), share_time
    )


def participants(value: Any, *, field: str = "participants") -> list[ParticipantSpec]:
    if not isinstance(value, list):
        raise bad_request(f"'{field}' must be an array of participants.", target=field)
    return [participant(item, field=f"{field}[{i}]") for i, item in enumerate(value)]


def metadata(value: Any) -> dict[str, str]:
    """Message metadata: an object of string values."""
    if not isinstance(value, dict):
        raise bad_request("'metadata' must be an object of strings.", target="metadata")
    for key, item in value.items():
        if not isinstance(item, str):
            raise bad_request(f"'metadata.{key}' must be a string.", target="metadata")
    return value


def create_chat_thread(body: Any) -> tuple[str, list[ParticipantSpec]]:
    obj = require_object(body, "CreateChatThreadRequest")
    topic = required_str(obj, "topic")
    raw = obj.get("participants")
    return topic, [] if raw is None else participants(raw)


def update_chat_thread(body: Any) -> str | None:
    obj = require_object(body, "UpdateChatThreadRequest")
    if "topic" in obj and obj["topic"] is None:
        # merge-patch null would remove the topic, which a thread must have.
        raise bad_request("'topic' cannot be removed.", target="topic")
    return optional_str(obj, "topic")


def send_chat_message(body: Any) -> dict[str, Any]:
    obj = require_object(body, "SendChatMessageRequest")
    fields: dict[str, Any] = {"content": required_str(obj, "content")}
    message_type = optional_str(obj, "type")
    if message_type is not None:
        fields["type"] = message_type
    fields["sender_display_name"] = display_name(obj, "senderDisplayName")
    raw_metadata = obj.get("metadata")
    fields["metadata"] = None if raw_metadata is None else metadata(raw_metadata)
    return fields


def update_chat_message(body: Any) -> tuple[str | None, dict[str, str] | None]:
    """(content, metadata); ``"metadata": null`` clears the metadata (returned as ``{}``)."""
    obj = require_object(body, "UpdateChatMessageRequest")
    if "content" in obj and obj["content"] is None:
        raise bad_request("'content' cannot be removed.", target="content")
    content = optional_str(obj, "content")
    new_metadata: dict[str, str] | None = None
    if "metadata" in obj:
        new_metadata = {} if obj["metadata"] is None else metadata(obj["metadata"])
    return content, new_metadata


def add_chat_participants(body: Any) -> list[ParticipantSpec]:
    obj = require_object(body, "AddChatParticipantsRequest")
    if obj.get("participants") is None:
        raise bad_request("'participants' is required.", target="participants")
    return participants(obj["participants"])


def remove_chat_participant(body: Any) -> str:
    return parse_identifier(body, field="participantCommunicationIdentifier")


def send_typing_notification(body: Any) -> str | None:
    obj = require_object(body, "SendTypingNotificationRequest")
    return display_name(obj, "senderDisplayName")


def send_chat_read_receipt(body: Any) -> str:
    obj = require_object(body, "SendReadReceiptRequest")
    message_id = required_str(obj, "chatMessageId")
    if not message_id:
        raise bad_request("'chatMessageId' must not be empty.", target="chatMessageId")
    return message_id
