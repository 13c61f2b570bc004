"""Thread actions: access check, listing, creating, renaming and deleting threads."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from django.contrib.auth.models import AbstractBaseUser
from django.http import Http404
from django.utils import timezone
from django.utils.translation import gettext as _

from chat import gateway
from chat.actions import ActionError, acs_call, message_type, publish
from chat.models import ThreadRecord
from chat.people import display_name, people_for, raw_id_of, service_raw_id

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
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


@dataclass(frozen=True)
class ThreadAccess:
    """Proof that `user` takes part in a thread, with what the check fetched."""

    user: AbstractBaseUser
    me: str
    thread_id: str
    topic: str
    created_on: datetime
    created_by: str | None
    client: Any = field(repr=False)

    @property
    def is_creator(self) -> bool:
        return self.created_by == self.me

    @property
    def can_delete(self) -> bool:
        return self.is_creator or bool(getattr(self.user, "is_staff", False))


@dataclass(frozen=True)
class ParticipantChoice:
    """A site user to add to a thread, and from when they see its history."""

    user: AbstractBaseUser
    share_history_time: datetime


@dataclass(frozen=True)
class AddFailure:
    """One person ACS did not add, with its reason."""

    name: str
    reason: str


@dataclass(frozen=True)
class ThreadSummary:
    thread_id: str
    topic: str
    last_activity: datetime | None
    unread: int
    unread_more: bool


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
    """A topic is 1 to 250 characters once surrounding spaces are gone."""
    topic = (topic or "").strip()
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
    client = gateway.thread_client(user, thread_id)
    with acs_call(not_found_is_404=True):
        props = client.get_properties()
    if getattr(props, "deleted_on", None):
        raise Http404(_("No such conversation."))
    created_by = getattr(props.created_by, "raw_id", None)
    return ThreadAccess(
        user=user,
        me=raw_id_of(user),
        thread_id=thread_id,
        topic=props.topic or "",
        created_on=props.created_on,
        created_by=created_by,
        client=client,
    )


def list_threads(user: AbstractBaseUser, cursor: str | None = None) -> ThreadPage:
    """One page of the user's threads, newest activity first, each with its unread count.

    Cost in ACS calls: one Chat_ListChatThreads, then per thread one
    ChatThread_ListChatReadReceipts and, only when something arrived after the user's
    receipt, one ChatThread_ListChatMessages (first page) — at most 1 + 2 x 20.
    """
    client = gateway.chat_client(user)
    me = raw_id_of(user)
    with acs_call():
        pages = client.list_chat_threads(results_per_page=THREADS_PER_PAGE).by_page(
            continuation_token=cursor
        )
        items = list(next(pages, []))
        next_cursor = pages.continuation_token or None
    threads = []
    for item in items:
        if item.deleted_on:
            continue
        unread, more = unread_count(user, me, item.id, item.last_message_received_on)
        threads.append(
            ThreadSummary(
                thread_id=item.id,
                topic=item.topic or "",
                last_activity=item.last_message_received_on,
                unread=unread,
                unread_more=more,
            )
        )
    return ThreadPage(threads=threads, next_cursor=next_cursor)


def unread_count(
    user: AbstractBaseUser, me: str, thread_id: str, last_message_on: datetime | None
) -> tuple[int, bool]:
    """Messages from others after the user's own latest read receipt: (count, more-than-count).

    Only the newest UNREAD_SCAN messages are looked at, so a long-unread thread shows "50+".
    """
    client = gateway.thread_client(user, thread_id)
    try:
        with acs_call():
            receipts = list(client.list_read_receipts())
    except ActionError:
        # The thread went away between listing and counting; it simply shows no count.
        return 0, False
    mine = [r for r in receipts if getattr(r.sender, "raw_id", None) == me]
    last_read = max((_message_number(r.chat_message_id) for r in mine), default=0)
    read_on = max((r.read_on for r in mine), default=None)
    if read_on and last_message_on and last_message_on <= read_on:
        return 0, False
    with acs_call():
        page = next(client.list_messages(results_per_page=UNREAD_SCAN).by_page(), [])
        messages = list(page)
    count = sum(
        1
        for m in messages
        if message_type(m) in ("text", "html")
        and not m.deleted_on
        and getattr(m.sender, "raw_id", None) != me
        and _message_number(m.id) > last_read
    )
    more = len(messages) == UNREAD_SCAN and all(_message_number(m.id) > last_read for m in messages)
    return count, more


def _message_number(message_id: str) -> int:
    """ACS message ids are epoch milliseconds, so they order messages."""
    return int(message_id) if str(message_id).isdigit() else 0


def check_participant_count(choices: list[ParticipantChoice]) -> None:
    if len(choices) > MAX_PARTICIPANTS_PER_CALL:
        raise ActionError(
            _("At most %(max)d people can be added at once.") % {"max": MAX_PARTICIPANTS_PER_CALL}
        )


def participant_for(choice: ParticipantChoice) -> Any:
    """The ACS participant for a site user, with the history they are allowed to see."""
    return gateway.participant(
        raw_id_of(choice.user),
        display_name=display_name(choice.user),
        share_history_time=choice.share_history_time,
    )


def failures_from(errors: list[Any] | None) -> list[AddFailure]:
    """Turn the SDK's [(ChatParticipant, ChatError)] into named failures."""
    errors = errors or []
    people = people_for(getattr(p.identifier, "raw_id", "") for p, _error in errors)
    return [
        AddFailure(
            name=people[p.identifier.raw_id].name,
            reason=getattr(error, "message", "") or _("not added"),
        )
        for p, error in errors
        if p.identifier.raw_id != service_raw_id()
    ]


@dataclass(frozen=True)
class CreatedThread:
    thread_id: str
    failures: list[AddFailure]


def do_create_thread(
    creator: AbstractBaseUser,
    topic: str,
    choices: list[ParticipantChoice],
    idempotency_token: str,
) -> CreatedThread:
    """Create a thread with the chosen people plus Kwebbel's service identity, and record it.

    `idempotency_token` comes from the form, so a double submit returns the same thread
    (ACS replays the first Chat_CreateChatThread answer for a repeated token).
    """
    topic = check_topic(topic)
    choices = [c for c in choices if c.user.pk != creator.pk]
    check_participant_count(choices)
    participants = [gateway.participant(service_raw_id(), share_history_time=EPOCH)]
    participants += [participant_for(c) for c in choices]
    client = gateway.chat_client(creator)
    with acs_call():
        result = client.create_chat_thread(
            topic, thread_participants=participants, idempotency_token=idempotency_token
        )
    thread_id = result.chat_thread.id
    ThreadRecord.objects.get_or_create(
        chat_thread_id=thread_id, defaults={"topic": topic, "creator": creator}
    )
    return CreatedThread(thread_id=thread_id, failures=failures_from(result.errors))


def do_update_topic(access: ThreadAccess, topic: str) -> str:
    """Change the topic (ChatThread_UpdateChatThreadProperties) and mirror it in the record."""
    topic = check_topic(topic)
    with acs_call(forbidden=_("You are not allowed to change the topic.")):
        access.client.update_topic(topic)
    ThreadRecord.objects.filter(chat_thread_id=access.thread_id).update(topic=topic)
    publish.topic_changed(access.thread_id, topic, access.me)
    return topic


def do_delete_thread(access: ThreadAccess) -> None:
    """Delete the thread for everyone; only its creator or staff may.

    Staff who did not create the thread delete it as Kwebbel's service identity.
    """
    if not access.can_delete:
        raise ActionError(_("Only the creator or staff can delete this thread."), status=403)
    client = (
        gateway.chat_client(access.user) if access.is_creator else gateway.service_chat_client()
    )
    with acs_call():
        client.delete_chat_thread(access.thread_id)
    ThreadRecord.objects.filter(chat_thread_id=access.thread_id).update(deleted_on=timezone.now())


# Staff actions: done with Kwebbel's service identity, which is a participant of every
# thread Kwebbel created.


def do_staff_update_topic(record: ThreadRecord, topic: str) -> None:
    """Change a recorded thread's topic as the service identity."""
    topic = check_topic(topic)
    with acs_call():
        gateway.service_thread_client(record.chat_thread_id).update_topic(topic)
    record.topic = topic
    record.save(update_fields=["topic"])
    publish.topic_changed(record.chat_thread_id, topic, service_raw_id())


def do_staff_delete_thread(record: ThreadRecord) -> None:
    """Delete a recorded thread as the service identity and mark the record deleted."""
    try:
        with acs_call():
            gateway.service_chat_client().delete_chat_thread(record.chat_thread_id)
    except ActionError as error:
        # Already gone from ACS: recording the deletion is all that is left to do.
        if error.status != 404:
            raise
    record.deleted_on = timezone.now()
    record.save(update_fields=["deleted_on"])
