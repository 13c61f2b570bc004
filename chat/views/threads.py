"""Thread list, new thread, thread page (history and sending), topic and deletion."""

from __future__ import annotations

from urllib.parse import urlencode

from django.contrib import messages
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods, require_POST

from chat.actions import ActionError
from chat.actions.messages import do_send_message, latest_receipts, message_page
from chat.actions.messages import do_send_read_receipt as send_receipt
from chat.actions.participants import fetch_participants, history_start, visible_participants
from chat.actions.threads import (
    access_thread,
    do_create_thread,
    do_delete_thread,
    do_update_topic,
    list_threads,
)
from chat.forms import MessageForm, NewThreadForm, ParticipantPickerForm, TopicForm
from chat.people import people_for, service_raw_id, site_users
from chat.relay.api import current_cursor
from chat.rendering import add_seen_by, message_json, message_strings, people_in_message
from chat.views import chat_view, read_cursor, report_error, safe_next, sign_cursor
from chat.views.live import live_strings, seen_receipts


@chat_view
def thread_list(request: HttpRequest) -> HttpResponse:
    page = list_threads(request.user, read_cursor(request, "threads"))
    return render(
        request,
        "chat/thread_list.html",
        {
            "threads": page.threads,
            "next_cursor": sign_cursor(request, "threads", page.next_cursor),
            "is_first_page": "cursor" not in request.GET,
        },
    )


@chat_view
@require_http_methods(["GET", "POST"])
def thread_create(request: HttpRequest) -> HttpResponse:
    users = site_users(exclude_ids=[request.user.pk])
    form = NewThreadForm(request.POST or None)
    picker = ParticipantPickerForm(request.POST or None, users=users, prefix="people")
    if request.method == "POST" and form.is_valid() and picker.is_valid():
        try:
            created = do_create_thread(
                request.user,
                form.cleaned_data["topic"],
                picker.choices(),
                str(form.cleaned_data["idempotency_token"]),
            )
        except ActionError as error:
            form.add_error(None, error.message)
        else:
            for failure in created.failures:
                messages.warning(
                    request,
                    _("%(name)s could not be added: %(reason)s")
                    % {"name": failure.name, "reason": failure.reason},
                )
            return redirect("chat:thread", created.thread_id)
    return render(request, "chat/thread_create.html", {"form": form, "picker": picker})


def thread_context(request: HttpRequest, thread_id: str) -> dict[str, object]:
    """Everything the thread page shows; five ACS calls at most (see the comments)."""
    access = access_thread(request.user, thread_id)  # GetChatThreadProperties
    # Read before the snapshot below: events after this cursor are replayed to the page, so a
    # change made while the snapshot is taken shows up (the page applies events by message id,
    # so one that is in the snapshot too is not shown twice).
    live_cursor = current_cursor(thread_id)
    raw_participants = fetch_participants(access)  # ListChatParticipants
    start = history_start(raw_participants, access.me)
    cursor = read_cursor(request, f"messages.{thread_id}")
    page = message_page(access, cursor, start)  # ListChatMessages, one page
    receipts = latest_receipts(access)  # ListChatReadReceipts
    hidden = {service_raw_id()}
    ids = {p.identifier.raw_id for p in raw_participants} | set(receipts)
    for message in page.messages:
        ids |= people_in_message(message)
    people = people_for(ids)
    shown = [
        m
        for m in (
            message_json(message, thread_id=thread_id, me=access.me, people=people, hidden=hidden)
            for message in page.messages
        )
        if m is not None
    ]
    add_seen_by(shown, receipts, people, me=access.me, hidden=hidden)
    participants = visible_participants(raw_participants)
    # Without a script running, opening the newest page is what "seen" means: send the
    # receipt for its last message if ACS does not have it yet (SendChatReadReceipt).
    if cursor is None and page.messages:
        newest = page.messages[-1].id
        if int(newest) > receipts.get(access.me, 0):
            send_receipt(access, newest)
    return {
        "access": access,
        "thread_id": thread_id,
        "topic": access.topic,
        "chat_messages": shown,
        "participants": participants,
        "history_start": start,
        "older_cursor": sign_cursor(request, f"messages.{thread_id}", page.older_cursor),
        "is_newest_page": cursor is None,
        "live": {
            "cursor": live_cursor,
            "socket": "/ws/chat/",
            "receipts": seen_receipts(receipts, people, me=access.me, hidden=hidden),
            "myRead": str(receipts.get(access.me, 0)),
            "participants": [{"rawId": p.raw_id, "name": p.person.name} for p in participants],
            "strings": {**message_strings(), **live_strings()},
        },
    }


@chat_view
@require_http_methods(["GET", "POST"])
def thread_detail(request: HttpRequest, thread_id: str) -> HttpResponse:
    form = MessageForm(request.POST or None)
    if request.method == "POST":
        access = access_thread(request.user, thread_id)
        if form.is_valid():
            try:
                message_id = do_send_message(
                    access,
                    form.cleaned_data["content"],
                    form.cleaned_data["format"] or "text",
                    form.cleaned_data["client_id"],
                )
            except ActionError as error:
                form.add_error("content", error.message)
            else:
                return redirect(reverse("chat:thread", args=[thread_id]) + f"#m-{message_id}")
    context = thread_context(request, thread_id)
    context["form"] = form
    if request.GET.get("format") == "json":
        older = context["older_cursor"]
        return JsonResponse(
            {
                "messages": context["chat_messages"],
                "olderUrl": f"?{urlencode({'cursor': older})}" if older else None,
                "strings": message_strings(),
            }
        )
    return render(request, "chat/thread_detail.html", context, status=400 if form.errors else 200)


@chat_view
@require_POST
def thread_topic(request: HttpRequest, thread_id: str) -> HttpResponse:
    access = access_thread(request.user, thread_id)
    form = TopicForm(request.POST)
    default = reverse("chat:participants", args=[thread_id])
    if not form.is_valid():
        messages.error(request, _("The topic cannot be empty."))
        return redirect(safe_next(request, default))
    try:
        do_update_topic(access, form.cleaned_data["topic"])
    except ActionError as error:
        report_error(request, error)
    else:
        messages.success(request, _("Topic changed."))
    return redirect(safe_next(request, default))


@chat_view
@require_http_methods(["GET", "POST"])
def thread_delete(request: HttpRequest, thread_id: str) -> HttpResponse:
    access = access_thread(request.user, thread_id)
    if not access.can_delete:
        raise ActionError(_("Only the creator or staff can delete this thread."), status=403)
    if request.method == "POST":
        do_delete_thread(access)
        messages.success(
            request, _("The thread “%(topic)s” was deleted.") % {"topic": access.topic}
        )
        return redirect("chat:threads")
    return render(request, "chat/thread_delete.html", {"access": access, "thread_id": thread_id})
