"""Staff overview of every thread created through Kwebbel, acting as the service identity."""

from __future__ import annotations

from django.contrib import messages
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from chat.actions import ActionError, ChatUnavailable
from chat.actions.participants import do_staff_remove_participant, staff_participants
from chat.actions.threads import do_staff_delete_thread, do_staff_update_topic
from chat.forms import RemoveParticipantForm, TopicForm
from chat.models import ThreadRecord
from chat.views import report_error, staff_view

RECORDS_PER_PAGE = 20


@staff_view
def staff_threads(request: HttpRequest) -> HttpResponse:
    """Recorded threads, 20 a page; one ListChatParticipants call per live thread shown."""
    show_deleted = request.GET.get("deleted") == "1"
    records = ThreadRecord.objects.select_related("creator")
    if not show_deleted:
        records = records.filter(deleted_on__isnull=True)
    page = Paginator(records, RECORDS_PER_PAGE).get_page(request.GET.get("page"))
    rows = []
    for record in page:
        participants, problem = [], None
        if record.service_removed_on is not None:
            problem = _(
                "Kwebbel's service identity was removed from this conversation outside Kwebbel:"
                " staff cannot manage it here, and changes made outside Kwebbel no longer"
                " arrive live."
            )
        elif record.deleted_on is None:
            try:
                participants = staff_participants(record.chat_thread_id)
            except (ActionError, ChatUnavailable):
                problem = _("Participants could not be loaded.")
        rows.append(
            {
                "record": record,
                "participants": participants,
                "problem": problem,
                "topic_form": TopicForm(initial={"topic": record.topic}),
            }
        )
    return render(
        request,
        "chat/staff_threads.html",
        {"page": page, "rows": rows, "show_deleted": show_deleted},
    )


def _record(pk: int) -> ThreadRecord:
    return get_object_or_404(ThreadRecord, pk=pk, deleted_on__isnull=True)


@staff_view
@require_POST
def staff_topic(request: HttpRequest, pk: int) -> HttpResponse:
    record = _record(pk)
    form = TopicForm(request.POST)
    try:
        if not form.is_valid():
            raise ActionError(_("The topic cannot be empty."))
        do_staff_update_topic(record, form.cleaned_data["topic"])
    except ActionError as error:
        report_error(request, error)
    else:
        messages.success(request, _("Topic changed."))
    return redirect("chat:staff_threads")


@staff_view
@require_POST
def staff_remove(request: HttpRequest, pk: int) -> HttpResponse:
    record = _record(pk)
    form = RemoveParticipantForm(request.POST)
    try:
        if not form.is_valid():
            raise ActionError(_("Choose who to remove."))
        do_staff_remove_participant(record.chat_thread_id, form.cleaned_data["raw_id"])
    except ActionError as error:
        report_error(request, error)
    else:
        messages.success(request, _("Removed from the thread."))
    return redirect("chat:staff_threads")


@staff_view
@require_POST
def staff_delete(request: HttpRequest, pk: int) -> HttpResponse:
    record = _record(pk)
    do_staff_delete_thread(record)
    messages.success(
        request, _("The conversation “%(topic)s” was deleted.") % {"topic": record.topic}
    )
    return redirect("chat:staff_threads")
