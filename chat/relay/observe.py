"""Compare what was seen of a thread with what was already published, and log the differences.

The poller (reading ACS as the service identity) and Kwebbel's own actions (right after ACS
accepted a change, reading it back) call these same functions. Each runs in one transaction with
the thread's relay row locked, so whichever observer comes first publishes a change and the
other finds nothing new: a change is published once, however the two race.

Every change is ordered by something ACS gives, so an older state is never published after a
newer one:

* messages by their ``version`` (it grows with each edit; a deletion is final);
* read receipts by the message read (they only move forward);
* the **topic and the members by the system message that announced the change**
  (``topicUpdated``, ``participantAdded``, ``participantRemoved``) and its sequence id: each new
  one is published once, in sequence order, with the initiator it names, and one whose sequence
  is not past the last one applied changes nothing. So two quick topic changes are two events,
  however many observers read them, and a poll that reads old announcements publishes only what
  is newer than what was already published;
* a deleted thread stays deleted.

Reads of the current state (the thread's properties, the participant list) only set the
baseline the announcements are applied to, or reconcile it when an announcement was missed
(``expected``: only if no announcement was applied since the read began).
All functions are sync (database) and return the events they appended.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.db import transaction
from django.utils import timezone

from chat import replies
from chat.models import RelayMessage, RelayThread, ThreadRecord
from chat.reactions import reactions_for
from chat.relay import log
from chat.relay.events import (
    MESSAGE_ADDED,
    MESSAGE_DELETED,
    MESSAGE_EDITED,
    MESSAGE_REACTIONS,
    PARTICIPANTS_ADDED,
    PARTICIPANTS_REMOVED,
    RECEIPT,
    RELAY_STOPPED,
    SERVICE_REMOVED,
    THREAD_DELETED,
    TOPIC_CHANGED,
    Event,
)
from chat.types import (
    MEMBER_TYPES,
    PARTICIPANT_ADDED,
    TOPIC_UPDATED,
    Message,
    Participant,
    iso,
    message_number,
)
from tokens.models import AcsIdentity
from tokens.services import SERVICE_NAME

# An `expected` argument left out: the observation does not depend on what was applied before.
ANY = object()


def fingerprint(message: Message) -> str:
    """Changes exactly when what a page shows of a message changes (not on sequence or version
    alone). A deleted message shows only that it was deleted: ACS blanks its content."""
    if message.deleted:
        shown: list[Any] = [message.type, "deleted"]
    else:
        shown = [
            message.type,
            message.body,
            message.topic,
            message.metadata,
            message.edited_on is not None,
        ]
    encoded = json.dumps(shown, sort_keys=True, separators=(",", ":"), ensure_ascii=True)
    return hashlib.sha256(encoded.encode()).hexdigest()


def _order(message: Message) -> tuple[int, int]:
    # Sequence order as ACS numbers messages; ids (epoch ms) when an observer had no sequence.
    big = 2**62
    sequence = message.sequence_id if message.sequence_id is not None else big
    return (sequence, message.number if message.number >= 0 else big)


def _is_stale(published: RelayMessage, message: Message) -> bool:
    if published.deleted and not message.deleted:
        return True  # ACS cannot undelete: this observation predates the deletion.
    return (
        published.version is not None
        and message.version is not None
        and message.version < published.version
    )


def _unchanged(published: RelayMessage, message: Message) -> bool:
    """Whether an observation says nothing the published state does not: older, or the same
    shown content at no newer version."""
    if _is_stale(published, message):
        return True
    newer = (message.version or 0) > (published.version or 0)
    return not newer and published.fingerprint == fingerprint(message)


def _nothing_new(thread_id: str, by_id: dict[str, Message]) -> bool:
    """Whether every message is published as it is (one read, no lock): most observations of a
    busy thread find nothing new, and need not queue for its row lock behind those that do."""
    known = {
        m.message_id: m
        for m in RelayMessage.objects.filter(chat_thread_id=thread_id, message_id__in=by_id)
    }
    return len(known) == len(by_id) and all(
        _unchanged(known[message_id], message) for message_id, message in by_id.items()
    )


def observe_messages(thread_id: str, messages: Iterable[Message]) -> list[Event]:
    """Publish new messages (in sequence order), edits and deletions among ``messages``."""
    by_id = {m.id: m for m in messages}
    if not by_id or _nothing_new(thread_id, by_id):
        return []
    with transaction.atomic():
        row = log.locked_thread(thread_id)
        if row.deleted_on is not None:
            return []
        published = {
            m.message_id: m
            for m in RelayMessage.objects.filter(chat_thread_id=thread_id, message_id__in=by_id)
        }
        items: list[log.Item] = []
        created: list[RelayMessage] = []
        changed: list[RelayMessage] = []
        service = _service_raw_id() if any(not m.is_user_message for m in by_id.values()) else None
        state_before = (row.topic, row.topic_seq, row.members, row.member_seqs)
        for message in sorted(by_id.values(), key=_order):
            print_ = fingerprint(message)
            known = published.get(message.id)
            if known is None:
                created.append(
                    RelayMessage(
                        chat_thread_id=thread_id,
                        message_id=message.id,
                        fingerprint=print_,
                        sequence_id=message.sequence_id,
                        version=message.version,
                        deleted=message.deleted,
                    )
                )
                when = message.created
                # Older unknown messages are history the page fetched itself (see log.py).
                if when is None or when >= row.tracked_since:
                    items.append((MESSAGE_ADDED, message.as_json(), when))
                    items += _announced(row, message, service)
                continue
            if _unchanged(known, message):
                continue
            if known.fingerprint != print_:
                kind = MESSAGE_DELETED if message.deleted else MESSAGE_EDITED
                items.append((kind, message.as_json(), message.created))
                # Replies quoting it show what it says now (or that it is gone).
                replies.forget(thread_id, message.id)
            known.fingerprint = print_
            known.deleted = message.deleted
            known.sequence_id = message.sequence_id or known.sequence_id
            known.version = max(message.version or 0, known.version or 0) or None
            changed.append(known)
        RelayMessage.objects.bulk_create(created)
        if changed:
            RelayMessage.objects.bulk_update(
                changed, ["fingerprint", "deleted", "sequence_id", "version"]
            )
        if (row.topic, row.topic_seq, row.members, row.member_seqs) != state_before:
            fields = ["topic", "topic_seq", "members", "member_seqs", "members_version"]
            row.save(update_fields=fields)
        return log.append(row, items)


def _announced(row: RelayThread, message: Message, service: str | None) -> list[log.Item]:
    """What a newly seen system message announces, applied to the row (under its lock)."""
    seq = message.sequence_id
    if seq is None:
        return []
    at = message.created
    if message.type == TOPIC_UPDATED:
        if row.topic_seq is not None and seq <= row.topic_seq:
            return []
        row.topic_seq = seq
        topic = message.topic or ""
        if topic == row.topic:
            return []
        row.topic = topic
        return [(TOPIC_CHANGED, {"topic": topic, "initiator": message.initiator_id}, at)]
    if message.type not in MEMBER_TYPES or row.members is None:
        return []  # without a baseline the next read of the members sets one
    # Changes to different people commute; for each person, only an announcement newer than
    # the last one applied to them counts (an older one read late is already overtaken).
    seqs = dict(row.member_seqs or {})
    named = [
        p for p in message.participants if p.raw_id != service and seq > seqs.get(p.raw_id, -1)
    ]
    members = dict(row.members)
    changed: dict[str, str | None] = {}
    for p in named:
        seqs[p.raw_id] = seq
        if message.type == PARTICIPANT_ADDED:
            sht = iso(p.share_history_time)
            if p.raw_id not in members or members[p.raw_id] != sht:
                members[p.raw_id] = changed[p.raw_id] = sht
        elif p.raw_id in members:
            del members[p.raw_id]
            changed[p.raw_id] = None
    row.member_seqs = seqs
    if not changed:
        return []
    row.members = members
    row.members_version += 1
    kind = PARTICIPANTS_ADDED if message.type == PARTICIPANT_ADDED else PARTICIPANTS_REMOVED
    data = {"participants": _participants(changed), "initiator": message.initiator_id}
    return [(kind, data, at)]


def applied(thread_id: str) -> tuple[int | None, int]:
    """Where the topic and the members stand (the last topicUpdated applied, and a count of
    membership changes applied): pass them as ``expected`` to a read of the current state that
    begins now."""
    row = log.thread_row(thread_id)
    return row.topic_seq, row.members_version


def _service_raw_id() -> str | None:
    # Read only: the service identity is never a member worth showing, and an observation must
    # not create identities in ACS.
    return (
        AcsIdentity.objects.filter(service_name=SERVICE_NAME)
        .values_list("communication_user_id", flat=True)
        .first()
    )


def _participants(members: Mapping[str, str | None]) -> list[dict[str, Any]]:
    return [{"raw_id": raw, "share_history_time": sht} for raw, sht in sorted(members.items())]


def observe_members(
    thread_id: str,
    participants: Iterable[Participant],
    initiator: str | None = None,
    *,
    expected: Any = ANY,
    baseline_only: bool = False,
) -> list[Event]:
    """The thread's whole membership as ACS lists it now (ChatThread_ListChatParticipants).

    The first read only records it (the page read the members itself). Later reads reconcile:
    a difference means an announcement was missed, and is published, unless an announcement
    was applied since the read began (``expected``, from :func:`applied`), which makes the read
    older than what was published. ``baseline_only`` reads never publish.
    """
    service = _service_raw_id()
    seen = {p.raw_id: iso(p.share_history_time) for p in participants if p.raw_id != service}
    with transaction.atomic():
        row = log.locked_thread(thread_id)
        before = row.members
        if before == seen or row.deleted_on is not None:
            return []
        if before is None:
            row.members = seen
            row.save(update_fields=["members"])
            return []
        if baseline_only or (expected is not ANY and expected != row.members_version):
            return []
        row.members = seen
        row.members_version += 1
        row.save(update_fields=["members", "members_version"])
        added = {raw: sht for raw, sht in seen.items() if raw not in before or before[raw] != sht}
        removed = {raw: None for raw in before if raw not in seen}
        items: list[log.Item] = []
        if removed:
            data = {"participants": _participants(removed), "initiator": initiator}
            items.append((PARTICIPANTS_REMOVED, data, None))
        if added:
            data = {"participants": _participants(added), "initiator": initiator}
            items.append((PARTICIPANTS_ADDED, data, None))
        return log.append(row, items)


def observe_topic(
    thread_id: str,
    topic: str,
    initiator: str | None = None,
    *,
    expected: Any = ANY,
    baseline_only: bool = False,
) -> list[Event]:
    """The thread's topic as its properties say now (ChatThread_GetChatThreadProperties): the
    first read is the baseline; later ones reconcile, as :func:`observe_members` does."""
    with transaction.atomic():
        row = log.locked_thread(thread_id)
        if row.topic == topic or row.deleted_on is not None:
            return []
        first = row.topic is None
        if not first and (baseline_only or (expected is not ANY and expected != row.topic_seq)):
            return []
        row.topic = topic
        row.save(update_fields=["topic"])
        if first:
            return []
        return log.append(row, [(TOPIC_CHANGED, {"topic": topic, "initiator": initiator}, None)])


def _moved(published: Mapping[str, str] | None, receipts: Mapping[str, str]) -> bool:
    published = published or {}
    return any(
        message_number(message_id) > message_number(published.get(reader))
        for reader, message_id in receipts.items()
    )


def observe_receipts(thread_id: str, receipts: Mapping[str, str]) -> list[Event]:
    """Each reader's latest read message id; a receipt is published when it moves forward."""
    row = RelayThread.objects.filter(chat_thread_id=thread_id).only("receipts").first()
    if row is not None and not _moved(row.receipts, receipts):
        return []  # the usual answer, without queueing for the row lock
    with transaction.atomic():
        row = log.locked_thread(thread_id)
        if row.deleted_on is not None:
            return []
        latest = dict(row.receipts or {})
        items: list[log.Item] = []
        for reader, message_id in sorted(receipts.items()):
            if message_number(message_id) > message_number(latest.get(reader)):
                latest[reader] = str(message_id)
                items.append((RECEIPT, {"reader": reader, "message_id": str(message_id)}, None))
        if items:
            row.receipts = latest
            row.save(update_fields=["receipts"])
        return log.append(row, items)


def observe_reactions(thread_id: str, message_id: str, created: datetime | None) -> list[Event]:
    """A message's reactions changed (in Kwebbel's database, ``chat.reactions``): publish all of
    them as they are now, read under the thread's row lock, so of two toggles racing each other
    the one published last carries both. ``created`` (the message's creation) is the event's
    time: the history boundary hides it as it hides the message."""
    with transaction.atomic():
        row = log.locked_thread(thread_id)
        if row.deleted_on is not None:
            return []
        reactions = reactions_for(thread_id, [message_id]).get(message_id, [])
        data = {"message_id": message_id, "reactions": reactions}
        return log.append(row, [(MESSAGE_REACTIONS, data, created)])


def observe_thread_created(
    thread_id: str, topic: str, participants: Iterable[Participant], initiator: str
) -> list[Event]:
    """A thread just created through Kwebbel: its topic and members become the baseline, and
    its members are told they were added (their conversation lists show it at once; the
    announcements ACS wrote about it then bring nothing new)."""
    service = _service_raw_id()
    members = {p.raw_id: iso(p.share_history_time) for p in participants if p.raw_id != service}
    with transaction.atomic():
        row = log.locked_thread(thread_id)
        if row.members is not None:
            return []  # observed before (a replayed creation): nothing is news
        row.topic, row.members = topic, members
        row.save(update_fields=["topic", "members"])
        data = {"participants": _participants(members), "initiator": initiator}
        return log.append(row, [(PARTICIPANTS_ADDED, data, None)])


def observe_thread_deleted(thread_id: str, initiator: str | None = None) -> list[Event]:
    """The thread is gone (deleted through Kwebbel, by staff, or straight through ACS): open pages
    are told, nothing follows, and the thread's record is marked deleted."""
    now = timezone.now()
    with transaction.atomic():
        row = log.locked_thread(thread_id)
        if row.deleted_on is not None:
            return []
        row.deleted_on = now
        row.save(update_fields=["deleted_on"])
        ThreadRecord.objects.filter(chat_thread_id=thread_id, deleted_on__isnull=True).update(
            deleted_on=now
        )
        return log.append(row, [(THREAD_DELETED, {"initiator": initiator}, now)])


def observe_service_removed(thread_id: str) -> list[Event]:
    """Kwebbel's service identity was removed from the thread outside Kwebbel: the relay can no
    longer read it. Marked on the thread's record (the staff page shows it), and open pages are
    told that changes made outside Kwebbel stop arriving (Kwebbel's own still do)."""
    now = timezone.now()
    with transaction.atomic():
        row = log.locked_thread(thread_id)
        if row.deleted_on is not None or row.service_removed_on is not None:
            return []
        row.service_removed_on = now
        row.save(update_fields=["service_removed_on"])
        ThreadRecord.objects.filter(chat_thread_id=thread_id).update(service_removed_on=now)
        return log.append(row, [(RELAY_STOPPED, {"reason": SERVICE_REMOVED}, now)])


def observe_service_present(thread_id: str) -> None:
    """The service identity can read the thread (again): clear a recorded removal."""
    marked = RelayThread.objects.filter(chat_thread_id=thread_id, service_removed_on__isnull=False)
    if not marked.exists():
        return
    with transaction.atomic():
        row = log.locked_thread(thread_id)
        if row.service_removed_on is None:
            return
        row.service_removed_on = None
        row.save(update_fields=["service_removed_on"])
        ThreadRecord.objects.filter(chat_thread_id=thread_id).update(service_removed_on=None)


def publish_typing(thread_id: str, raw_id: str, name: str = "") -> None:
    """Tell the thread's viewers someone is typing: not logged, and the cursor does not move.

    ACS gives no way to read typing notifications, so only Kwebbel's own users are relayed.
    """
    layer = get_channel_layer()
    if layer is None:
        return
    async_to_sync(layer.group_send)(
        log.group_name(thread_id), typing_message(thread_id, raw_id, name)
    )


def typing_message(thread_id: str, raw_id: str, name: str) -> dict[str, Any]:
    return {"type": "relay.typing", "thread": thread_id, "user": raw_id, "name": name}


__all__ = [
    "fingerprint",
    "observe_members",
    "observe_messages",
    "observe_reactions",
    "observe_receipts",
    "observe_service_present",
    "observe_service_removed",
    "observe_thread_created",
    "observe_thread_deleted",
    "observe_topic",
    "publish_typing",
    "typing_message",
]
