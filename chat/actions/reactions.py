"""Reacting to a message: one of a small fixed set of emoji (``chat.reactions.EMOJI``), on or off.

Reactions are stored in Kwebbel's database (ACS lets only the sender change a message); who may
react is still ACS's to say: the message is read with the user's own token
(ChatThread_GetChatMessage, one call), which ACS refuses to non-participants, and it must be a
message the user can see (inside their history, not deleted, not a system message). After the
change, the message's reactions are published whole through the relay
(``observe.observe_reactions``), live to everyone who has the thread open.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from django.contrib.auth.models import AbstractBaseUser
from django.db import IntegrityError, transaction
from django.http import Http404
from django.utils.translation import gettext as _

from chat.actions import ActionError, acs_call
from chat.actions.live import LiveAccess
from chat.actions.messages import (
    MessageNotFound,
    access_message,
    check_message_id,
    check_visible,
)
from chat.actions.threads import ThreadAccess
from chat.db import run_db
from chat.gateway import GatewayError
from chat.models import Reaction
from chat.reactions import EMOJI
from chat.relay import observe
from chat.types import Message


@dataclass(frozen=True)
class Reacted:
    """The outcome of a toggle: whether the user's reaction is on now, and whether it changed."""

    on: bool
    changed: bool


def check_emoji(emoji: object) -> str:
    if not isinstance(emoji, str) or emoji not in EMOJI:
        raise ActionError(
            _("Unknown reaction. Choose one of %(emoji)s.") % {"emoji": " ".join(EMOJI)}
        )
    return emoji


def check_reactable(message: Message, history_start: datetime | None) -> Message:
    """A message the user may react to."""
    check_visible(message, history_start)
    if message.deleted or not message.is_user_message:
        raise ActionError(_("You cannot react to this message."))
    return message


def set_reaction(
    user: AbstractBaseUser, thread_id: str, message_id: str, emoji: str, on: bool | None
) -> Reacted:
    """Store the reaction on or off (None: the opposite of now). Safe under concurrent toggles:
    the unique constraint keeps one row, and deleting what is gone deletes nothing."""
    mine = Reaction.objects.filter(
        chat_thread_id=thread_id, message_id=message_id, user=user, emoji=emoji
    )
    if on is None:
        on = not mine.exists()
    if not on:
        return Reacted(on=False, changed=mine.delete()[0] > 0)
    try:
        with transaction.atomic():
            _row, created = Reaction.objects.get_or_create(
                chat_thread_id=thread_id, message_id=message_id, user=user, emoji=emoji
            )
    except IntegrityError:  # the same toggle, made at the same moment elsewhere
        created = False
    return Reacted(on=True, changed=created)


def _publish(thread_id: str, message: Message) -> None:
    observe.observe_reactions(thread_id, message.id, message.created)


def do_react(
    access: ThreadAccess,
    message_id: str,
    emoji: str,
    on: bool | None,
    history_start: datetime | None,
) -> Reacted:
    """Put the user's `emoji` on a message, or take it off (pages)."""
    emoji = check_emoji(emoji)
    message = check_reactable(access_message(access, message_id, history_start), history_start)
    reacted = set_reaction(access.user, access.thread_id, message.id, emoji, on)
    if reacted.changed:
        _publish(access.thread_id, message)
    return reacted


async def ado_react(access: LiveAccess, message_id: str, emoji: str, on: bool | None) -> Reacted:
    """The same from the websocket."""
    emoji = check_emoji(emoji)
    check_message_id(message_id)
    try:
        with acs_call(not_found_is_404=True):
            message = await access.thread.get_message(message_id)
    except Http404 as error:
        cause = error.__cause__
        if isinstance(cause, GatewayError) and cause.status == 404:
            raise MessageNotFound(_("No such message.")) from cause
        raise  # 403: not a participant, so no such conversation for them
    check_reactable(message, access.history_start)
    reacted = await run_db(set_reaction, access.user, access.thread_id, message.id, emoji, on)
    if reacted.changed:
        await run_db(_publish, access.thread_id, message)
    return reacted
