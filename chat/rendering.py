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

from chat.actions.messages import CLIENT_ID_KEY
from chat.people import Person
from chat.sanitize import clean_html, text_to_html
from chat.types import (
    HTML,
    MEMBER_TYPES,
    PARTICIPANT_ADDED,
    SYSTEM_TYPES,
    TOPIC_UPDATED,
    USER_TYPES,
    Message,
)


def iso(value: datetime | None) -> str | None:
    return value.isoformat() if value else None


def system_text(message: Message, people: dict[str, Person], hidden: set[str]) -> str | None:
    """A system message in words ("alice added carol"), or None when nothing is worth saying."""
    initiator_id = message.initiator_id
    initiator = people[initiator_id].name if initiator_id in people else None
    if message.type == TOPIC_UPDATED:
        topic = message.topic or ""
        if initiator and initiator_id not in hidden:
            return _("%(name)s changed the topic to “%(topic)s”") % {
                "name": initiator,
                "topic": topic,
            }
        return _("Topic changed to “%(topic)s”") % {"topic": topic}
    if message.type not in MEMBER_TYPES:
        return None
    ids = [p.raw_id for p in message.participants if p.raw_id not in hidden]
    if not ids:
        return None
    others = [i for i in ids if i != initiator_id]
    names = get_text_list([people[i].name for i in others if i in people], _("and"))
    visible_initiator = initiator if initiator_id not in hidden else None
    if message.type == PARTICIPANT_ADDED:
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
    message: Message,
    *,
    thread_id: str,
    people: dict[str, Person],
    hidden: Iterable[str] = (),
) -> dict[str, Any] | None:
    """What any viewer is shown of one message (None for messages shown to nobody).

    The same for every viewer, so a live event is rendered once for all of them;
    :func:`for_viewer` adds what differs ("mine", and the edit and delete links).
    """
    hidden = set(hidden)
    base: dict[str, Any] = {
        "id": message.id,
        "sequenceId": message.sequence_id or 0,
        "version": message.version,
        "createdOn": iso(message.created),
        "editedOn": iso(message.edited_on),
        "deletedOn": iso(message.deleted_on),
        "permalink": reverse("chat:message", args=[thread_id, message.id]),
    }
    if message.type in USER_TYPES:
        deleted = message.deleted
        body = "" if deleted else message.body
        html = clean_html(body) if message.type == HTML else text_to_html(body)
        sender = message.sender_id
        person = people.get(sender) if sender else None
        base.update(
            {
                "type": message.type,
                "sender": {
                    "rawId": sender,
                    "name": person.name if person else _("Unknown person"),
                },
                "html": "" if deleted else html,
                # What the edit box starts from: the text itself, or the sanitised HTML.
                "source": "" if deleted else (html if message.type == HTML else body),
                "clientId": message.metadata.get(CLIENT_ID_KEY),
            }
        )
        return base
    if message.type in SYSTEM_TYPES:
        words = system_text(message, people, hidden)
        if words is None:
            return None
        base.update(
            {
                "type": "system",
                "sender": None,
                "html": escape(words),
                "source": "",
                "clientId": None,
            }
        )
        return base
    return None


def for_viewer(shown: dict[str, Any], *, thread_id: str, me: str) -> dict[str, Any]:
    """A message as one viewer sees it: whether it is theirs, and if so the links to change it."""
    mine = bool(shown["sender"]) and shown["sender"]["rawId"] == me
    result = {**shown, "mine": mine}
    if mine and not shown["deletedOn"]:
        result["editUrl"] = reverse("chat:edit", args=[thread_id, shown["id"]])
        result["deleteUrl"] = reverse("chat:delete_message", args=[thread_id, shown["id"]])
    return result


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
