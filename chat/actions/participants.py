"""Participant actions: listing, adding with a history choice, removing, leaving."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from django.utils import timezone
from django.utils.translation import gettext as _

from chat import gateway
from chat.actions import ActionError, acs_call, publish
from chat.actions.threads import (
    NamedFailure,
    ParticipantChoice,
    ThreadAccess,
    check_participant_count,
    named_failures,
    participant_for,
)
from chat.people import Person, people_for, service_raw_id
from chat.types import EPOCH, Participant, history_start

__all__ = ["history_start"]

HISTORY_ALL = "all"
HISTORY_NONE = "none"
HISTORY_SINCE = "since"


@dataclass(frozen=True)
class VisibleParticipant:
    """A participant as people see them: named, and from when they see the thread's history."""

    person: Person
    share_history_time: datetime | None

    @property
    def raw_id(self) -> str:
        return self.person.raw_id

    @property
    def sees_all_history(self) -> bool:
        return self.share_history_time is None or self.share_history_time <= EPOCH


def share_history_time_for(
    choice: str, since: datetime | None, now: datetime | None = None
) -> datetime:
    """The `share_history_time` for a history choice: all, none (from now) or since a time."""
    if choice == HISTORY_ALL:
        return EPOCH
    if choice == HISTORY_NONE:
        return now or timezone.now()
    if choice == HISTORY_SINCE:
        if since is None:
            raise ActionError(_("Choose the date and time history starts from."))
        return since
    raise ActionError(_("Unknown history choice."))


# Dates are entered to the minute: one in the current minute is not "in the future".
HISTORY_SLACK = timedelta(minutes=1)


def check_history_since(
    since: datetime, thread_created_on: datetime | None, now: datetime | None = None
) -> datetime:
    """A "history from" date must lie within the thread's life: not before it was created (that
    is all history, and far-off years are what break clients) and not in the future (that is
    "from now on"), both to the minute."""
    now = now or timezone.now()
    if thread_created_on is not None and since < thread_created_on - HISTORY_SLACK:
        raise ActionError(
            _("The conversation started later than that; choose “All history” instead.")
        )
    if since > now + HISTORY_SLACK:
        raise ActionError(_("That is in the future; choose “From now on” instead."))
    return since


def fetch_participants(access: ThreadAccess) -> list[Participant]:
    """All ACS participants of the thread (ChatThread_ListChatParticipants, every page)."""
    with acs_call(not_found_is_404=True):
        return access.thread.list_participants()


def visible_participants(participants: list[Participant]) -> list[VisibleParticipant]:
    """Participants as shown to people: named from site users, service identity left out."""
    service = service_raw_id()
    shown = [p for p in participants if p.raw_id != service]
    people = people_for(p.raw_id for p in shown)
    return sorted(
        (VisibleParticipant(people[p.raw_id], p.share_history_time) for p in shown),
        key=lambda p: p.person.name.lower(),
    )


def do_add_participants(
    access: ThreadAccess, choices: list[ParticipantChoice]
) -> list[NamedFailure]:
    """Add site users (ChatThread_AddChatParticipants); return those ACS refused, by name."""
    if not choices:
        raise ActionError(_("Choose at least one person to add."))
    check_participant_count(choices)
    for choice in choices:
        if choice.share_history_time > EPOCH:
            check_history_since(choice.share_history_time, access.created_on)
    with acs_call(forbidden=_("You are not allowed to add people to this thread.")):
        failures = access.thread.add_participants([participant_for(c) for c in choices])
    publish.announced(access.thread)
    return named_failures(failures)


def check_removable(participants: list[Participant], raw_id: str) -> None:
    """Only current, visible participants can be removed (never the service identity)."""
    if raw_id == service_raw_id() or raw_id not in {p.raw_id for p in participants}:
        raise ActionError(_("That person is not in this thread."))


def do_remove_participant(access: ThreadAccess, raw_id: str) -> None:
    """Remove someone else from the thread (ChatThread_RemoveChatParticipant): the thread's
    creator and staff may (see the rule table in chat.actions)."""
    if not access.can_remove_others:
        raise ActionError(
            _("Only the creator or staff can remove people from this thread."), status=403
        )
    check_removable(fetch_participants(access), raw_id)
    with acs_call(forbidden=_("You are not allowed to remove people from this thread.")):
        access.thread.remove_participant(raw_id)
    publish.announced(access.thread)


def do_leave_thread(access: ThreadAccess) -> None:
    """Remove the user themselves; they lose access at once."""
    with acs_call():
        access.thread.remove_participant(access.me)
    # The user can no longer read the thread: the service identity reads the members.
    publish.announced(gateway.service_thread(access.thread_id))


def staff_participants(thread_id: str) -> list[VisibleParticipant]:
    """A recorded thread's participants as seen by the service identity."""
    with acs_call():
        return visible_participants(gateway.service_thread(thread_id).list_participants())


def do_staff_remove_participant(thread_id: str, raw_id: str) -> None:
    """Remove someone from a recorded thread as the service identity."""
    thread = gateway.service_thread(thread_id)
    with acs_call():
        participants = thread.list_participants()
    check_removable(participants, raw_id)
    with acs_call():
        thread.remove_participant(raw_id)
    publish.announced(thread)
