"""What one viewer's page receives for a relay event: the relay's log is viewer-neutral, pages
are not ("mine", edit links, names, history start).

Messages are rendered with `chat.rendering.message_json`, the same function the thread page
uses, so a message that arrives live looks exactly like one that was there on load (and its
`html` is as safe). The relay stores a message's state as plain data; `_AcsLike` gives that data
the shape of an SDK message for the renderer.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from types import SimpleNamespace
from typing import Any

from chat.people import people_for, service_raw_id
from chat.rendering import message_json, people_in_message

MESSAGE_KINDS = ("message.added", "message.edited", "message.deleted")
PARTICIPANT_KINDS = ("participants.added", "participants.removed")


@dataclass
class Viewer:
    """Who a connection shows events to, and from when they see the thread's history."""

    raw_id: str
    history_start: datetime | None


def parse_time(value: Any) -> datetime | None:
    if value is None or isinstance(value, datetime):
        return value
    return datetime.fromisoformat(str(value).replace("Z", "+00:00"))


def _identifier(raw_id: str | None) -> Any:
    return SimpleNamespace(raw_id=raw_id) if raw_id else None


def _raw(value: Any) -> str | None:
    """A raw id from a plain id or a `{raw_id: ...}` mapping."""
    if isinstance(value, dict):
        return value.get("raw_id") or value.get("rawId") or value.get("id")
    return value


def _content(kind: str, content: Any) -> Any:
    if kind in ("text", "html"):
        text = content.get("message", "") if isinstance(content, dict) else (content or "")
        return SimpleNamespace(message=text, topic=None, initiator=None, participants=None)
    content = content if isinstance(content, dict) else {}
    participants = [
        SimpleNamespace(identifier=_identifier(_raw(p)))
        for p in content.get("participants") or []
        if _raw(p)
    ]
    return SimpleNamespace(
        topic=content.get("topic"),
        initiator=_identifier(_raw(content.get("initiator") or content.get("initiator_id"))),
        participants=participants,
    )


def _acs_like(data: dict[str, Any]) -> Any:
    """A relay message state in the shape of an SDK ChatMessage."""
    kind = str(data.get("type") or "")
    return SimpleNamespace(
        id=str(data["id"]),
        type=kind,
        sequence_id=data.get("sequence_id"),
        version=data.get("version") or str(data["id"]),
        created_on=parse_time(data.get("created_on")),
        edited_on=parse_time(data.get("edited_on")),
        deleted_on=parse_time(data.get("deleted_on")),
        sender=_identifier(data.get("sender_id")),
        metadata=data.get("metadata") or {},
        content=_content(kind, data.get("content")),
    )


def message_created_on(data: dict[str, Any]) -> datetime | None:
    return parse_time(data.get("created_on"))


def render_event(thread_id: str, kind: str, data: dict[str, Any], viewer: Viewer) -> dict | None:
    """The `data` a viewer's page gets for an event, or None when it shows them nothing.

    Messages created before the viewer's history start are never shown (ACS hides them from
    that participant too); system messages about the service identity alone show nothing.
    """
    if kind in MESSAGE_KINDS:
        created = message_created_on(data)
        start = viewer.history_start
        if start is not None and (created is None or created < start):
            return None
        message = _acs_like(data)
        people = people_for(people_in_message(message))
        return message_json(
            message, thread_id=thread_id, me=viewer.raw_id, people=people, hidden={service_raw_id()}
        )
    if kind in PARTICIPANT_KINDS:
        hidden = service_raw_id()
        ids = [r for r in (_raw(p) for p in data.get("participants") or []) if r and r != hidden]
        if not ids:
            return None
        people = people_for(ids)
        return {
            "participants": [
                {"rawId": raw, "name": people[raw].name, "me": raw == viewer.raw_id} for raw in ids
            ]
        }
    if kind == "topic.changed":
        return {"topic": data.get("topic") or ""}
    if kind == "receipt":
        reader = data.get("reader")
        if not reader or reader == service_raw_id():
            return None
        return {
            "reader": reader,
            "name": people_for([reader])[reader].name,
            "messageId": str(data.get("message_id") or ""),
            "me": reader == viewer.raw_id,
        }
    return None


def participants_in(data: dict[str, Any]) -> list[tuple[str, datetime | None]]:
    """(raw id, share_history_time) for each participant a participants.* event names."""
    found = []
    for p in data.get("participants") or []:
        raw = _raw(p)
        if raw:
            sht = p.get("share_history_time") if isinstance(p, dict) else None
            found.append((raw, parse_time(sht)))
    return found
