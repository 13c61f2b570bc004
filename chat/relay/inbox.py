"""Every member's other pages hear of their threads' changes: the conversation list, unread
counts in the tab title, notifications.

A page follows the thread it shows (``subscription.py``); everything else a user's sockets need
to know comes as an **inbox** frame, pushed to the user's channel-layer group, which every socket
of the user joins (``chat.sessions``): a new message (with the start of its text), someone added
or removed (the user themselves included, so a conversation appears in or leaves their list), a
new topic, a deleted thread, and the user's own read receipts (another tab has read it). A socket
skips the inbox frames of threads it follows: it has the events themselves. A message frame
says whether it mentions the receiving user (``mentionsMe``), so a list can count mentions.
Reactions (``message.reactions``) reach only the pages that follow the thread, not the inbox.

Recipients are the thread's members as the relay published them when the event was logged
(``RelayThread.members``), plus those an event removes. Frames carry the thread's topic, so a
list can show a conversation it did not know of. Like events, they are best effort (a page that
reloads reads the list from ACS); unlike events they are not logged.
"""

from __future__ import annotations

import html
import threading
from collections.abc import Iterable
from typing import Any

import nh3

from chat.mentions import has_mentions, mentioned
from chat.relay.events import (
    MESSAGE_ADDED,
    PARTICIPANTS_ADDED,
    PARTICIPANTS_REMOVED,
    RECEIPT,
    THREAD_DELETED,
    TOPIC_CHANGED,
    Event,
)
from chat.sanitize import clean_html
from chat.types import HTML, USER_TYPES
from tokens.models import AcsIdentity

INBOX_KINDS = (
    MESSAGE_ADDED,
    PARTICIPANTS_ADDED,
    PARTICIPANTS_REMOVED,
    TOPIC_CHANGED,
    THREAD_DELETED,
    RECEIPT,
)
# The start of a message shown in a list or a notification, in characters.
PREVIEW_LENGTH = 140


def recipients(event: Event, members: Iterable[str]) -> set[str]:
    """Raw ids of the users whose inboxes hear of an event."""
    if event.kind not in INBOX_KINDS:
        return set()
    if event.kind == RECEIPT:
        return {event.data.get("reader") or ""} - {""}
    if event.kind == MESSAGE_ADDED and event.data.get("type") not in USER_TYPES:
        return set()  # system messages come with their own kinds (added, removed, topic)
    found = set(members)
    if event.kind == PARTICIPANTS_REMOVED:
        found |= {p["raw_id"] for p in event.data.get("participants") or []}
    return found


class _Users:
    """Raw id → site user pk, cached per process (the mapping never changes for an identity)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._known: dict[str, int | None] = {}

    def reset(self) -> None:
        with self._lock:
            self._known.clear()

    def pks(self, raw_ids: Iterable[str]) -> dict[str, int]:
        wanted = set(raw_ids)
        with self._lock:
            missing = wanted - self._known.keys()
        if missing:
            rows = AcsIdentity.objects.filter(communication_user_id__in=missing).values_list(
                "communication_user_id", "user_id"
            )
            found = dict(rows)
            with self._lock:
                for raw in missing:
                    self._known[raw] = found.get(raw)
        with self._lock:
            return {raw: pk for raw in wanted if (pk := self._known.get(raw)) is not None}


users = _Users()


def preview(body: str, kind: str) -> str:
    """The start of a message as plain text (HTML reduced to its text)."""
    # nh3 returns the text escaped (&amp;, &nbsp;); the preview is plain text, set as text.
    text = html.unescape(nh3.clean(body, tags=set())) if kind == HTML else body
    text = " ".join(text.split())
    return text if len(text) <= PREVIEW_LENGTH else text[: PREVIEW_LENGTH - 1] + "…"


def mentions_in(data: dict[str, Any]) -> set[str]:
    """Raw ids a logged message mentions (its body as ACS holds it, sanitised first)."""
    body, kind = data.get("body") or "", data.get("type") or ""
    if not has_mentions(body, kind):
        return set()
    return mentioned(clean_html(body), kind)


def layer_message(event: Event, topic: str | None) -> dict[str, Any]:
    """The channel-layer message for a user's group (rendered by the receiving consumer)."""
    return {
        "type": "relay.inbox",
        "thread": event.thread_id,
        "topic": topic or "",
        "event": {
            "cursor": event.cursor,
            "kind": event.kind,
            "data": event.data,
            "at": event.at.isoformat() if event.at else None,
        },
    }


def frame(event: Event, topic: str, me: str, names: dict[str, str]) -> dict[str, Any] | None:
    """The inbox frame one user's socket is sent (``names``: raw id → name, for the sender)."""
    data = event.data
    at = event.at.isoformat() if event.at else None
    base = {"type": "inbox", "thread": event.thread_id, "topic": topic, "at": at}
    if event.kind == MESSAGE_ADDED:
        sender = data.get("sender_id")
        text = "" if data.get("deleted_on") else preview(data.get("body") or "", data["type"])
        mentions = set() if data.get("deleted_on") else mentions_in(data)
        return {
            **base,
            "kind": "message",
            "id": data.get("id"),
            "sender": {"rawId": sender, "name": names.get(sender or "", "")},
            "mine": sender == me,
            "preview": text,
            # The conversation list counts these apart, and notifies of them when asked to.
            "mentionsMe": sender != me and me in mentions,
        }
    if event.kind in (PARTICIPANTS_ADDED, PARTICIPANTS_REMOVED):
        ids = [p["raw_id"] for p in data.get("participants") or []]
        kind = "added" if event.kind == PARTICIPANTS_ADDED else "removed"
        return {**base, "kind": kind, "me": me in ids}
    if event.kind == TOPIC_CHANGED:
        return {**base, "kind": "topic", "topic": data.get("topic") or ""}
    if event.kind == THREAD_DELETED:
        return {**base, "kind": "deleted"}
    if event.kind == RECEIPT:
        return {**base, "kind": "read", "id": data.get("message_id")}
    return None
