"""The words and data the pages' scripts need (translated here, handed over as JSON)."""

from __future__ import annotations

from collections.abc import Iterable

from django.utils.translation import gettext as _

from chat.people import Person


def connection_strings() -> dict[str, str]:
    """Connection status, sign-out and notifications: every page with a live connection."""
    return {
        "connecting": _("Connecting…"),
        "connected": _("Connected"),
        "reconnecting": _("Reconnecting…"),
        "offline": _("Offline"),
        "signedOut": _("You were signed out."),
        "signIn": _("Sign in again"),
        "notifyOn": _("Notifications on"),
        "notifyOff": _("Turn on notifications"),
        "notifyBlocked": _("Notifications are blocked in this browser's settings."),
        # The browser puts the sender in place of "%(name)s".
        "you": _("You"),
        "newMessageFrom": _("New message from %(name)s"),
        "tooLong": _("Too long by %(count)s."),
        "mentionedBy": _("%(name)s mentioned you"),
    }


def list_strings() -> dict[str, str]:
    """The conversation list's live updates."""
    return {
        **connection_strings(),
        "noMatch": _("No conversation matches “%(term)s”."),
        "mentionOne": _("1 message mentions you"),
        "mentionMany": _("%(count)s messages mention you"),
    }


def people_strings() -> dict[str, str]:
    """The settings page's live updates."""
    return {
        **connection_strings(),
        "noAccess": _("You no longer have access to this conversation."),
        "deletedThread": _("This conversation was deleted."),
        "changed": _("The people in this conversation changed."),
    }


def thread_strings() -> dict[str, str]:
    """Sending, editing, typing, receipts and the states of a thread page."""
    return {
        **connection_strings(),
        "waiting": _("Waiting for the connection…"),
        "sending": _("Sending…"),
        "failed": _("Not sent."),
        "retry": _("Retry"),
        "discard": _("Discard"),
        "editAgain": _("Edit"),
        "noAccess": _("You no longer have access to this conversation."),
        "deletedThread": _("This conversation was deleted."),
        # The browser puts the names in place of "%(names)s".
        "typing": _("%(names)s is typing…"),
        "typingMany": _("%(names)s are typing…"),
        "seenBy": _("Seen by %(names)s"),
        "and": _("and"),
        "newMessages": _("New messages"),
        # "%(count)s" becomes the number; one form for one message, one for more.
        "jumpOne": _("1 new message"),
        "jumpMany": _("%(count)s new messages"),
        "today": _("Today"),
        "yesterday": _("Yesterday"),
        "copyLink": _("Copy link"),
        "linkCopied": _("Link copied."),
        "edit": _("Edit"),
        "delete": _("Delete"),
        "save": _("Save"),
        "cancel": _("Cancel"),
        "confirmDelete": _("Delete this message?"),
        "saving": _("Saving…"),
        "editHint": _("Enter to save, Escape to cancel"),
        "messageActions": _("Message actions"),
        "relayStopped": _(
            "Changes made outside Kwebbel no longer arrive here live. Reload to see them."
        ),
        "message": _("Message"),
        "formatting": _("Formatting"),
        "bold": _("Bold"),
        "italic": _("Italic"),
        "strike": _("Strikethrough"),
        "link": _("Link"),
        "bullets": _("Bulleted list"),
        "numbers": _("Numbered list"),
        "code": _("Code"),
        "linkPrompt": _("Link address"),
        "addLink": _("Add link"),
        "badLink": _("Only web (http, https) and e-mail (mailto) links can be added."),
        "reply": _("Reply"),
        "react": _("React"),
        "cancelReply": _("Cancel the reply"),
        "replyingTo": _("Replying to"),
        "replyHidden": _("Reply to a message you can't see"),
        "mentionSomeone": _("Mention someone"),
        "mentionsYou": _("mentions you"),
    }


def seen_receipts(
    receipts: dict[str, int], people: dict[str, Person], *, me: str, hidden: Iterable[str]
) -> list[dict[str, str]]:
    """Each other reader's latest read message id and name, for "seen by"."""
    hidden = set(hidden)
    return [
        {"reader": raw, "name": people[raw].name, "messageId": str(number)}
        for raw, number in sorted(receipts.items())
        if raw != me and raw not in hidden and raw in people
    ]
