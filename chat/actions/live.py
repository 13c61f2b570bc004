"""The websocket's actions: send, edit, delete, typing and read receipts, on the event loop.

Each calls ACS through the async gateway with the user's own token, so a slow call for one user
never holds up another's, and publishes what changed through the relay, as the pages' actions
do (``chat.actions.publish``). The checks are the pages' (``chat.actions.messages``). ACS itself
refuses non-participants (403), so a connection needs no access check of its own before acting;
when it follows the thread, its history start is known and checked too.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.contrib.auth.models import AbstractBaseUser
from django.core.cache import cache
from django.db import IntegrityError
from django.utils.translation import gettext as _

from chat import gateway
from chat.actions import ActionError, acs_call
from chat.actions import attachments as attachment_actions
from chat.actions.messages import (
    CLIENT_ID_KEY,
    check_client_id,
    check_content,
    check_message_id,
    check_own,
    check_visible,
)
from chat.actions.replies import aprepare
from chat.actions.threads import check_thread_id
from chat.db import run_db
from chat.models import SentMessage
from chat.people import display_name
from chat.relay import log, observe
from chat.types import TEXT, Message, message_number, time_of_message

logger = logging.getLogger(__name__)

# How long a send with a given client id counts as "in flight" for a concurrent duplicate: a
# little longer than a websocket action may take (chat.consumers.ACTION_TIMEOUT, 15 s), in case
# the attempt ended without releasing it (its connection gone mid-call).
SEND_IN_FLIGHT_SECONDS = 20
# How many of the newest messages are searched for a client id whose earlier send's outcome is
# unknown (it failed without an answer). A page retries within seconds, so the message, if it
# was created, is among the newest.
CLIENT_ID_SCAN = 50


@dataclass(frozen=True)
class LiveAccess:
    """Who acts on which thread from a websocket, and from when they see its history (None:
    all of it, or not known because the connection does not follow the thread)."""

    user: AbstractBaseUser
    me: str
    thread: gateway.AsyncChatThread
    history_start: datetime | None = None

    @property
    def thread_id(self) -> str:
        return self.thread.thread_id


def live_access(
    user: AbstractBaseUser, me: str, thread_id: str, history_start: datetime | None = None
) -> LiveAccess:
    return LiveAccess(user, me, gateway.athread(user, check_thread_id(thread_id)), history_start)


async def _publish(what: str, thread_id: str, publish: Awaitable[Any]) -> None:
    """Run a publishing coroutine; a failure is logged (the poll catches up), never raised."""
    try:
        await publish
    except Exception:  # noqa: BLE001 - see chat.actions.publish
        logger.warning("could not publish %s for %s at once", what, thread_id, exc_info=True)


async def _message_changed(access: LiveAccess, message_id: str) -> None:
    async def publish() -> None:
        message = await access.thread.get_message(message_id)
        await run_db(observe.observe_messages, access.thread_id, [message])

    await _publish("a message", access.thread_id, publish())


async def _own_message(access: LiveAccess, message_id: str) -> Message:
    check_message_id(message_id)
    with acs_call(not_found_is_404=True):
        message = await access.thread.get_message(message_id)
    return check_own(check_visible(message, access.history_start), access.me)


async def do_send_message(
    access: LiveAccess,
    content: str,
    kind: str,
    client_id: str | None = None,
    reply_to: str | None = None,
    *,
    attachments: object = None,
    base_url: str = "",
) -> str:
    """Send a text or sanitised HTML message (ChatThread_SendChatMessage); return its id.

    With a `client_id` (the sending page's id for the message) a repeated send returns the first
    send's message instead of creating a second one: see `_send_once`. With `reply_to` it
    answers that message, and mentions are checked (``chat.actions.replies``). `attachments`
    are ids of the user's uploads, carried in the message's metadata
    (``chat.actions.attachments``).
    """
    client_id = check_client_id(client_id)
    files = (
        await run_db(
            attachment_actions.check_for_send, access.user, access.thread_id, attachments, client_id
        )
        if attachments
        else []  # most sends: no database round for files
    )
    content, kind, file_metadata = attachment_actions.with_files(
        access.thread_id, content, kind, files, base_url
    )
    content = check_content(content, kind)
    content, extra = await aprepare(access, content, kind, reply_to)
    extra = {**extra, **file_metadata}
    if client_id is None:
        message_id = await _send(access, content, kind, None, extra)
    else:
        message_id = await _send_once(access, content, kind, client_id, extra)
    await run_db(attachment_actions.mark_sent, files, message_id)
    if kind == TEXT:
        # ACS stores text as sent, so the message is known without reading it back (one ACS
        # call less before the others see it); its sequence id comes with the next poll.
        sent = _sent_text(access, message_id, content, client_id, extra)
        await _publish(
            "a message",
            access.thread_id,
            run_db(observe.observe_messages, access.thread_id, [sent]),
        )
    else:
        # ACS sanitises HTML as it stores it: publish what it kept.
        await _message_changed(access, message_id)
    return message_id


def _sent_text(
    access: LiveAccess,
    message_id: str,
    content: str,
    client_id: str | None,
    extra: dict[str, str] | None = None,
) -> Message:
    """A text message as ACS has just stored it (its id is its creation time and version)."""
    return Message(
        id=message_id,
        type=TEXT,
        created_on=time_of_message(message_id),
        version=message_number(message_id),
        sender_id=access.me,
        sender_display_name=display_name(access.user),
        body=content,
        metadata={**(extra or {}), **({CLIENT_ID_KEY: client_id} if client_id else {})},
    )


async def _send(
    access: LiveAccess,
    content: str,
    kind: str,
    client_id: str | None,
    extra: dict[str, str] | None = None,
) -> str:
    metadata = {**(extra or {}), **({CLIENT_ID_KEY: client_id} if client_id else {})} or None
    # ACS refuses non-participants (403): to them the thread does not exist.
    with acs_call(not_found_is_404=True):
        return await access.thread.send_message(
            content, kind, display_name=display_name(access.user), metadata=metadata
        )


async def _send_once(
    access: LiveAccess,
    content: str,
    kind: str,
    client_id: str,
    extra: dict[str, str] | None = None,
) -> str:
    """Send at most once per (user, client id), however often the page retries.

    The (user, client id) pair is reserved in `SentMessage` before ACS is called. A retry that
    finds the reservation returns its message id; if the earlier attempt never learnt its id (no
    answer from ACS), the newest messages are searched for the client id, which travels in the
    message's metadata, before sending again. A cache key keeps two simultaneous sends of the
    same id (two tabs, a double click) from both reaching ACS.
    """
    reservation = await run_db(_reserve, access.user, access.thread_id, client_id)
    if reservation.message_id:
        return reservation.message_id
    try:
        message_id = None if reservation.fresh else await _find_client_id(access, client_id)
        if message_id is None:
            message_id = await _send(access, content, kind, client_id, extra)
    except ActionError:
        # ACS refused it, so nothing was created: a corrected retry may use the id again.
        await asyncio.shield(run_db(_release, reservation, forget=True))
        raise
    except BaseException:
        # Failed or cancelled (the connection went): the send is no longer in flight, even if
        # this task is cancelled again while saying so.
        await asyncio.shield(run_db(_release, reservation))
        raise
    await run_db(_release, reservation, message_id=message_id)
    return message_id


@dataclass(frozen=True)
class _Reservation:
    pk: int
    message_id: str | None
    fresh: bool  # made by this send (no earlier attempt)
    in_flight: str  # the cache key held while this send is on its way


def _reserve(user: AbstractBaseUser, thread_id: str, client_id: str) -> _Reservation:
    """Reserve (user, client id), and claim the right to send it now: one database round."""
    try:
        row, created = SentMessage.objects.get_or_create(
            user=user, client_id=client_id, defaults={"chat_thread_id": thread_id}
        )
    except IntegrityError:  # created by a simultaneous request between the get and the create
        row, created = SentMessage.objects.get(user=user, client_id=client_id), False
    if row.chat_thread_id != thread_id:
        raise ActionError(_("Invalid client id."))
    in_flight = f"chat.send.{user.pk}.{client_id}"
    if not row.message_id and not cache.add(in_flight, 1, SEND_IN_FLIGHT_SECONDS):
        raise ActionError(_("This message is still being sent."), status=409)
    return _Reservation(row.pk, row.message_id, created, in_flight)


def _release(
    reservation: _Reservation, *, forget: bool = False, message_id: str | None = None
) -> None:
    """Settle a reservation: record its message id, or forget it altogether; the send is no
    longer in flight."""
    if forget:
        SentMessage.objects.filter(pk=reservation.pk).delete()
    elif message_id:
        SentMessage.objects.filter(pk=reservation.pk).update(message_id=message_id)
    cache.delete(reservation.in_flight)


async def _find_client_id(access: LiveAccess, client_id: str) -> str | None:
    """The id of the user's newest message carrying `client_id`, if any (ListChatMessages)."""
    with acs_call():
        newest = (await access.thread.list_messages(CLIENT_ID_SCAN)).items
    for message in newest:
        if message.sender_id == access.me and message.metadata.get(CLIENT_ID_KEY) == client_id:
            return message.id
    return None


async def do_edit_message(access: LiveAccess, message_id: str, content: str) -> None:
    """Replace the content of the user's own message, keeping its format."""
    message = await _own_message(access, message_id)
    content = check_content(content, message.type)
    content, _metadata = await aprepare(access, content, message.type, None)
    with acs_call(forbidden=_("You can only change your own messages.")):
        await access.thread.update_message(message.id, content)
    await _message_changed(access, message.id)


async def do_delete_message(access: LiveAccess, message_id: str) -> None:
    """Delete the user's own message (ACS keeps a tombstone with `deletedOn`)."""
    message = await _own_message(access, message_id)
    with acs_call(forbidden=_("You can only change your own messages.")):
        await access.thread.delete_message(message.id)
    await run_db(attachment_actions.discard_message_files, access.thread_id, message.id)
    await _message_changed(access, message.id)


async def do_send_read_receipt(access: LiveAccess, message_id: str) -> None:
    """Mark everything up to `message_id` as read (ChatThread_SendChatReadReceipt)."""
    check_message_id(message_id)
    with acs_call(not_found_is_404=True):
        await access.thread.send_read_receipt(message_id)
    await _publish(
        "a read receipt",
        access.thread_id,
        run_db(observe.observe_receipts, access.thread_id, {access.me: message_id}),
    )


async def do_send_typing(access: LiveAccess, layer: Any) -> None:
    """Tell the others the user is typing (ChatThread_SendTypingNotification), and relay it to
    the thread's open pages (not logged; see chat.relay)."""
    name = display_name(access.user)
    with acs_call(not_found_is_404=True):
        await access.thread.send_typing(name)
    message = observe.typing_message(access.thread_id, access.me, name)
    await _publish(
        "typing", access.thread_id, layer.group_send(log.group_name(access.thread_id), message)
    )
