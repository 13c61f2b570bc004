"""Message actions: history pages, sending, editing, deleting, receipts and typing."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.http import Http404
from django.utils.translation import gettext as _

from chat.actions import ActionError, acs_call, message_type, sender_id
from chat.actions.threads import ThreadAccess
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
    """Send a text or sanitised HTML message (ChatThread_SendChatMessage); return its id."""
    content = check_content(content, kind)
    client_id = check_client_id(client_id)
    metadata = {CLIENT_ID_KEY: client_id} if client_id else None
    with acs_call():
        result = access.client.send_message(
            content,
            chat_message_type=kind,
            sender_display_name=display_name(access.user),
            metadata=metadata,
        )
    return result.id


def do_edit_message(access: ThreadAccess, message: Any, content: str) -> None:
    """Replace the content of the user's own message, keeping its format."""
    content = check_content(content, message_type(message))
    with acs_call(forbidden=_("You can only change your own messages.")):
        access.client.update_message(message.id, content=content)


def do_delete_message(access: ThreadAccess, message: Any) -> None:
    """Delete the user's own message (ACS keeps a tombstone with `deletedOn`)."""
    with acs_call(forbidden=_("You can only change your own messages.")):
        access.client.delete_message(message.id)


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


def do_send_typing(access: ThreadAccess) -> None:
    """Tell the others the user is typing (ChatThread_SendTypingNotification)."""
    with acs_call():
        access.client.send_typing_notification(sender_display_name=display_name(access.user))
