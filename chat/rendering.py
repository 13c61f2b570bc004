"""One representation of a chat message, shared by the templates and the browser script.

`message_json` builds a plain dict from an ACS message. Templates render that dict, and the
same dict can be sent as JSON to pages that add messages as they arrive, so both paths show
identical markup. Its `html` field is always safe: text is escaped, HTML is sanitised, system
messages are written from site users' names (escaped), never from ACS display names.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any

from django.urls import reverse
from django.utils.html import escape
from django.utils.text import get_text_list
from django.utils.translation import gettext as _

from chat.actions.messages import CLIENT_ID_KEY, HTML, TEXT, message_type, sender_id
from chat.people import Person
from chat.sanitize import clean_html, text_to_html

SYSTEM_TYPES = ("participantAdded", "participantRemoved", "topicUpdated")


def iso(value: datetime | None) -> str | None:
    return value.isoformat() if value else None


def people_in_message(message: Any) -> set[str]:
    """Raw ids a message refers to: its sender, initiator and listed participants."""
    ids = {sender_id(message)}
    content = message.content
    if content is not None:
        ids.add(getattr(content.initiator, "raw_id", None))
        for p in content.participants or []:
            ids.add(p.identifier.raw_id)
    return {i for i in ids if i}


def system_text(message: Any, people: dict[str, Person], hidden: set[str]) -> str | None:
    """A system message in words ("alice added carol"), or None when nothing is worth saying."""
    content = message.content
    kind = message_type(message)
    initiator_id = getattr(content.initiator, "raw_id", None) if content else None
    initiator = people[initiator_id].name if initiator_id in people else None
    if kind == "topicUpdated":
        topic = content.topic or ""
        if initiator and initiator_id not in hidden:
            return _("%(name)s changed the topic to “%(topic)s”") % {
                "name": initiator,
                "topic": topic,
            }
        return _("Topic changed to “%(topic)s”") % {"topic": topic}
    if kind not in ("participantAdded", "participantRemoved"):
        return None
    ids = [p.identifier.raw_id for p in content.participants or []]
    ids = [i for i in ids if i not in hidden]
    if not ids:
        return None
    others = [i for i in ids if i != initiator_id]
    names = get_text_list([people[i].name for i in others if i in people], _("and"))
    visible_initiator = initiator if initiator_id not in hidden else None
    if kind == "participantAdded":
        if not others:
            return _("%(name)s joined") % {"name": visible_initiator or people[ids[0]].name}
        if visible_initiator:
            return _("%(name)s added %(names)s") % {"name": visible_initiator, "names": names}
        return _("%(names)s joined") % {"names": names}
    if not others:
        return _("%(name)s left") % {"name": visible_initiator or people[ids[0]].name}
    if visible_initiator:
        return _("%(name)s removed %(names)s") % {"name": visible_initiator, "names": names}
    return _("%(names)s was removed") % {"names": names}


def message_json(
    message: Any,
    *,
    thread_id: str,
    me: str,
    people: dict[str, Person],
    hidden: Iterable[str] = (),
) -> dict[str, Any] | None:
    """The dict a page shows for one message, or None for messages shown to nobody."""
    kind = message_type(message)
    hidden = set(hidden)
    sender = sender_id(message)
    base: dict[str, Any] = {
        "id": message.id,
        "sequenceId": int(message.sequence_id) if str(message.sequence_id).isdigit() else 0,
        "version": message.version,
        "createdOn": iso(message.created_on),
        "editedOn": iso(message.edited_on),
        "deletedOn": iso(message.deleted_on),
        "permalink": reverse("chat:message", args=[thread_id, message.id]),
    }
    if kind in (TEXT, HTML):
        body = message.content.message if message.content else ""
        body = body or ""
        deleted = bool(message.deleted_on)
        html = "" if deleted else (clean_html(body) if kind == HTML else text_to_html(body))
        person = people.get(sender) if sender else None
        metadata = message.metadata or {}
        base.update(
            {
                "type": kind,
                "sender": {
                    "rawId": sender,
                    "name": person.name if person else _("Unknown person"),
                },
                "mine": sender == me,
                "html": html,
                # What the edit box starts from: the text itself, or the sanitised HTML.
                "source": "" if deleted else (clean_html(body) if kind == HTML else body),
                "clientId": metadata.get(CLIENT_ID_KEY),
            }
        )
        if base["mine"] and not deleted:
            base["editUrl"] = reverse("chat:edit", args=[thread_id, message.id])
            base["deleteUrl"] = reverse("chat:delete_message", args=[thread_id, message.id])
        return base
    if kind in SYSTEM_TYPES:
        words = system_text(message, people, hidden)
        if words is None:
            return None
        base.update(
            {
                "type": "system",
                "sender": None,
                "mine": False,
                "html": escape(words),
                "source": "",
                "clientId": None,
            }
        )
        return base
    return None


def add_seen_by(
    messages: list[dict[str, Any]],
    receipts: dict[str, int],
    people: dict[str, Person],
    *,
    me: str,
    hidden: Iterable[str] = (),
) -> None:
    """Put each reader's name under the newest shown message they have read.

    A receipt for message N means everything up to N was seen (ids are epoch milliseconds),
    so "seen by" appears once per reader instead of under every message.
    """
    hidden = set(hidden)
    for message in messages:
        message["seenBy"] = []
    shown = [m for m in messages if m["type"] != "system" and not m["deletedOn"]]
    for reader, last_read in sorted(receipts.items(), key=lambda r: r[0]):
        if reader == me or reader in hidden:
            continue
        seen = [
            m
            for m in shown
            if int(m["id"]) <= last_read and (m["sender"] or {}).get("rawId") != reader
        ]
        if seen and reader in people:
            seen[-1]["seenBy"].append(people[reader].name)


def message_strings() -> dict[str, str]:
    """Translated words the browser needs to render messages the way _message.html does."""
    return {
        "edited": _("edited"),
        "deleted": _("deleted"),
        "deletedBody": _("This message was deleted."),
        "edit": _("Edit"),
        "delete": _("Delete"),
        "confirmDelete": _("Delete this message?"),
        "link": _("Link to this message"),
        # The browser puts the names in place of "%(names)s".
        "seenBy": _("Seen by %(names)s"),
        "and": _("and"),
    }
