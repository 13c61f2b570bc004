"""What the thread page shows, gathered in one action.

Each part (messages, participants, read receipts) is asked of ACS on its own; a part that
fails (ACS down, throttled, or answering with data the SDK cannot read) is left empty with a
problem to show for it, and the rest of the page still works. Only the access check itself
decides between the page and a "no such conversation".
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from django.contrib.auth.models import AbstractBaseUser
from django.utils.translation import gettext as _

from chat.actions import ActionError, ChatUnavailable, publish
from chat.actions.messages import message_page, read_receipts
from chat.actions.participants import VisibleParticipant, fetch_participants, visible_participants
from chat.actions.threads import ThreadAccess, access_thread
from chat.people import Person, people_for, service_raw_id
from chat.relay.api import current_cursor
from chat.rendering import add_seen_by, for_viewer, message_json
from chat.types import Message, Participant, history_start


@dataclass
class ThreadView:
    """The thread page's data; ``problems`` names the parts that could not be loaded."""

    access: ThreadAccess
    live_cursor: int
    participants: list[VisibleParticipant] = field(default_factory=list)
    history_start: datetime | None = None
    messages: list[dict[str, Any]] = field(default_factory=list)
    older_cursor: str | None = None
    receipts: dict[str, int] = field(default_factory=dict)
    people: dict[str, Person] = field(default_factory=dict)
    problems: dict[str, str] = field(default_factory=dict)


def _part(view: ThreadView, name: str, problem: str, load: Any) -> Any:
    try:
        return load()
    except (ActionError, ChatUnavailable):
        view.problems[name] = problem
        return None


def thread_view(user: AbstractBaseUser, thread_id: str, cursor: str | None) -> ThreadView:
    """Everything the thread page shows (four ACS calls: properties, participants, one page of
    messages, read receipts)."""
    access = access_thread(user, thread_id)  # GetChatThreadProperties
    view = ThreadView(access, live_cursor=0)
    raw: list[Participant] | None = _part(
        view,
        "participants",
        _("The participants could not be loaded."),
        lambda: fetch_participants(access),
    )
    if raw is not None:
        # What this page read becomes the relay's baseline (or is published, if it is news),
        # before the cursor is read: any later change is then replayed to the page.
        publish.seen(thread_id, access.topic, raw)
    view.live_cursor = current_cursor(thread_id)
    view.participants = visible_participants(raw or [])
    view.history_start = history_start(raw or [], access.me)
    page = _part(
        view,
        "messages",
        _("The messages could not be loaded."),
        lambda: message_page(access, cursor, view.history_start),
    )
    view.receipts = (
        _part(
            view, "receipts", _("Read receipts could not be loaded."), lambda: read_receipts(access)
        )
        or {}
    )
    messages: list[Message] = page.messages if page else []
    view.older_cursor = page.older_cursor if page else None
    ids = {p.raw_id for p in raw or []} | set(view.receipts)
    for message in messages:
        ids |= message.people()
    view.people = people_for(ids)
    hidden = {service_raw_id()}
    shown = (
        message_json(m, thread_id=thread_id, people=view.people, hidden=hidden) for m in messages
    )
    view.messages = [for_viewer(m, thread_id=thread_id, me=access.me) for m in shown if m]
    add_seen_by(view.messages, view.receipts, view.people, me=access.me, hidden=hidden)
    return view
