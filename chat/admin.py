"""Admin for recorded threads. Changes go through ACS as Kwebbel's service identity."""

from __future__ import annotations

from django.contrib import admin, messages
from django.db.models import QuerySet
from django.forms import ModelForm
from django.http import HttpRequest
from django.urls import reverse
from django.utils.html import format_html, format_html_join
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from chat.actions import ActionError, ChatUnavailable
from chat.actions.participants import staff_participants
from chat.actions.threads import do_staff_delete_thread, do_staff_update_topic
from chat.models import ThreadRecord


@admin.register(ThreadRecord)
class ThreadRecordAdmin(admin.ModelAdmin):
    list_display = ("topic", "creator", "created_on", "deleted_on", "chat_thread_id")
    list_filter = (("deleted_on", admin.EmptyFieldListFilter),)
    search_fields = ("topic", "chat_thread_id", "creator__username")
    fields = ("topic", "chat_thread_id", "creator", "created_on", "deleted_on", "participants")
    readonly_fields = ("chat_thread_id", "creator", "created_on", "deleted_on", "participants")
    actions = ["delete_in_acs"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        # Threads are created in ACS by people chatting; a row here alone would mean nothing.
        return False

    def has_delete_permission(self, request: HttpRequest, obj: ThreadRecord | None = None) -> bool:
        # Rows stay as the record of a deletion; "Delete in ACS" marks them deleted.
        return False

    @admin.display(description=gettext_lazy("participants"))
    def participants(self, obj: ThreadRecord) -> str:
        if obj.deleted_on:
            return "—"
        try:
            people = staff_participants(obj.chat_thread_id)
        except (ActionError, ChatUnavailable):
            return _("Participants could not be loaded.")
        names = format_html_join(", ", "{}", ((p.person.name,) for p in people))
        return format_html(
            '{} (<a href="{}">{}</a>)', names, reverse("chat:staff_threads"), _("manage")
        )

    def save_model(
        self, request: HttpRequest, obj: ThreadRecord, form: ModelForm, change: bool
    ) -> None:
        if change and "topic" in form.changed_data and obj.deleted_on is None:
            try:
                do_staff_update_topic(obj, obj.topic)
            except (ActionError, ChatUnavailable) as error:
                self.message_user(request, str(error), level=messages.ERROR)
            return
        super().save_model(request, obj, form, change)

    @admin.action(description=gettext_lazy("Delete the selected threads in ACS"))
    def delete_in_acs(self, request: HttpRequest, queryset: QuerySet[ThreadRecord]) -> None:
        done = 0
        for record in queryset.filter(deleted_on__isnull=True):
            try:
                do_staff_delete_thread(record)
                done += 1
            except (ActionError, ChatUnavailable) as error:
                self.message_user(request, f"{record}: {error}", level=messages.ERROR)
        self.message_user(request, _("%(count)d thread(s) deleted.") % {"count": done})
