"""What the thread page's live script needs besides the messages: words and read receipts."""

from __future__ import annotations

from collections.abc import Iterable

from django.utils.translation import gettext as _

from chat.people import Person


def live_strings() -> dict[str, str]:
    """Translated words for connection status, sending states, typing and lost access."""
    return {
        "connecting": _("Connecting…"),
        "connected": _("Connected"),
        "reconnecting": _("Reconnecting…"),
        "offline": _("Offline"),
        "sending": _("Sending…"),
        "failed": _("Not sent."),
        "retry": _("Retry"),
        # The browser puts the names in place of "%(names)s".
        "typing": _("%(names)s is typing…"),
        "removed": _("You no longer have access to this conversation."),
        "signedOut": _("You were signed out. Reload the page to sign in again."),
        "reload": _("Reload"),
        "you": _("You"),
    }


def seen_receipts(
    receipts: dict[str, int], people: dict[str, Person], *, me: str, hidden: Iterable[str]
) -> list[dict[str, str]]:
    """Each other reader's latest read message id and name, for "seen by" updates."""
    hidden = set(hidden)
    return [
        {"reader": raw, "name": people[raw].name, "messageId": str(number)}
        for raw, number in sorted(receipts.items())
        if raw != me and raw not in hidden and raw in people
    ]
