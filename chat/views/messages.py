"""One message: its permalink, and the no-script edit and delete."""

from __future__ import annotations

from datetime import datetime

from django.contrib import messages
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods, require_POST

from chat import replies
from chat.actions import ActionError
from chat.actions.messages import (
    access_message,
    access_own_message,
    do_delete_message,
    do_edit_message,
)
from chat.actions.pages import extras
from chat.actions.participants import fetch_participants, history_start
from chat.actions.reactions import do_react
from chat.actions.threads import ThreadAccess, access_thread
from chat.forms import EditMessageForm, MessageForm
from chat.people import people_for, service_raw_id
from chat.reactions import EMOJI, people_in
from chat.rendering import for_viewer, message_json
from chat.types import USER_TYPES
from chat.views import chat_view


def _start(access: ThreadAccess) -> datetime | None:
    """When this user's history starts (one ListChatParticipants call)."""
    return history_start(fetch_participants(access), access.me)


def _thread_url(thread_id: str, message_id: str | None = None) -> str:
    url = reverse("chat:thread", args=[thread_id])
    return f"{url}#m-{message_id}" if message_id else url


@chat_view
def message_permalink(request: HttpRequest, thread_id: str, message_id: str) -> HttpResponse:
    access = access_thread(request.user, thread_id)
    start = _start(access)
    message = access_message(access, message_id, start)
    quotes, reactions = extras(access, [message])
    people = people_for(message.people() | replies.senders(quotes) | people_in(reactions))
    shown = message_json(
        message,
        thread_id=thread_id,
        people=people,
        hidden={service_raw_id()},
        quotes=quotes,
        reactions=reactions,
    )
    if shown is None:
        return render(request, "chat/error.html", {"message": _("No such message.")}, status=404)
    shown = for_viewer(shown, thread_id=thread_id, me=access.me, history_start=start)
    if request.GET.get("format") == "json":
        return JsonResponse({"message": shown})
    return render(
        request,
        "chat/message_detail.html",
        {
            "access": access,
            "thread_id": thread_id,
            "topic": access.topic,
            "message": shown,
            "mine_reactions": {
                r["emoji"] for r in shown.get("reactions", []) if access.me in r["users"]
            },
            "emoji": EMOJI,
            "can_react": shown["type"] in USER_TYPES and not shown["deletedOn"],
            "reply_form": MessageForm(initial={"reply_to": message.id}),
        },
    )


@chat_view
@require_POST
def message_react(request: HttpRequest, thread_id: str, message_id: str) -> HttpResponse:
    """The no-script reaction: the posted emoji toggled on the message."""
    access = access_thread(request.user, thread_id)
    # A refusal (ActionError, MessageNotFound) is the error page chat_view renders.
    do_react(access, message_id, request.POST.get("emoji", ""), None, _start(access))
    return redirect(_thread_url(thread_id, message_id))


@chat_view
@require_http_methods(["GET", "POST"])
def message_edit(request: HttpRequest, thread_id: str, message_id: str) -> HttpResponse:
    access = access_thread(request.user, thread_id)
    message = access_own_message(access, message_id, _start(access))
    shown = message_json(message, thread_id=thread_id, people=people_for(message.people()))
    form = EditMessageForm(request.POST or None, initial={"content": shown["source"]})
    if request.method == "POST" and form.is_valid():
        try:
            do_edit_message(access, message, form.cleaned_data["content"])
        except ActionError as error:
            form.add_error("content", error.message)
        else:
            return redirect(_thread_url(thread_id, message_id))
    return render(
        request,
        "chat/message_edit.html",
        {"access": access, "thread_id": thread_id, "message": shown, "form": form},
        status=400 if form.errors else 200,
    )


@chat_view
@require_POST
def message_delete(request: HttpRequest, thread_id: str, message_id: str) -> HttpResponse:
    access = access_thread(request.user, thread_id)
    message = access_own_message(access, message_id, _start(access))
    do_delete_message(access, message)
    messages.success(request, _("Message deleted."))
    return redirect(_thread_url(thread_id, message_id))
