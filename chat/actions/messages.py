"""Message actions: history pages, sending, editing, deleting, receipts and typing."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.core.cache import cache
from django.db import IntegrityError
from django.http import Http404
from django.utils.translation import gettext as _

from chat.actions import ActionError, acs_call, message_type, publish, sender_id
from chat.actions.threads import ThreadAccess
from chat.models import SentMessage
from chat.people import display_name
from chat.sanitize import clean_html, html_has_text

MESSAGES_PER_PAGE = 30
# ACS refuses messages over about 28 KB; staying well below keeps the error ours and clear.
MESSAGE_MAX_LENGTH = 8000
MESSAGE_ID_RE = re.compile(r"^[0-9]{1,20}$")
CLIENT_ID_RE = re.compile(r"^[A-Za-z0-9\-]{1,64}$")
# Metadata key under which the sending browser's id for a message travels, so a page that
# already shows the message can recognise it when it comes back from the relay.
CLIENT_ID_KEY = "kwebbelClientId"
TEXT = "text"
HTML = "html"
USER_TYPES = (TEXT, HTML)


@dataclass(frozen=True)
class MessagePage:
    """Messages oldest first, and the cursor for the page before them (None at the start)."""

    messages: list[Any]
    older_cursor: str | None


def check_message_id(message_id: str) -> str:
    """ACS message ids are decimal numbers; anything else cannot exist."""
    if not MESSAGE_ID_RE.match(message_id or ""):
        raise Http404(_("No such message."))
    return message_id


def check_content(content: str, kind: str) -> str:
    """Validate a message body; HTML comes back sanitised, ready to send."""
    if kind not in USER_TYPES:
        raise ActionError(_("Unknown message format."))
    content = content or ""
    if len(content) > MESSAGE_MAX_LENGTH:
        raise ActionError(
            _("A message can be at most %(max)d characters.") % {"max": MESSAGE_MAX_LENGTH}
        )
    if kind == HTML:
        content = clean_html(content)
        if not html_has_text(content):
            raise ActionError(_("The message is empty once unsupported HTML is removed."))
    elif not content.strip():
        raise ActionError(_("The message cannot be empty."))
    return content


def check_client_id(client_id: str | None) -> str | None:
    if not client_id:
        return None
    if not CLIENT_ID_RE.match(client_id):
        raise ActionError(_("Invalid client id."))
    return client_id


def is_visible(message: Any, history_start: datetime | None) -> bool:
    """Whether a participant whose history starts at `history_start` may see the message.

    ACS already leaves such messages out for that participant; checking again here keeps the
    rule on every page even if a call (GetChatMessage) is answered more generously.
    """
    return history_start is None or message.created_on >= history_start


def message_page(
    access: ThreadAccess, cursor: str | None, history_start: datetime | None
) -> MessagePage:
    """One page of history (ChatThread_ListChatMessages, one call), oldest first."""
    with acs_call(not_found_is_404=True):
        pages = access.client.list_messages(results_per_page=MESSAGES_PER_PAGE).by_page(
            continuation_token=cursor
        )
        newest_first = list(next(pages, []))
        older = pages.continuation_token or None
    visible = [m for m in newest_first if is_visible(m, history_start)]
    if len(visible) < len(newest_first):
        older = None  # Past the participant's history start nothing older can be shown.
    return MessagePage(messages=list(reversed(visible)), older_cursor=older)


def access_message(access: ThreadAccess, message_id: str, history_start: datetime | None) -> Any:
    """Fetch one message the user may see (ChatThread_GetChatMessage), else Http404."""
    check_message_id(message_id)
    with acs_call(not_found_is_404=True):
        message = access.client.get_message(message_id)
    if not is_visible(message, history_start):
        raise Http404(_("No such message."))
    return message


def access_own_message(
    access: ThreadAccess, message_id: str, history_start: datetime | None
) -> Any:
    """A message the user sent and can still change: not deleted, text or HTML."""
    message = access_message(access, message_id, history_start)
    if sender_id(message) != access.me:
        raise ActionError(_("You can only change your own messages."), status=403)
    if message.deleted_on or message_type(message) not in USER_TYPES:
        raise ActionError(_("This message can no longer be changed."))
    return message


def do_send_message(
    access: ThreadAccess, content: str, kind: str, client_id: str | None = None
) -> str:
    """Send a text or sanitised HTML message (ChatThread_SendChatMessage); return its id.

    With a `client_id` (the sending page's id for the message) a repeated send returns the first
    send's message instead of creating a second one: see `_send_once`.
    """
    content = check_content(content, kind)
    client_id = check_client_id(client_id)
    if client_id is None:
        message_id = _send(access, content, kind, None)
    else:
        message_id = _send_once(access, content, kind, client_id)
    publish.message_changed(access.client, access.thread_id, message_id)
    return message_id


def _send(access: ThreadAccess, content: str, kind: str, client_id: str | None) -> str:
    metadata = {CLIENT_ID_KEY: client_id} if client_id else None
    with acs_call():
        result = access.client.send_message(
            content,
            chat_message_type=kind,
            sender_display_name=display_name(access.user),
            metadata=metadata,
        )
    return result.id


# How long a send with a given client id counts as "in flight" for a concurrent duplicate
# (longer than the SDK's retries of one send take).
SEND_IN_FLIGHT_SECONDS = 30
# How many of the newest messages are searched for a client id whose earlier send's outcome is
# unknown (it failed without an answer). A page retries within seconds, so the message, if it
# was created, is among the newest.
CLIENT_ID_SCAN = 50


def _send_once(access: ThreadAccess, content: str, kind: str, client_id: str) -> str:
    """Send at most once per (user, client id), however often the page retries.

    The (user, client id) pair is reserved in `SentMessage` before ACS is called. A retry that
    finds the reservation returns its message id; if the earlier attempt never learnt its id (no
    answer from ACS), the newest messages are searched for the client id, which travels in the
    message's metadata, before sending again. A cache key keeps two simultaneous sends of the same
    id (two tabs, a double click) from both reaching ACS.
    """
    reservation, created = _reserve(access, client_id)
    if not created and reservation.message_id:
        return reservation.message_id
    in_flight = f"chat.send.{access.user.pk}.{client_id}"
    if not cache.add(in_flight, 1, SEND_IN_FLIGHT_SECONDS):
        raise ActionError(_("This message is still being sent."), status=409)
    try:
        message_id = None if created else _find_client_id(access, client_id)
        if message_id is None:
            try:
                message_id = _send(access, content, kind, client_id)
            except ActionError:
                # ACS refused it, so nothing was created: a corrected retry may use the id again.
                reservation.delete()
                raise
        reservation.message_id = message_id
        reservation.save(update_fields=["message_id"])
        return message_id
    finally:
        cache.delete(in_flight)


def _reserve(access: ThreadAccess, client_id: str) -> tuple[SentMessage, bool]:
    try:
        reservation, created = SentMessage.objects.get_or_create(
            user=access.user, client_id=client_id, defaults={"chat_thread_id": access.thread_id}
        )
    except IntegrityError:  # created by a simultaneous request between the get and the create
        reservation, created = SentMessage.objects.get(user=access.user, client_id=client_id), False
    if reservation.chat_thread_id != access.thread_id:
        raise ActionError(_("Invalid client id."))
    return reservation, created


def _find_client_id(access: ThreadAccess, client_id: str) -> str | None:
    """The id of the user's newest message carrying `client_id`, if any (ListChatMessages)."""
    with acs_call():
        page = access.client.list_messages(results_per_page=CLIENT_ID_SCAN).by_page()
        newest = list(next(page, []))
    for message in newest:
        metadata = message.metadata or {}
        if sender_id(message) == access.me and metadata.get(CLIENT_ID_KEY) == client_id:
            return message.id
    return None


def do_edit_message(access: ThreadAccess, message: Any, content: str) -> None:
    """Replace the content of the user's own message, keeping its format."""
    content = check_content(content, message_type(message))
    with acs_call(forbidden=_("You can only change your own messages.")):
        access.client.update_message(message.id, content=content)
    publish.message_changed(access.client, access.thread_id, message.id)


def do_delete_message(access: ThreadAccess, message: Any) -> None:
    """Delete the user's own message (ACS keeps a tombstone with `deletedOn`)."""
    with acs_call(forbidden=_("You can only change your own messages.")):
        access.client.delete_message(message.id)
    publish.message_changed(access.client, access.thread_id, message.id)


def latest_receipts(access: ThreadAccess) -> dict[str, int]:
    """Each participant's latest read message id (ChatThread_ListChatReadReceipts, all pages).

    ACS keeps one receipt per participant; ids are epoch milliseconds so they compare.
    """
    with acs_call(not_found_is_404=True):
        receipts = list(access.client.list_read_receipts())
    latest: dict[str, int] = {}
    for receipt in receipts:
        reader = getattr(receipt.sender, "raw_id", None)
        number = int(receipt.chat_message_id) if receipt.chat_message_id.isdigit() else 0
        if reader and number > latest.get(reader, -1):
            latest[reader] = number
    return latest


def do_send_read_receipt(access: ThreadAccess, message_id: str) -> None:
    """Mark everything up to `message_id` as read (ChatThread_SendChatReadReceipt)."""
    check_message_id(message_id)
    with acs_call(not_found_is_404=True):
        access.client.send_read_receipt(message_id)
    publish.receipt_sent(access.thread_id, access.me, message_id)


def do_send_typing(access: ThreadAccess) -> None:
    """Tell the others the user is typing (ChatThread_SendTypingNotification)."""
    with acs_call():
        access.client.send_typing_notification(sender_display_name=display_name(access.user))
    publish.typing(access.thread_id, access.user, access.me)
