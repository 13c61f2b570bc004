"""One representation of a chat message, for the page load and live events alike.

`message_json` builds a plain dict from an ACS message, with its markup rendered once from
``templates/chat/_message.html`` (``markup``): the thread page puts that markup in place when it
loads, when it loads older messages and when a live event brings one, so every path shows the
same thing and the browser builds no message itself. The markup is the same for every viewer;
the page marks its own messages (``data-sender``). The `html` field is always safe: text is
escaped, HTML is sanitised, system messages are written from site users' names (escaped), never
from ACS display names; the markup is built from it with the template's escaping.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any

from django.template.loader import render_to_string
from django.urls import reverse
from django.utils.html import escape
from django.utils.text import get_text_list
from django.utils.translation import gettext as _

from chat.actions.messages import CLIENT_ID_KEY
from chat.attachments import FILES_ONLY_KEY, shown_files
from chat.mentions import mentioned
from chat.people import Person
from chat.reactions import ReactionState
from chat.replies import Quote, reply_target
from chat.sanitize import clean_html, text_to_html
from chat.types import (
    HTML,
    MEMBER_TYPES,
    PARTICIPANT_ADDED,
    SYSTEM_TYPES,
    TOPIC_UPDATED,
    USER_TYPES,
    Message,
    is_visible,
    parse_time,
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
    quotes: Mapping[str, Quote | None] | None = None,
    reactions: ReactionState | None = None,
) -> dict[str, Any] | None:
    """What any viewer is shown of one message (None for messages shown to nobody).

    The same for every viewer, so a live event is rendered once for all of them;
    :func:`for_viewer` adds what differs ("mine", the edit and delete links, and whether a
    reply's original is inside the viewer's history). ``quotes`` are the resolved originals of
    replies (``chat.replies.resolve``), ``reactions`` the messages' reactions
    (``chat.reactions.reactions_for``); their people must be in ``people``.
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
                "reply": None if deleted else reply_json(message, thread_id, quotes, people),
                "mentions": [] if deleted else sorted(mentioned(html, message.type)),
                "reactions": (
                    [] if deleted else reactions_json((reactions or {}).get(message.id), people)
                ),
            }
        )
        # Files: only Kwebbel's own download links of this thread (chat.attachments).
        files = [] if deleted else shown_files(message.metadata, thread_id)
        base["attachments"] = files
        if files and message.metadata.get(FILES_ONLY_KEY) and not message.edited_on:
            base["html"] = base["source"] = ""  # the text only repeats the file names
        return _with_markup(base)
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
        return _with_markup(base)
    return None


def reply_json(
    message: Message,
    thread_id: str,
    quotes: Mapping[str, Quote | None] | None,
    people: dict[str, Person],
) -> dict[str, Any] | None:
    """The quote above a reply (None: not a reply). An original not resolved (past the page's
    budget of reads) is a plain link; one unknown or deleted shows nothing of itself."""
    target = reply_target(message)
    if target is None:
        return None
    link = {"id": target, "permalink": reverse("chat:message", args=[thread_id, target])}
    if quotes is None or target not in quotes:
        return {**link, "unresolved": True}
    quote = quotes[target]
    if quote is None or quote.get("gone"):
        return {**link, "hidden": True}
    person = people.get(quote.get("sender") or "")
    return {
        **link,
        "name": person.name if person else _("Unknown person"),
        "text": quote.get("text") or "",
        "createdOn": quote.get("created"),
    }


def reactions_json(
    entries: list[dict[str, Any]] | None, people: dict[str, Person]
) -> list[dict[str, Any]]:
    """A message's reactions as shown: each emoji, how many, and who (names for the label)."""
    shown = []
    for entry in entries or []:
        users = list(entry["users"])
        names = [people[raw].name if raw in people else _("Unknown person") for raw in users]
        shown.append(
            {
                "emoji": entry["emoji"],
                "count": len(users),
                "users": users,
                "names": names,
                "label": _("%(emoji)s %(count)d: %(names)s")
                % {"emoji": entry["emoji"], "count": len(users), "names": ", ".join(names)},
            }
        )
    return shown


def reactions_markup(message_id: str, reactions: list[dict[str, Any]]) -> str:
    """The reactions bar of one message (in its markup, and alone for ``message.reactions``)."""
    return render_to_string("chat/_reactions.html", {"id": message_id, "reactions": reactions})


def _with_markup(shown: dict[str, Any]) -> dict[str, Any]:
    shown["markup"] = render_to_string("chat/_message.html", {"m": shown})
    return shown


def for_viewer(
    shown: dict[str, Any], *, thread_id: str, me: str, history_start: datetime | None = None
) -> dict[str, Any]:
    """A message as one viewer sees it: whether it is theirs, and if so the links to change it
    without script (the permalink page offers them; live pages edit in place); a reply to a
    message from before the viewer's history starts shows nothing of that message."""
    mine = bool(shown["sender"]) and shown["sender"]["rawId"] == me
    result = {**shown, "mine": mine}
    reply = shown.get("reply")
    if (
        reply
        and "createdOn" in reply
        and not is_visible(parse_time(reply["createdOn"]), history_start)
    ):
        result["reply"] = {"id": reply["id"], "permalink": reply["permalink"], "hidden": True}
        del result["markup"]
        _with_markup(result)
    if mine and not shown["deletedOn"]:
        result["editUrl"] = reverse("chat:edit", args=[thread_id, shown["id"]])
        result["deleteUrl"] = reverse("chat:delete_message", args=[thread_id, shown["id"]])
    return result
