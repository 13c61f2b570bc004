"""Compare what was seen of a thread with what was already published, and log the differences.

The poller (reading ACS as the service identity) and Kwebbel's own actions (right after ACS
accepted a change) call these same functions. Each runs in one transaction with the thread's
relay row locked, so whichever observer comes first publishes a change and the other finds
nothing new: a change is never published twice, however the two race.

Observations are current state, never history, and stale ones are refused where ACS gives a way
to tell: a message's ``version`` only grows and a deletion is final, read receipts only move
forward. All functions are sync (database) and return the events they appended.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.db import transaction

from chat.models import RelayMessage, RelayThread
from chat.relay import log
from chat.relay.events import (
    MESSAGE_ADDED,
    MESSAGE_DELETED,
    MESSAGE_EDITED,
    PARTICIPANTS_ADDED,
    PARTICIPANTS_REMOVED,
    RECEIPT,
    TOPIC_CHANGED,
    Event,
    MessageState,
    iso,
    time_of_id,
)
from tokens.models import AcsIdentity
from tokens.services import SERVICE_NAME

Members = Mapping[str, datetime | str | None]


def _order(state: MessageState) -> tuple[int, int]:
    # Sequence order as ACS numbers messages; ids (epoch ms) when an observer had no sequence.
    big = 2**62
    number = int(state.id) if state.id.isdigit() else big
    return (state.sequence_id if state.sequence_id is not None else big, number)


def _is_stale(published: RelayMessage, state: MessageState) -> bool:
    if published.deleted and not state.deleted:
        return True  # ACS cannot undelete: this observation predates the deletion.
    return (
        published.version is not None
        and state.version is not None
        and state.version < published.version
    )


def observe_messages(thread_id: str, states: Iterable[MessageState]) -> list[Event]:
    """Publish new messages (in sequence order), edits and deletions among ``states``."""
    by_id = {s.id: s for s in states}
    if not by_id:
        return []
    with transaction.atomic():
        row = log.locked_thread(thread_id)
        published = {
            m.message_id: m
            for m in RelayMessage.objects.filter(chat_thread_id=thread_id, message_id__in=by_id)
        }
        items: list[tuple[str, dict[str, Any]]] = []
        created: list[RelayMessage] = []
        changed: list[RelayMessage] = []
        for state in sorted(by_id.values(), key=_order):
            fingerprint = state.fingerprint()
            known = published.get(state.id)
            if known is None:
                created.append(
                    RelayMessage(
                        chat_thread_id=thread_id,
                        message_id=state.id,
                        fingerprint=fingerprint,
                        sequence_id=state.sequence_id,
                        version=state.version,
                        deleted=state.deleted,
                    )
                )
                when = state.created_on or time_of_id(state.id)
                # Older unknown messages are history the page fetched itself (see log.py).
                if when is None or when >= row.tracked_since:
                    items.append((MESSAGE_ADDED, state.as_json()))
                continue
            if _is_stale(known, state):
                continue
            if known.fingerprint != fingerprint:
                items.append(
                    (MESSAGE_DELETED if state.deleted else MESSAGE_EDITED, state.as_json())
                )
            elif known.sequence_id is not None and (state.version or 0) <= (known.version or 0):
                continue  # nothing new at all
            known.fingerprint = fingerprint
            known.deleted = state.deleted
            known.sequence_id = state.sequence_id or known.sequence_id
            known.version = max(state.version or 0, known.version or 0) or None
            changed.append(known)
        RelayMessage.objects.bulk_create(created)
        if changed:
            RelayMessage.objects.bulk_update(
                changed, ["fingerprint", "deleted", "sequence_id", "version"]
            )
        return log.append(row, items)


def _service_raw_id() -> str | None:
    # Read only: the service identity is never a member worth showing, and an observation must
    # not create identities in ACS.
    return (
        AcsIdentity.objects.filter(service_name=SERVICE_NAME)
        .values_list("communication_user_id", flat=True)
        .first()
    )


def _normalise(members: Members) -> dict[str, str | None]:
    service = _service_raw_id()
    return {
        raw: (iso(sht) if isinstance(sht, datetime) else sht)
        for raw, sht in members.items()
        if raw != service
    }


def _participants(members: Mapping[str, str | None]) -> list[dict[str, Any]]:
    return [{"raw_id": raw, "share_history_time": sht} for raw, sht in sorted(members.items())]


def _member_events(
    row: RelayThread,
    added: dict[str, str | None],
    removed: list[str],
    initiator: str | None,
) -> list[Event]:
    items: list[tuple[str, dict[str, Any]]] = []
    if removed:
        gone = {raw: None for raw in removed}
        items.append(
            (PARTICIPANTS_REMOVED, {"participants": _participants(gone), "initiator": initiator})
        )
    if added:
        items.append(
            (PARTICIPANTS_ADDED, {"participants": _participants(added), "initiator": initiator})
        )
    return log.append(row, items)


def observe_members(thread_id: str, members: Members, initiator: str | None = None) -> list[Event]:
    """The thread's whole membership ({raw_id: share_history_time}); publishes who came and went.

    The first full observation of a thread only records it: the page read the members itself.
    """
    seen = _normalise(members)
    with transaction.atomic():
        row = log.locked_thread(thread_id)
        before = row.members
        row.members = seen
        row.save(update_fields=["members"])
        if before is None:
            return []
        added = {raw: sht for raw, sht in seen.items() if raw not in before or before[raw] != sht}
        removed = sorted(raw for raw in before if raw not in seen)
        return _member_events(row, added, removed, initiator)


def observe_members_added(
    thread_id: str, members: Members, initiator: str | None = None
) -> list[Event]:
    """Some members known to be in the thread now (e.g. right after AddChatParticipants)."""
    seen = _normalise(members)
    with transaction.atomic():
        row = log.locked_thread(thread_id)
        before = row.members or {}
        added = {raw: sht for raw, sht in seen.items() if raw not in before or before[raw] != sht}
        if row.members is not None and added:
            row.members = {**row.members, **added}
            row.save(update_fields=["members"])
        return _member_events(row, added, [], initiator)


def observe_members_removed(
    thread_id: str, raw_ids: Iterable[str], initiator: str | None = None
) -> list[Event]:
    """Members known to have left (e.g. right after RemoveChatParticipant)."""
    with transaction.atomic():
        row = log.locked_thread(thread_id)
        ids = set(raw_ids)
        if row.members is None:
            removed = sorted(ids)  # nothing to compare with: say it anyway, it is true
        else:
            removed = sorted(ids & set(row.members))
            row.members = {raw: sht for raw, sht in row.members.items() if raw not in ids}
            row.save(update_fields=["members"])
        return _member_events(row, {}, removed, initiator)


def observe_topic(thread_id: str, topic: str, initiator: str | None = None) -> list[Event]:
    """The thread's topic now; published when it differs from the last one published."""
    with transaction.atomic():
        row = log.locked_thread(thread_id)
        if row.topic == topic:
            return []
        row.topic = topic
        row.save(update_fields=["topic"])
        return log.append(row, [(TOPIC_CHANGED, {"topic": topic, "initiator": initiator})])


def _number(message_id: Any) -> int:
    return int(message_id) if str(message_id).isdigit() else -1


def observe_receipts(thread_id: str, receipts: Mapping[str, str]) -> list[Event]:
    """Each reader's latest read message id; a receipt is published when it moves forward."""
    with transaction.atomic():
        row = log.locked_thread(thread_id)
        latest = dict(row.receipts or {})
        items: list[tuple[str, dict[str, Any]]] = []
        for reader, message_id in sorted(receipts.items()):
            if _number(message_id) > _number(latest.get(reader)):
                latest[reader] = str(message_id)
                items.append((RECEIPT, {"reader": reader, "message_id": str(message_id)}))
        if items:
            row.receipts = latest
            row.save(update_fields=["receipts"])
        return log.append(row, items)


def publish_typing(thread_id: str, raw_id: str, name: str = "") -> None:
    """Tell the thread's viewers someone is typing: not logged, and the cursor does not move.

    ACS gives no way to read typing notifications, so only Kwebbel's own users are relayed.
    """
    layer = get_channel_layer()
    if layer is None:
        return
    async_to_sync(layer.group_send)(
        log.group_name(thread_id),
        {
            "type": "relay.typing",
            "thread": thread_id,
            "user": raw_id,
            "name": name,
            "cursor": log.current_cursor(thread_id),
        },
    )
