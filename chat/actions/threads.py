"""Thread actions: access check, listing, creating, renaming and deleting threads."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime

from django.contrib.auth.models import AbstractBaseUser
from django.core.cache import cache
from django.http import Http404
from django.utils import timezone
from django.utils.translation import gettext as _

from chat import gateway
from chat.actions import ActionError, acs_call, check_text, publish
from chat.models import ThreadRecord
from chat.people import Person, display_name, people_for, raw_id_of, service_raw_id
from chat.relay.api import thread_state
from chat.relay.inbox import preview
from chat.types import (
    EPOCH,
    USER_TYPES,
    AddFailure,
    Message,
    Participant,
    ThreadItem,
    message_number,
)

__all__ = ["EPOCH"]

# ACS thread ids look like `19:<url-safe characters>@thread.v2`; anything else is refused
# before it reaches a URL path.
THREAD_ID_RE = re.compile(r"^19:[A-Za-z0-9_.~\-]{1,200}@thread\.v2$")
TOPIC_MAX_LENGTH = 250
# ACS accepts up to 200 participants per CreateChatThread / AddChatParticipants call;
# one slot goes to Kwebbel's service identity.
MAX_PARTICIPANTS_PER_CALL = 199
THREADS_PER_PAGE = 20
# Unread counts look at one page of the newest messages at most (see `unread_count`).
UNREAD_SCAN = 50


@dataclass(frozen=True)
class ThreadAccess:
    """Proof that `user` takes part in a thread, with what the check fetched."""

    user: AbstractBaseUser
    me: str
    thread_id: str
    topic: str
    created_on: datetime | None
    created_by: str | None
    thread: gateway.ChatThread

    @property
    def is_creator(self) -> bool:
        return self.created_by == self.me

    @property
    def is_staff(self) -> bool:
        return bool(getattr(self.user, "is_staff", False))

    @property
    def can_delete(self) -> bool:
        return self.is_creator or self.is_staff

    @property
    def can_remove_others(self) -> bool:
        return self.is_creator or self.is_staff


@dataclass(frozen=True)
class ParticipantChoice:
    """A site user to add to a thread, and from when they see its history."""

    user: AbstractBaseUser
    share_history_time: datetime


@dataclass(frozen=True)
class NamedFailure:
    """One person ACS did not add, by name, with its reason."""

    name: str
    reason: str


@dataclass(frozen=True)
class LastMessage:
    """The newest message of a thread as a list shows it ("bob: see you at 3")."""

    id: str
    sender: Person
    mine: bool
    preview: str
    at: datetime | None


@dataclass(frozen=True)
class ThreadSummary:
    thread_id: str
    topic: str
    last_activity: datetime | None
    # None: the count could not be loaded.
    unread: int | None
    unread_more: bool
    last_message: LastMessage | None = None
    # The other people in it, by name (None: could not be loaded).
    others: list[Person] | None = None

    @property
    def search_text(self) -> str:
        """What the list's filter box matches: the topic and the people's names."""
        names = [p.name for p in self.others or []]
        return " ".join([self.topic, *names]).lower()


@dataclass(frozen=True)
class ThreadPage:
    threads: list[ThreadSummary]
    next_cursor: str | None


def check_thread_id(thread_id: str) -> str:
    """Refuse (404) anything that cannot be an ACS thread id."""
    if not THREAD_ID_RE.match(thread_id or ""):
        raise Http404(_("No such conversation."))
    return thread_id


def check_topic(topic: str) -> str:
    """A topic is 1 to 250 characters of valid text once surrounding spaces are gone."""
    topic = check_text((topic or "").strip(), _("topic"))
    if not topic:
        raise ActionError(_("The topic cannot be empty."))
    if len(topic) > TOPIC_MAX_LENGTH:
        raise ActionError(
            _("The topic can be at most %(max)d characters.") % {"max": TOPIC_MAX_LENGTH}
        )
    return topic


def access_thread(user: AbstractBaseUser, thread_id: str) -> ThreadAccess:
    """Return the thread if `user` takes part in it, else raise Http404.

    Membership is asked of ACS with the user's own token (ChatThread_GetChatThreadProperties,
    one call): ACS answers 403 to non-participants and to removed participants, so losing
    access takes effect on the very next request.
    """
    check_thread_id(thread_id)
    thread = gateway.thread(user, thread_id)
    with acs_call(not_found_is_404=True):
        props = thread.get_properties()
    return ThreadAccess(
        user=user,
        me=raw_id_of(user),
        thread_id=thread_id,
        topic=props.topic,
        created_on=props.created_on,
        created_by=props.created_by,
        thread=thread,
    )


def list_threads(user: AbstractBaseUser, cursor: str | None = None) -> ThreadPage:
    """One page of the user's threads, newest activity first, each with its unread count, its
    newest message and the other people in it.

    Cost in ACS calls: one Chat_ListChatThreads, then per thread one
    ChatThread_ListChatReadReceipts and one ChatThread_ListChatMessages (first page, for the
    newest message and the count), and ChatThread_ListChatParticipants only when neither the
    relay's published members are current nor the short-lived cache has them (see
    ``thread_members``): 1 + 2 x 20 calls, up to 1 + 3 x 20 on a cold cache.
    """
    me = raw_id_of(user)
    hidden = service_raw_id()
    with acs_call():
        page = gateway.chat(user).list_threads(THREADS_PER_PAGE, cursor)
    items = [item for item in page.items if not item.deleted_on]
    found: list[tuple[ThreadItem, Unread, list[str] | None]] = []
    for item in items:
        thread = gateway.thread(user, item.id)
        found.append((item, unread_count(thread, me), thread_members(thread)))
    ids = {hidden}
    for _item, unread, members in found:
        ids |= set(members or [])
        if unread.last is not None and unread.last.sender_id:
            ids.add(unread.last.sender_id)
    people = people_for(ids)
    threads = [
        ThreadSummary(
            thread_id=item.id,
            topic=item.topic,
            last_activity=item.last_message_received_on,
            unread=unread.count,
            unread_more=unread.more,
            last_message=_last_message(unread.last, me, people),
            others=None
            if members is None
            else sorted(
                (people[r] for r in members if r not in (me, hidden)),
                key=lambda p: p.name.lower(),
            ),
        )
        for item, unread, members in found
    ]
    threads.sort(key=lambda t: t.last_activity or EPOCH, reverse=True)
    return ThreadPage(threads=threads, next_cursor=page.continuation)


def _last_message(
    message: Message | None, me: str, people: dict[str, Person]
) -> LastMessage | None:
    if message is None:
        return None
    sender = message.sender_id or ""
    text = "" if message.deleted else preview(message.body, message.type)
    return LastMessage(
        id=message.id,
        sender=people.get(sender) or Person(sender, None, _("Unknown person")),
        mine=sender == me,
        preview=text,
        at=message.created,
    )


@dataclass(frozen=True)
class Unread:
    """Unread messages of a thread: how many (None: not known), whether there are more than
    were counted, and the newest message from a person (None: none among those looked at)."""

    count: int | None
    more: bool = False
    last: Message | None = None


def unread_count(thread: gateway.ChatThread, me: str) -> Unread:
    """Messages from others after the user's own latest read receipt, or after their own newest
    message (they saw everything before what they wrote), and the newest message.

    Only the newest UNREAD_SCAN messages are looked at, so a long-unread thread shows "50+".
    Two calls: ChatThread_ListChatReadReceipts and the first page of ListChatMessages.
    """
    try:
        receipts = thread.list_read_receipts()
        messages = thread.list_messages(UNREAD_SCAN).items
    except gateway.GatewayError:
        return Unread(None)
    last_read = max(
        (message_number(r.message_id) for r in receipts if r.reader_id == me), default=0
    )
    users = [m for m in messages if m.type in USER_TYPES]
    own = [m.number for m in users if m.sender_id == me]
    seen_through = max([last_read, *own])
    count = sum(1 for m in users if not m.deleted and m.sender_id != me and m.number > seen_through)
    more = len(messages) == UNREAD_SCAN and all(m.number > seen_through for m in messages)
    return Unread(count, more, users[0] if users else None)


# How long a thread's member list read for the conversation list is reused (the list only names
# people; pages that act on membership always ask ACS).
MEMBERS_CACHE_SECONDS = 300


def members_cache_key(thread_id: str) -> str:
    return f"chat.members.{thread_id}"


def thread_members(thread: gateway.ChatThread) -> list[str] | None:
    """The raw ids of a thread's members, for naming them in the conversation list.

    From the relay's published members when a poller keeps them current (no ACS call), else
    from the cache (``forget_members`` clears it when membership changes through Kwebbel's
    pages), else ChatThread_ListChatParticipants, cached. None when ACS would not say.
    """
    state = thread_state(thread.thread_id)
    if state.members is not None:
        return list(state.members)
    key = members_cache_key(thread.thread_id)
    cached = cache.get(key)
    if cached is not None:
        return cached
    try:
        members = [p.raw_id for p in thread.list_participants()]
    except gateway.GatewayError:
        return None
    cache.set(key, members, MEMBERS_CACHE_SECONDS)
    return members


def forget_members(thread_id: str) -> None:
    """Membership changed: the conversation list asks afresh."""
    cache.delete(members_cache_key(thread_id))


def check_participant_count(choices: list[ParticipantChoice]) -> None:
    if len(choices) > MAX_PARTICIPANTS_PER_CALL:
        raise ActionError(
            _("At most %(max)d people can be added at once.") % {"max": MAX_PARTICIPANTS_PER_CALL}
        )


def participant_for(choice: ParticipantChoice) -> Participant:
    """The ACS participant for a site user, with the history they are allowed to see."""
    return Participant(
        raw_id_of(choice.user),
        display_name=display_name(choice.user),
        share_history_time=choice.share_history_time,
    )


def named_failures(failures: tuple[AddFailure, ...]) -> list[NamedFailure]:
    """People ACS did not add, by their site name (the service identity left out)."""
    people = people_for(f.raw_id for f in failures)
    service = service_raw_id()
    return [
        NamedFailure(people[f.raw_id].name, f.reason or _("not added"))
        for f in failures
        if f.raw_id != service
    ]


@dataclass(frozen=True)
class NewThread:
    thread_id: str
    failures: list[NamedFailure]


def do_create_thread(
    creator: AbstractBaseUser,
    topic: str,
    choices: list[ParticipantChoice],
    idempotency_token: str,
) -> NewThread:
    """Create a thread with the chosen people plus Kwebbel's service identity, and record it.

    `idempotency_token` comes from the form, so a double submit returns the same thread
    (ACS replays the first Chat_CreateChatThread answer for a repeated token).
    """
    topic = check_topic(topic)
    choices = [c for c in choices if c.user.pk != creator.pk]
    check_participant_count(choices)
    participants = [Participant(service_raw_id(), share_history_time=EPOCH)]
    participants += [participant_for(c) for c in choices]
    with acs_call():
        created = gateway.chat(creator).create_thread(topic, participants, idempotency_token)
    ThreadRecord.objects.get_or_create(
        chat_thread_id=created.id, defaults={"topic": topic, "creator": creator}
    )
    publish.created(gateway.thread(creator, created.id), topic, raw_id_of(creator))
    return NewThread(thread_id=created.id, failures=named_failures(created.failures))


def do_update_topic(access: ThreadAccess, topic: str) -> str:
    """Change the topic (ChatThread_UpdateChatThreadProperties) and mirror it in the record."""
    topic = check_topic(topic)
    with acs_call(forbidden=_("You are not allowed to change the topic.")):
        access.thread.update_topic(topic)
    ThreadRecord.objects.filter(chat_thread_id=access.thread_id).update(topic=topic)
    publish.announced(access.thread)
    return topic


def do_delete_thread(access: ThreadAccess) -> None:
    """Delete the thread for everyone; only its creator or staff may.

    Staff who did not create the thread delete it as Kwebbel's service identity.
    """
    if not access.can_delete:
        raise ActionError(_("Only the creator or staff can delete this thread."), status=403)
    chat = gateway.chat(access.user) if access.is_creator else gateway.service_chat()
    with acs_call():
        chat.delete_thread(access.thread_id)
    _record_deleted(access.thread_id)
    publish.thread_deleted(access.thread_id, access.me)


def _record_deleted(thread_id: str) -> None:
    ThreadRecord.objects.filter(chat_thread_id=thread_id, deleted_on__isnull=True).update(
        deleted_on=timezone.now()
    )
    # The conversation's files go with it.
    from chat.actions.attachments import discard_thread_files  # it imports this module

    discard_thread_files(thread_id)


# Staff actions: done with Kwebbel's service identity, which is a participant of every
# thread Kwebbel created.


def do_staff_update_topic(record: ThreadRecord, topic: str) -> None:
    """Change a recorded thread's topic as the service identity."""
    topic = check_topic(topic)
    thread = gateway.service_thread(record.chat_thread_id)
    with acs_call():
        thread.update_topic(topic)
    record.topic = topic
    record.save(update_fields=["topic"])
    publish.announced(thread)


def do_staff_delete_thread(record: ThreadRecord) -> None:
    """Delete a recorded thread as the service identity and mark the record deleted."""
    try:
        with acs_call():
            gateway.service_chat().delete_thread(record.chat_thread_id)
    except ActionError as error:
        # Already gone from ACS: recording the deletion is all that is left to do.
        if error.status != 404:
            raise
    _record_deleted(record.chat_thread_id)
    record.refresh_from_db(fields=["deleted_on"])
    publish.thread_deleted(record.chat_thread_id, service_raw_id())
