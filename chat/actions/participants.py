"""Participant actions: listing, adding with a history choice, removing, leaving."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.utils import timezone
from django.utils.translation import gettext as _

from chat import gateway
from chat.actions import ActionError, acs_call, publish
from chat.actions.threads import (
    EPOCH,
    AddFailure,
    ParticipantChoice,
    ThreadAccess,
    check_participant_count,
    failures_from,
    participant_for,
)
from chat.people import Person, people_for, service_raw_id

HISTORY_ALL = "all"
HISTORY_NONE = "none"
HISTORY_SINCE = "since"


@dataclass(frozen=True)
class Participant:
    """A visible participant: who, and from when they see the thread's history."""

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


def fetch_participants(access: ThreadAccess) -> list[Any]:
    """All ACS participants of the thread (ChatThread_ListChatParticipants, every page)."""
    with acs_call(not_found_is_404=True):
        return list(access.client.list_participants())


def visible_participants(raw_participants: list[Any]) -> list[Participant]:
    """Participants as shown to people: named from site users, service identity left out."""
    service = service_raw_id()
    ids = [p.identifier.raw_id for p in raw_participants if p.identifier.raw_id != service]
    people = people_for(ids)
    shown = [
        Participant(people[p.identifier.raw_id], p.share_history_time)
        for p in raw_participants
        if p.identifier.raw_id != service
    ]
    return sorted(shown, key=lambda p: p.person.name.lower())


def history_start(raw_participants: list[Any], me: str) -> datetime | None:
    """When the user's view of the history starts (None: from the beginning)."""
    for p in raw_participants:
        if p.identifier.raw_id == me:
            sht = p.share_history_time
            return None if sht is None or sht <= EPOCH else sht
    return None


def do_add_participants(access: ThreadAccess, choices: list[ParticipantChoice]) -> list[AddFailure]:
    """Add site users (ChatThread_AddChatParticipants); return those ACS refused, by name."""
    if not choices:
        raise ActionError(_("Choose at least one person to add."))
    check_participant_count(choices)
    participants = [participant_for(c) for c in choices]
    with acs_call(forbidden=_("You are not allowed to add people to this thread.")):
        errors = access.client.add_participants(participants)
    refused = {p.identifier.raw_id for p, _error in errors or []}
    added = {
        p.identifier.raw_id: p.share_history_time
        for p in participants
        if p.identifier.raw_id not in refused
    }
    publish.members_added(access.thread_id, added, access.me)
    return failures_from(errors)


def check_removable(raw_participants: list[Any], raw_id: str) -> None:
    """Only current, visible participants can be removed (never the service identity)."""
    ids = {p.identifier.raw_id for p in raw_participants}
    if raw_id == service_raw_id() or raw_id not in ids:
        raise ActionError(_("That person is not in this thread."))


def do_remove_participant(access: ThreadAccess, raw_id: str) -> None:
    """Remove someone from the thread (ChatThread_RemoveChatParticipant)."""
    check_removable(fetch_participants(access), raw_id)
    with acs_call(forbidden=_("You are not allowed to remove people from this thread.")):
        access.client.remove_participant(gateway.identifier(raw_id))
    publish.member_removed(access.thread_id, raw_id, access.me)


def do_leave_thread(access: ThreadAccess) -> None:
    """Remove the user themselves; they lose access at once."""
    with acs_call():
        access.client.remove_participant(gateway.identifier(access.me))
    publish.member_removed(access.thread_id, access.me, access.me)


def staff_participants(thread_id: str) -> list[Participant]:
    """A recorded thread's participants as seen by the service identity."""
    client = gateway.service_thread_client(thread_id)
    with acs_call():
        raw = list(client.list_participants())
    return visible_participants(raw)


def do_staff_remove_participant(thread_id: str, raw_id: str) -> None:
    """Remove someone from a recorded thread as the service identity."""
    client = gateway.service_thread_client(thread_id)
    with acs_call():
        raw = list(client.list_participants())
    check_removable(raw, raw_id)
    with acs_call():
        client.remove_participant(gateway.identifier(raw_id))
    publish.member_removed(thread_id, raw_id, service_raw_id())
