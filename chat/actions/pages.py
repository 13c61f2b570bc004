"""What the chat pages show, gathered in one action per page, and why a page cannot be shown.

Each part of the thread page (messages, participants, read receipts) is asked of ACS on its
own; a part that fails (ACS down, throttled, or answering with data the SDK cannot read) is left
empty with a problem to show for it, and the rest of the page still works. Only the access
check itself decides between the page and a "no such conversation".
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from django.contrib.auth.models import AbstractBaseUser
from django.utils.translation import gettext as _

from chat import replies
from chat.actions import ActionError, ChatUnavailable, acs_call, publish
from chat.actions.messages import MESSAGES_PER_PAGE, MessagePage, message_page, read_receipts
from chat.actions.participants import VisibleParticipant, fetch_participants, visible_participants
from chat.actions.threads import ThreadAccess, access_thread
from chat.gateway import GatewayError
from chat.models import RelayThread, ThreadRecord
from chat.people import Person, people_for, service_raw_id
from chat.reactions import ReactionState, people_in, reactions_for
from chat.relay.api import current_cursor
from chat.rendering import for_viewer, message_json
from chat.types import USER_TYPES, Message, Participant, history_start, is_visible, message_number

# Opening a thread with many unread messages loads pages back to the first unread one, up to
# this many pages of MESSAGES_PER_PAGE in all.
UNREAD_PAGES = 4
# "Show in the conversation" loads the newest messages back to the linked one, in pages of this
# size (ACS allows up to 200), up to AROUND_PAGES of them: 500 messages back.
AROUND_PAGE_SIZE = 100
AROUND_PAGES = 5


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
    # "Show in the conversation": whether the linked message is among those loaded.
    around_found: bool | None = None

    @property
    def others(self) -> list[VisibleParticipant]:
        return [p for p in self.participants if p.raw_id != self.access.me]


def _part(view: ThreadView, name: str, problem: str, load: Callable[[], Any]) -> Any:
    try:
        return load()
    except (ActionError, ChatUnavailable):
        view.problems[name] = problem
        return None


def newest_until(
    access: ThreadAccess,
    start: datetime | None,
    reached: Callable[[Message], bool],
    *,
    page_size: int,
    pages: int,
) -> MessagePage:
    """The newest messages, paging back (ChatThread_ListChatMessages, at most ``pages`` calls)
    until one satisfies ``reached`` or the participant's history begins; oldest first."""
    found: list[Message] = []
    continuation: str | None = None
    for _page in range(pages):
        with acs_call(not_found_is_404=True):
            page = access.thread.list_messages(page_size, continuation)
        visible = [m for m in page.items if is_visible(m.created, start)]
        found += visible
        continuation = page.continuation
        if len(visible) < len(page.items):
            continuation = None  # nothing older can be shown past the history start
        if continuation is None or any(reached(m) for m in visible):
            break
    return MessagePage(messages=list(reversed(found)), older_cursor=continuation)


def _seen_through(me: str, last_read: int) -> Callable[[Message], bool]:
    """Whether a message is one the user has certainly seen: read, or their own (they saw
    everything before what they wrote). Paging back stops there: the first unread is after it."""
    return lambda m: (m.type in USER_TYPES and m.sender_id == me) or m.number <= last_read


def thread_view(
    user: AbstractBaseUser, thread_id: str, cursor: str | None, around: str | None = None
) -> ThreadView:
    """Everything the thread page shows.

    ACS calls: GetChatThreadProperties, ListChatParticipants, ListChatReadReceipts and one page
    of ListChatMessages; on the newest page, more pages back to the first unread message when
    there are many (at most UNREAD_PAGES in all), and with ``around`` (a message id) pages of
    AROUND_PAGE_SIZE back to that message instead (at most AROUND_PAGES).
    """
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
    view.receipts = (
        _part(
            view, "receipts", _("Read receipts could not be loaded."), lambda: read_receipts(access)
        )
        or {}
    )
    start = view.history_start

    def load() -> MessagePage:
        if cursor is not None:
            return message_page(access, cursor, start)
        if around is not None:
            target = message_number(around)
            return newest_until(
                access,
                start,
                lambda m: m.number <= target,
                page_size=AROUND_PAGE_SIZE,
                pages=AROUND_PAGES,
            )
        reached = _seen_through(access.me, view.receipts.get(access.me, 0))
        return newest_until(access, start, reached, page_size=MESSAGES_PER_PAGE, pages=UNREAD_PAGES)

    page = _part(view, "messages", _("The messages could not be loaded."), load)
    messages: list[Message] = page.messages if page else []
    view.older_cursor = page.older_cursor if page else None
    if around is not None:
        view.around_found = any(m.id == around for m in messages)
    quotes, reactions = extras(access, messages)
    ids = {p.raw_id for p in raw or []} | set(view.receipts)
    for message in messages:
        ids |= message.people()
    view.people = people_for(ids | replies.senders(quotes) | people_in(reactions))
    hidden = {service_raw_id()}
    shown = (
        message_json(
            m,
            thread_id=thread_id,
            people=view.people,
            hidden=hidden,
            quotes=quotes,
            reactions=reactions,
        )
        for m in messages
    )
    view.messages = [
        for_viewer(m, thread_id=thread_id, me=access.me, history_start=start) for m in shown if m
    ]
    return view


def extras(
    access: ThreadAccess, messages: list[Message]
) -> tuple[dict[str, replies.Quote | None], ReactionState]:
    """What shown messages show besides themselves: the originals their replies quote (from the
    messages loaded, else a few GetChatMessage calls, cached) and their reactions (one query)."""
    loaded = {m.id: m for m in messages}
    targets = {t for m in messages if not m.deleted and (t := replies.reply_target(m))}
    quotes = replies.resolve(access.thread_id, targets, loaded, access.thread.get_message)
    return quotes, reactions_for(access.thread_id, loaded)


# --- Pages that cannot be shown ---------------------------------------------------------------

GONE_DELETED = "deleted"
GONE_NO_ACCESS = "no-access"
GONE_MISSING = "missing"


def why_gone(thread_id: str | None, error: BaseException) -> str:
    """Why a thread page answered 404 (no ACS call): the conversation was deleted (Kwebbel
    recorded it, or the relay saw it go), the user is not (or no longer) in it (ACS answered
    403), or there is no such thing."""
    cause = error.__cause__
    if thread_id and (
        ThreadRecord.objects.filter(chat_thread_id=thread_id, deleted_on__isnull=False).exists()
        or RelayThread.objects.filter(chat_thread_id=thread_id, deleted_on__isnull=False).exists()
    ):
        return GONE_DELETED
    if isinstance(cause, GatewayError) and cause.status == 403:
        return GONE_NO_ACCESS
    return GONE_MISSING
