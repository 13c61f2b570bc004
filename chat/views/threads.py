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
from chat.actions.messages import MESSAGE_MAX_LENGTH, check_message_id, do_send_message
from chat.actions.pages import thread_view
from chat.actions.threads import (
    access_thread,
    do_create_thread,
    do_delete_thread,
    do_update_topic,
    list_threads,
)
from chat.forms import MessageForm, NewThreadForm, ParticipantPickerForm, TopicForm
from chat.people import service_raw_id, site_users
from chat.reactions import EMOJI
from chat.views import chat_view, read_cursor, report_error, safe_next, sign_cursor
from chat.views.attachments import attachment_config, attachment_context, upload_with_form
from chat.views.attachments import base_url as attachment_base_url
from chat.views.live import list_strings, seen_receipts, thread_strings


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
            "list_config": {"strings": list_strings()},
        },
    )


@chat_view
@require_http_methods(["GET", "POST"])
def thread_create(request: HttpRequest) -> HttpResponse:
    users = site_users(exclude_ids=[request.user.pk])
    form = NewThreadForm(request.POST or None)
    picker = ParticipantPickerForm(
        request.POST or None, users=users, prefix="people", allow_since=False
    )
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
    """The thread page's template context (the data comes from one action)."""
    cursor = read_cursor(request, f"messages.{thread_id}")
    around = request.GET.get("around") if cursor is None else None
    if around is not None:
        check_message_id(around)
    view = thread_view(request.user, thread_id, cursor, around)
    access = view.access
    hidden = {service_raw_id()}
    return {
        "access": access,
        "thread_id": thread_id,
        "topic": access.topic,
        "chat_messages": view.messages,
        "participants": view.participants,
        "others": view.others,
        "history_start": view.history_start,
        "problems": view.problems,
        "older_cursor": sign_cursor(request, f"messages.{thread_id}", view.older_cursor),
        "is_newest_page": cursor is None,
        "around": around,
        "around_found": view.around_found,
        **attachment_context(),
        "live": {
            "files": attachment_config(),
            "thread": thread_id,
            "topic": access.topic,
            "cursor": view.live_cursor,
            "receipts": seen_receipts(view.receipts, view.people, me=access.me, hidden=hidden),
            "myRead": str(view.receipts.get(access.me, 0)),
            "participants": [{"rawId": p.raw_id, "name": p.person.name} for p in view.participants],
            "around": around if view.around_found else None,
            "maxLength": MESSAGE_MAX_LENGTH,
            "emoji": list(EMOJI),
            "strings": thread_strings(),
        },
    }


@chat_view
@require_http_methods(["GET", "POST"])
def thread_detail(request: HttpRequest, thread_id: str) -> HttpResponse:
    """The thread. A POST is the no-script composer (the page script sends over the websocket)."""
    form = MessageForm(request.POST or None)
    if request.method == "POST":
        access = access_thread(request.user, thread_id)
        with_files = bool(request.FILES.getlist("files"))
        form.fields["content"].required = not with_files  # files alone make a message
        if form.is_valid():
            try:
                files = upload_with_form(request, access) if with_files else []
                message_id = do_send_message(
                    access,
                    form.cleaned_data["content"],
                    form.cleaned_data["format"] or "text",
                    form.cleaned_data.get("reply_to") or None,
                    files,
                    attachment_base_url(request),
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
                "problems": context["problems"],
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
            request, _("The conversation “%(topic)s” was deleted.") % {"topic": access.topic}
        )
        return redirect("chat:threads")
    return render(request, "chat/thread_delete.html", {"access": access, "thread_id": thread_id})
