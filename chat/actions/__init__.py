"""Everything Kwebbel does to chat threads, one small function per action.

Views and the websocket consumer parse input and call these; these validate (`check_*`), fetch
with a permission check (`access_*`) or change state through the ACS gateway (`do_*`) and tell
the relay (`publish`). Nothing else talks to ACS. The pages' actions are sync (Django views);
the websocket's are async (`chat.actions.live`) and share the checks.

Who may do what in a thread (the gateway acts with the user's own server token, and ACS itself
enforces membership and that only a message's sender changes it):

| action                                   | who                                   |
|------------------------------------------|---------------------------------------|
| read, send, read receipts, typing       | participants                          |
| reply to or react to a message           | participants who can see that message |
| edit or delete a message                 | its sender                            |
| change the topic, add people             | participants                          |
| remove someone else                      | the thread's creator, and staff       |
| leave                                    | every participant                     |
| delete the conversation                  | the thread's creator, and staff       |
| remove Kwebbel's service identity        | nobody                                |
| upload files; send them in a message     | participants (their own uploads only) |
| download a file                          | participants who see its message, staff |

A file is served only while its message exists and lies in the viewer's history, asked of ACS
on each download (``chat.actions.attachments``).

Staff also manage every thread Kwebbel created from the staff page, as the service identity.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from django.http import Http404
from django.utils.translation import gettext as _

from chat.gateway import GatewayError


class ActionError(Exception):
    """A request Kwebbel or ACS refused; the message is shown to the user as is."""

    def __init__(self, message: str, *, status: int = 400) -> None:
        super().__init__(message)
        self.message = message
        self.status = status


class ChatUnavailable(Exception):
    """ACS could not be reached, kept failing, or answered with something unreadable."""


@contextmanager
def acs_call(*, not_found_is_404: bool = False, forbidden: str | None = None) -> Iterator[None]:
    """Translate gateway errors into Kwebbel's: 404/403 into Http404 or ActionError, 5xx/429
    and unreadable answers into ChatUnavailable, other 4xx into ActionError with ACS's words."""
    try:
        yield
    except GatewayError as error:
        if error.status in (403, 404) and not_found_is_404:
            raise Http404(_("No such conversation.")) from error
        if error.forbidden:
            raise ActionError(
                forbidden or _("You are not allowed to do that."), status=403
            ) from error
        if error.not_found:
            raise ActionError(_("That no longer exists."), status=404) from error
        if error.refused:
            raise ActionError(
                _("The chat service refused this: %(detail)s") % {"detail": error.message}
            ) from error
        raise ChatUnavailable(str(error)) from error


def check_text(value: str, field: str) -> str:
    """Refuse text that ACS or the databases cannot store as sent: lone surrogates (not valid
    Unicode, so not UTF-8) and NUL characters (PostgreSQL text cannot hold them)."""
    try:
        value.encode("utf-8")
    except UnicodeEncodeError as error:
        raise ActionError(
            _("The %(field)s contains characters that are not valid text.") % {"field": field}
        ) from error
    if "\x00" in value:
        raise ActionError(_("The %(field)s contains a NUL character.") % {"field": field})
    return value
