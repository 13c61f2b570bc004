"""Message actions for the pages: history, one message, and the no-script send, edit and delete.

The websocket's message actions are in ``chat.actions.live``; both use the checks here.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from django.http import Http404
from django.utils.translation import gettext as _

from chat.actions import ActionError, acs_call, check_text, publish
from chat.actions import attachments as attachment_actions
from chat.actions.threads import ThreadAccess
from chat.models import Attachment
from chat.people import display_name
from chat.sanitize import clean_html, html_has_text
from chat.types import HTML, USER_TYPES, Message, is_visible, latest_receipts

MESSAGES_PER_PAGE = 30
# ACS refuses messages over about 28 KB; staying well below keeps the error ours and clear.
MESSAGE_MAX_LENGTH = 8000
MESSAGE_ID_RE = re.compile(r"^[0-9]{1,20}$")
CLIENT_ID_RE = re.compile(r"^[A-Za-z0-9\-]{1,64}$")
# Metadata key under which the sending browser's id for a message travels, so a page that
# already shows the message can recognise it when it comes back from the relay.
CLIENT_ID_KEY = "kwebbelClientId"


@dataclass(frozen=True)
class MessagePage:
    """Messages oldest first, and the cursor for the page before them (None at the start)."""

    messages: list[Message]
    older_cursor: str | None


class MessageNotFound(Http404):
    """The conversation is there (for this user), the message is not, or not for them."""


def check_message_id(message_id: str) -> str:
    """ACS message ids are decimal numbers; anything else cannot exist."""
    if not MESSAGE_ID_RE.match(message_id or ""):
        raise MessageNotFound(_("No such message."))
    return message_id


def check_content(content: str, kind: str) -> str:
    """Validate a message body; HTML comes back sanitised, ready to send."""
    if kind not in USER_TYPES:
        raise ActionError(_("Unknown message format."))
    content = check_text(content or "", _("message"))
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


def check_visible(message: Message, history_start: datetime | None) -> Message:
    """The message, if a participant whose history starts at `history_start` may see it.

    ACS already leaves such messages out for that participant; checking again here keeps the
    rule on every page even if a call (GetChatMessage) is answered more generously.
    """
    if not is_visible(message.created, history_start):
        raise MessageNotFound(_("No such message."))
    return message


def check_own(message: Message, me: str) -> Message:
    """A message `me` sent and can still change: not deleted, text or HTML."""
    if message.sender_id != me:
        raise ActionError(_("You can only change your own messages."), status=403)
    if message.deleted or not message.is_user_message:
        raise ActionError(_("This message can no longer be changed."))
    return message


def message_page(
    access: ThreadAccess, cursor: str | None, history_start: datetime | None
) -> MessagePage:
    """One page of history (ChatThread_ListChatMessages, one call), oldest first."""
    with acs_call(not_found_is_404=True):
        page = access.thread.list_messages(MESSAGES_PER_PAGE, cursor)
    visible = [m for m in page.items if is_visible(m.created, history_start)]
    older = page.continuation
    if len(visible) < len(page.items):
        older = None  # Past the participant's history start nothing older can be shown.
    return MessagePage(messages=list(reversed(visible)), older_cursor=older)


def access_message(
    access: ThreadAccess, message_id: str, history_start: datetime | None
) -> Message:
    """Fetch one message the user may see (ChatThread_GetChatMessage), else Http404."""
    check_message_id(message_id)
    try:
        with acs_call(not_found_is_404=True):
            message = access.thread.get_message(message_id)
    except Http404 as error:
        # The access check just passed, so it is the message that is missing.
        raise MessageNotFound(_("No such message.")) from error.__cause__
    return check_visible(message, history_start)


def access_own_message(
    access: ThreadAccess, message_id: str, history_start: datetime | None
) -> Message:
    """A message the user sent and can still change."""
    return check_own(access_message(access, message_id, history_start), access.me)


def do_send_message(
    access: ThreadAccess,
    content: str,
    kind: str,
    reply_to: str | None = None,
    files: Sequence[Attachment] = (),
    base_url: str = "",
) -> str:
    """Send a text or sanitised HTML message from the no-script form (ChatThread_SendChatMessage),
    perhaps as a reply to `reply_to` (see ``chat.actions.replies``).

    Pages with a script send over the websocket instead (``chat.actions.live``), where a
    client id makes a repeated send harmless. `files` are the user's uploads it carries.
    """
    from chat.actions.replies import prepare  # it uses this module's checks

    content, kind, file_metadata = attachment_actions.with_files(
        access.thread_id, content, kind, list(files), base_url
    )
    content, metadata = prepare(access, check_content(content, kind), kind, reply_to)
    metadata = {**metadata, **file_metadata}
    with acs_call():
        message_id = access.thread.send_message(
            content, kind, display_name=display_name(access.user), metadata=metadata or None
        )
    attachment_actions.mark_sent(list(files), message_id)
    publish.message_changed(access.thread, message_id)
    return message_id


def do_edit_message(access: ThreadAccess, message: Message, content: str) -> None:
    """Replace the content of the user's own message, keeping its format (and its mentions of
    participants only)."""
    from chat.actions.replies import prepare  # it uses this module's checks

    content, _metadata = prepare(access, check_content(content, message.type), message.type, None)
    with acs_call(forbidden=_("You can only change your own messages.")):
        access.thread.update_message(message.id, content)
    publish.message_changed(access.thread, message.id)


def do_delete_message(access: ThreadAccess, message: Message) -> None:
    """Delete the user's own message (ACS keeps a tombstone with `deletedOn`)."""
    with acs_call(forbidden=_("You can only change your own messages.")):
        access.thread.delete_message(message.id)
    attachment_actions.discard_message_files(access.thread_id, message.id)
    publish.message_changed(access.thread, message.id)


def read_receipts(access: ThreadAccess) -> dict[str, int]:
    """Each participant's latest read message (ChatThread_ListChatReadReceipts, all pages)."""
    with acs_call(not_found_is_404=True):
        return latest_receipts(access.thread.list_read_receipts())
