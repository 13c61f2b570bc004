"""What a new message refers to: the message it answers (a reply) and the people it mentions.

Both are checked before the message is sent, for the pages and the websocket alike: a reply
must answer a message the sender can see (in this thread, inside their history, not deleted),
and only mentions of the thread's participants are kept (``chat.mentions``). Messages that do
neither cost no extra ACS call; one that does costs a ListChatParticipants, and a reply a
GetChatMessage.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from django.http import Http404
from django.utils.translation import gettext as _

from chat.actions import ActionError, acs_call
from chat.actions.messages import MESSAGE_ID_RE, check_visible
from chat.actions.threads import ThreadAccess
from chat.mentions import has_mentions, keep_mentions_of
from chat.replies import REPLY_TO_KEY
from chat.types import Message, Participant, history_start

if TYPE_CHECKING:
    from chat.actions.live import LiveAccess


def check_reply_to(reply_to: str | None) -> str | None:
    """A reply's original, by id (None: not a reply)."""
    if not reply_to:
        return None
    if not isinstance(reply_to, str) or not MESSAGE_ID_RE.match(reply_to):
        raise ActionError(_("You can only reply to a message of this conversation."))
    return reply_to


def _check_original(original: Message | None, participants: list[Participant], me: str) -> None:
    refused = ActionError(_("You can only reply to a message of this conversation."))
    if original is None or original.deleted or not original.is_user_message:
        raise refused
    try:
        check_visible(original, history_start(participants, me))
    except Http404 as error:
        raise refused from error


def _prepared(
    content: str, kind: str, participants: list[Participant] | None, reply_to: str | None
) -> tuple[str, dict[str, str]]:
    if participants is not None and has_mentions(content, kind):
        content = keep_mentions_of(content, [p.raw_id for p in participants])
    return content, ({REPLY_TO_KEY: reply_to} if reply_to else {})


def prepare(
    access: ThreadAccess, content: str, kind: str, reply_to: str | None
) -> tuple[str, dict[str, str]]:
    """A checked message body and the metadata its references add (pages)."""
    reply_to = check_reply_to(reply_to)
    if not reply_to and not has_mentions(content, kind):
        return content, {}
    with acs_call(not_found_is_404=True):
        participants = access.thread.list_participants()
    if reply_to:
        _check_original(_read(lambda: access.thread.get_message(reply_to)), participants, access.me)
    return _prepared(content, kind, participants, reply_to)


async def aprepare(
    access: LiveAccess, content: str, kind: str, reply_to: str | None
) -> tuple[str, dict[str, str]]:
    """The same from the websocket."""
    reply_to = check_reply_to(reply_to)
    if not reply_to and not has_mentions(content, kind):
        return content, {}
    with acs_call(not_found_is_404=True):
        participants = await access.thread.list_participants()
    if reply_to:
        try:
            with acs_call(not_found_is_404=True):
                original: Message | None = await access.thread.get_message(reply_to)
        except (Http404, ActionError):  # unknown, or not readable by the sender
            original = None
        _check_original(original, participants, access.me)
    return _prepared(content, kind, participants, reply_to)


def _read(call: Callable[[], Message]) -> Message | None:
    try:
        with acs_call(not_found_is_404=True):
            return call()
    except (Http404, ActionError):  # unknown, or not readable by the sender
        return None
