"""The participants page: who is in the thread, adding, removing, leaving, topic."""

from __future__ import annotations

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.utils.translation import ngettext
from django.views.decorators.http import require_http_methods, require_POST

from chat.actions import ActionError
from chat.actions.participants import (
    HISTORY_NONE,
    do_add_participants,
    do_leave_thread,
    do_remove_participant,
    fetch_participants,
    visible_participants,
)
from chat.actions.threads import ThreadAccess, access_thread, forget_members
from chat.forms import ParticipantPickerForm, RemoveParticipantForm, TopicForm
from chat.people import site_users
from chat.views import chat_view, report_error
from chat.views.live import people_strings


@chat_view
@require_http_methods(["GET", "POST"])
def participant_list(request: HttpRequest, thread_id: str) -> HttpResponse:
    access = access_thread(request.user, thread_id)
    participants = visible_participants(fetch_participants(access))
    in_thread = {p.person.user_id for p in participants if p.person.user_id}
    candidates = site_users(exclude_ids=in_thread | {request.user.pk})
    picker = ParticipantPickerForm(
        request.POST or None,
        users=candidates,
        prefix="people",
        default_history=HISTORY_NONE,
        thread_created_on=access.created_on,
    )
    if request.method == "POST" and picker.is_valid():
        try:
            failures = do_add_participants(access, picker.choices())
        except ActionError as error:
            picker.add_error(None, error.message)
        else:
            forget_members(thread_id)
            added = len(picker.choices()) - len(failures)
            if added:
                messages.success(
                    request,
                    ngettext("Added %(count)d person.", "Added %(count)d people.", added)
                    % {"count": added},
                )
            for failure in failures:
                messages.error(
                    request,
                    _("%(name)s could not be added: %(reason)s")
                    % {"name": failure.name, "reason": failure.reason},
                )
            return redirect("chat:participants", thread_id)
    return render(
        request,
        "chat/participants.html",
        {
            "access": access,
            "thread_id": thread_id,
            "topic": access.topic,
            "participants": participants,
            "picker": picker,
            "topic_form": TopicForm(initial={"topic": access.topic}),
            "others": [p for p in participants if p.raw_id != access.me],
            "people_config": {"thread": thread_id, "strings": people_strings()},
        },
        status=400 if picker.errors else 200,
    )


@chat_view
@require_POST
def participant_remove(request: HttpRequest, thread_id: str) -> HttpResponse:
    access = access_thread(request.user, thread_id)
    form = RemoveParticipantForm(request.POST)
    if not form.is_valid():
        raise ActionError(_("Choose who to remove."))
    raw_id = form.cleaned_data["raw_id"]
    if raw_id == access.me:
        return _leave(request, access)
    try:
        do_remove_participant(access, raw_id)
    except ActionError as error:
        report_error(request, error)
    else:
        forget_members(thread_id)
        messages.success(request, _("Removed from the thread."))
    return redirect("chat:participants", thread_id)


@chat_view
@require_POST
def thread_leave(request: HttpRequest, thread_id: str) -> HttpResponse:
    return _leave(request, access_thread(request.user, thread_id))


def _leave(request: HttpRequest, access: ThreadAccess) -> HttpResponse:
    do_leave_thread(access)
    forget_members(access.thread_id)
    messages.success(request, _("You left “%(topic)s”.") % {"topic": access.topic})
    return redirect(reverse("chat:threads"))
