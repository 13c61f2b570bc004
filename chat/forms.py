"""Forms for the chat pages. They only parse input; the rules live in chat.actions."""

from __future__ import annotations

import uuid
from collections.abc import Iterable

from django import forms
from django.contrib.auth.models import AbstractBaseUser
from django.utils.translation import gettext_lazy as _

from chat.actions.messages import HTML, MESSAGE_MAX_LENGTH, TEXT
from chat.actions.participants import (
    HISTORY_ALL,
    HISTORY_NONE,
    HISTORY_SINCE,
    share_history_time_for,
)
from chat.actions.threads import TOPIC_MAX_LENGTH, ParticipantChoice
from chat.people import display_name

HISTORY_CHOICES = [
    (HISTORY_NONE, _("From now on")),
    (HISTORY_ALL, _("All history")),
    (HISTORY_SINCE, _("From a date and time")),
]


class TopicForm(forms.Form):
    topic = forms.CharField(label=_("Topic"), max_length=TOPIC_MAX_LENGTH)


class ParticipantPickerForm(forms.Form):
    """A row per site user: a checkbox, and how much history that person sees.

    Fields are `pick_<pk>`, `history_<pk>` and `since_<pk>`, so the form works without
    JavaScript; the script only hides the date field unless "from a date" is chosen.
    """

    def __init__(
        self,
        *args: object,
        users: Iterable[AbstractBaseUser],
        default_history: str = HISTORY_NONE,
        **kwargs: object,
    ) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        self.users = list(users)
        for user in self.users:
            self.fields[f"pick_{user.pk}"] = forms.BooleanField(
                label=display_name(user), required=False
            )
            self.fields[f"history_{user.pk}"] = forms.ChoiceField(
                label=_("History for %(name)s") % {"name": display_name(user)},
                choices=HISTORY_CHOICES,
                initial=default_history,
                required=False,
            )
            self.fields[f"since_{user.pk}"] = forms.DateTimeField(
                label=_("History from"),
                required=False,
                widget=forms.DateTimeInput(attrs={"type": "datetime-local"}),
                input_formats=["%Y-%m-%dT%H:%M", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%d %H:%M"],
            )

    def rows(self) -> list[dict[str, object]]:
        """Bound fields per user, for the template."""
        return [
            {
                "user": user,
                "name": display_name(user),
                "pick": self[f"pick_{user.pk}"],
                "history": self[f"history_{user.pk}"],
                "since": self[f"since_{user.pk}"],
            }
            for user in self.users
        ]

    def clean(self) -> dict[str, object]:
        cleaned = super().clean() or {}
        for user in self.users:
            if (
                cleaned.get(f"pick_{user.pk}")
                and cleaned.get(f"history_{user.pk}") == HISTORY_SINCE
                and not cleaned.get(f"since_{user.pk}")
            ):
                self.add_error(
                    f"since_{user.pk}", _("Choose the date and time history starts from.")
                )
        return cleaned

    def choices(self) -> list[ParticipantChoice]:
        """The picked users with their `share_history_time` (call after is_valid())."""
        picked = []
        for user in self.users:
            if not self.cleaned_data.get(f"pick_{user.pk}"):
                continue
            history = self.cleaned_data.get(f"history_{user.pk}") or HISTORY_NONE
            since = self.cleaned_data.get(f"since_{user.pk}")
            picked.append(ParticipantChoice(user, share_history_time_for(history, since)))
        return picked


class NewThreadForm(forms.Form):
    topic = forms.CharField(label=_("Topic"), max_length=TOPIC_MAX_LENGTH)
    # Generated when the form is shown; a second submit of the same form reuses it, and ACS
    # then answers with the thread the first submit created.
    idempotency_token = forms.UUIDField(widget=forms.HiddenInput, initial=uuid.uuid4)


class MessageForm(forms.Form):
    content = forms.CharField(
        label=_("Message"),
        max_length=MESSAGE_MAX_LENGTH,
        strip=False,
        widget=forms.Textarea(attrs={"rows": 2, "placeholder": _("Write a message…")}),
    )
    format = forms.ChoiceField(
        label=_("Format"),
        choices=[(TEXT, _("Text")), (HTML, _("HTML"))],
        initial=TEXT,
        required=False,
    )
    client_id = forms.CharField(required=False, max_length=64, widget=forms.HiddenInput)


class EditMessageForm(forms.Form):
    content = forms.CharField(
        label=_("Message"),
        max_length=MESSAGE_MAX_LENGTH,
        strip=False,
        widget=forms.Textarea(attrs={"rows": 4}),
    )


class RemoveParticipantForm(forms.Form):
    raw_id = forms.CharField(max_length=300, widget=forms.HiddenInput)


class ReadReceiptForm(forms.Form):
    message_id = forms.RegexField(regex=r"^[0-9]{1,20}$")
