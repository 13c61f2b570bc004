"""Everything Kwebbel does to chat threads, one small function per action.

Views parse input and call these; these validate (`check_*`), fetch with a permission check
(`access_*`) or change state through the ACS gateway (`do_*`). Nothing else talks to ACS.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from azure.core.exceptions import AzureError, HttpResponseError
from django.http import Http404
from django.utils.translation import gettext as _


class ActionError(Exception):
    """A request Kwebbel or ACS refused; the message is shown to the user as is."""

    def __init__(self, message: str, *, status: int = 400) -> None:
        super().__init__(message)
        self.message = message
        self.status = status


class ChatUnavailable(Exception):
    """ACS could not be reached or kept failing after the SDK's retries."""


def status_of(error: AzureError) -> int | None:
    """The HTTP status of an SDK error, or None when no response arrived."""
    return getattr(error, "status_code", None)


@contextmanager
def acs_call(*, not_found_is_404: bool = False, forbidden: str | None = None) -> Iterator[None]:
    """Translate SDK errors into Kwebbel's: 404/403 into Http404 or ActionError, 5xx/429 into
    ChatUnavailable, other 4xx into ActionError carrying ACS's message."""
    try:
        yield
    except HttpResponseError as error:
        status = status_of(error)
        if status in (403, 404) and not_found_is_404:
            raise Http404(_("No such conversation.")) from error
        if status == 403:
            raise ActionError(
                forbidden or _("You are not allowed to do that."), status=403
            ) from error
        if status == 404:
            raise ActionError(_("That no longer exists."), status=404) from error
        if status is not None and 400 <= status < 500 and status != 429:
            detail = error.error.message if getattr(error, "error", None) else str(status)
            raise ActionError(
                _("The chat service refused this: %(detail)s") % {"detail": detail}
            ) from error
        raise ChatUnavailable(str(error)) from error
    except AzureError as error:
        raise ChatUnavailable(str(error)) from error


def message_type(message: Any) -> str:
    """The message type as a plain string (the SDK gives an enum for known types)."""
    value = getattr(message.type, "value", message.type)
    return str(value)


def sender_id(message: Any) -> str | None:
    """The sender's raw id; None for system messages."""
    return getattr(message.sender, "raw_id", None)
