"""Chat pages. Views are thin: parse the request, call one action, render or redirect."""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable
from typing import Any

from django.contrib.auth.decorators import login_required
from django.contrib.messages import error as flash_error
from django.core import signing
from django.core.exceptions import PermissionDenied, SuspiciousOperation
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.utils.http import url_has_allowed_host_and_scheme

from chat.actions import ActionError, ChatUnavailable
from chat.actions.messages import MessageNotFound
from chat.actions.pages import why_gone
from tokens.services import AcsError

logger = logging.getLogger(__name__)

View = Callable[..., HttpResponse]


def wants_json(request: HttpRequest) -> bool:
    """Requests sent by chat.js ask for JSON; plain form posts get pages and redirects."""
    return "application/json" in request.headers.get("Accept", "")


def gone(request: HttpRequest, error: Http404, thread_id: str | None) -> HttpResponse:
    """Kwebbel's own 404 for a chat page, saying why when it can: the conversation was deleted,
    the user is not (or no longer) in it, or the message is gone (with DEBUG too, where Django
    would show its technical page)."""
    reason = why_gone(thread_id, error)
    message = str(error) if error.args and isinstance(error.args[0], str) else ""
    if wants_json(request):
        return JsonResponse({"error": message or reason, "reason": reason}, status=404)
    return render(
        request,
        "chat/gone.html",
        {
            "reason": reason,
            "thread_id": thread_id,
            "detail": message,
            # Only a missing message leaves a conversation to go back to.
            "conversation_open": isinstance(error, MessageNotFound),
        },
        status=404,
    )


def chat_view(view: View) -> View:
    """Sign-in required; chat failures become a clear page (or JSON) with the right status."""

    @functools.wraps(view)
    def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        try:
            return view(request, *args, **kwargs)
        except Http404 as error:
            return gone(request, error, kwargs.get("thread_id"))
        except ActionError as error:
            if wants_json(request):
                return JsonResponse({"error": error.message}, status=error.status)
            return render(
                request, "chat/error.html", {"message": error.message}, status=error.status
            )
        except (ChatUnavailable, AcsError):
            logger.warning("chat service unavailable", exc_info=True)
            if wants_json(request):
                return JsonResponse({"error": "unavailable"}, status=503)
            return render(request, "chat/unavailable.html", status=503)

    return login_required(wrapper)


def staff_view(view: View) -> View:
    """Like chat_view, for staff only (others get 403)."""

    @functools.wraps(view)
    def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        if not request.user.is_staff:
            raise PermissionDenied
        return view(request, *args, **kwargs)

    return chat_view(wrapper)


def report_error(request: HttpRequest, error: ActionError) -> None:
    flash_error(request, error.message)


# Paging cursors are ACS nextLinks. They are signed (and bound to the user) before they go
# into a URL: the SDK follows a nextLink to whatever host it names, with the user's token.


def sign_cursor(request: HttpRequest, kind: str, cursor: str | None) -> str | None:
    if not cursor:
        return None
    return signing.dumps(cursor, salt=f"chat.cursor.{kind}.{request.user.pk}", compress=True)


def read_cursor(request: HttpRequest, kind: str) -> str | None:
    value = request.GET.get("cursor")
    if not value:
        return None
    try:
        return signing.loads(value, salt=f"chat.cursor.{kind}.{request.user.pk}")
    except signing.BadSignature as error:
        raise SuspiciousOperation("bad paging cursor") from error


def safe_next(request: HttpRequest, default: str) -> str:
    """The `next` field of a form if it is a local URL, else `default`."""
    target = request.POST.get("next") or request.GET.get("next") or ""
    if target and url_has_allowed_host_and_scheme(
        target, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return target
    return default
