"""Forms for the chat pages. They only parse input; the rules live in chat.actions."""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from datetime import datetime

from django import forms
from django.contrib.auth.models import AbstractBaseUser
from django.core.validators import MaxLengthValidator
from django.utils.translation import gettext_lazy as _

from chat.actions import ActionError
from chat.actions.messages import MESSAGE_MAX_LENGTH
from chat.actions.participants import (
    HISTORY_ALL,
    HISTORY_NONE,
    HISTORY_SINCE,
    check_history_since,
    share_history_time_for,
)
from chat.actions.profiles import DISPLAY_NAME_MAX_LENGTH
from chat.actions.threads import TOPIC_MAX_LENGTH, ParticipantChoice
from chat.people import display_name
from chat.timezones import known_zones
from chat.types import HTML, TEXT

HISTORY_CHOICES = [
    (HISTORY_NONE, _("From now on")),
    (HISTORY_ALL, _("All history")),
    (HISTORY_SINCE, _("From a date and time")),
]


def limited(field: forms.CharField, limit: int) -> forms.CharField:
    """A text field whose length is checked, never cut: a browser given ``maxlength`` silently
    drops what is pasted past it. The page script counts near the limit (``data-limit``) and
    the form refuses longer text with a message saying by how much."""
    field.max_length = limit
    field.validators.append(MaxLengthValidator(limit))
    field.widget.attrs.pop("maxlength", None)
    field.widget.attrs["data-limit"] = str(limit)
    return field


def topic_field() -> forms.CharField:
    return limited(forms.CharField(label=_("Topic")), TOPIC_MAX_LENGTH)


class TopicForm(forms.Form):
    topic = topic_field()


class ParticipantPickerForm(forms.Form):
    """A row per site user: a checkbox, and how much history that person sees.

    Fields are `pick_<pk>`, `history_<pk>` and `since_<pk>`, so the form works without
    JavaScript; the script only hides the date field unless "from a date" is chosen.

    ``thread_created_on`` is when the thread began: a "from a date" before it, or in the
    future, is refused. A thread still to be created has no history to choose from, so the
    choice is then only between all of it and from now on (``allow_since=False``).
    """

    def __init__(
        self,
        *args: object,
        users: Iterable[AbstractBaseUser],
        default_history: str = HISTORY_NONE,
        thread_created_on: datetime | None = None,
        allow_since: bool = True,
        **kwargs: object,
    ) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        self.users = list(users)
        self.thread_created_on = thread_created_on
        self.allow_since = allow_since
        choices = HISTORY_CHOICES if allow_since else HISTORY_CHOICES[:2]
        for user in self.users:
            self.fields[f"pick_{user.pk}"] = forms.BooleanField(
                label=display_name(user), required=False
            )
            self.fields[f"history_{user.pk}"] = forms.ChoiceField(
                label=_("History for %(name)s") % {"name": display_name(user)},
                choices=choices,
                initial=default_history,
                required=False,
            )
            if allow_since:
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
                "since": self[f"since_{user.pk}"] if self.allow_since else None,
            }
            for user in self.users
        ]

    def clean(self) -> dict[str, object]:
        cleaned = super().clean() or {}
        for user in self.users:
            if (
                not cleaned.get(f"pick_{user.pk}")
                or cleaned.get(f"history_{user.pk}") != HISTORY_SINCE
            ):
                continue
            since = cleaned.get(f"since_{user.pk}")
            if not since:
                self.add_error(
                    f"since_{user.pk}", _("Choose the date and time history starts from.")
                )
                continue
            try:
                check_history_since(since, self.thread_created_on)
            except ActionError as error:
                self.add_error(f"since_{user.pk}", error.message)
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
    topic = topic_field()
    # Generated when the form is shown; a second submit of the same form reuses it, and ACS
    # then answers with the thread the first submit created.
    idempotency_token = forms.UUIDField(widget=forms.HiddenInput, initial=uuid.uuid4)


class MessageForm(forms.Form):
    """The composer. Without script it posts plain text; the page script replaces the text box
    with a rich-text editor and sends over the websocket (HTML only when formatted)."""

    content = limited(
        forms.CharField(
            label=_("Message"),
            strip=False,
            widget=forms.Textarea(attrs={"rows": 2, "placeholder": _("Write a message…")}),
        ),
        MESSAGE_MAX_LENGTH,
    )
    format = forms.ChoiceField(
        choices=[(TEXT, TEXT), (HTML, HTML)],
        initial=TEXT,
        required=False,
        widget=forms.HiddenInput,
    )
    # A reply: the id of the message answered (the message page's reply form sets it).
    reply_to = forms.RegexField(regex=r"^[0-9]{1,20}$", required=False, widget=forms.HiddenInput)


class EditMessageForm(forms.Form):
    content = limited(
        forms.CharField(label=_("Message"), strip=False, widget=forms.Textarea(attrs={"rows": 4})),
        MESSAGE_MAX_LENGTH,
    )


def time_zone_choices() -> list[tuple[str, str]]:
    return [("", _("My browser's time zone"))] + [(z, z) for z in sorted(known_zones())]


class ProfileForm(forms.Form):
    display_name = limited(
        forms.CharField(
            label=_("Display name"),
            required=False,
            help_text=_("How everyone sees you in conversations. Empty: your account name."),
        ),
        DISPLAY_NAME_MAX_LENGTH,
    )
    time_zone = forms.ChoiceField(
        label=_("Time zone"),
        choices=time_zone_choices,
        required=False,
        help_text=_("For the times you read and enter, such as where someone's history starts."),
    )


class RemoveParticipantForm(forms.Form):
    raw_id = forms.CharField(max_length=300, widget=forms.HiddenInput)
