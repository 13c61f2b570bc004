"""The persisted per-thread event log: cursors, retention, and the live push after commit.

Appends happen inside the caller's transaction with the thread's ``RelayThread`` row locked
(``select_for_update``; on SQLite the IMMEDIATE transaction mode serialises writers the same
way), so two processes can never hand out the same cursor and a comparison made under that lock
cannot race another append. The channel layer only hears of events after the commit, and may
drop them: the log, not the layer, is what makes delivery exactly-once.
"""

from __future__ import annotations

import hashlib
import logging
from datetime import datetime, timedelta
from typing import Any

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.conf import settings
from django.db import transaction
from django.utils import timezone

from chat.models import RelayEvent, RelayThread
from chat.relay import inbox
from chat.relay.events import Event
from chat.sessions import user_group
from chat.types import parse_time

logger = logging.getLogger(__name__)

# Unknown messages created up to this long before tracking began are still published as new,
# which covers clock skew between Kwebbel and ACS (pages apply events idempotently by id).
BASELINE_MARGIN = timedelta(minutes=5)
# Prune in batches of a tenth of the retention, not a delete per append.
PRUNE_SLACK = 10


def group_name(thread_id: str) -> str:
    """The channel-layer group of a thread's viewers (ASCII, well under 100 characters)."""
    return "relay." + hashlib.sha256(thread_id.encode()).hexdigest()[:40]


def thread_row(thread_id: str) -> RelayThread:
    """The thread's relay row, created (tracking starts now) when missing."""
    row, _created = RelayThread.objects.get_or_create(
        chat_thread_id=thread_id,
        defaults={"tracked_since": timezone.now() - BASELINE_MARGIN},
    )
    return row


def locked_thread(thread_id: str) -> RelayThread:
    """The thread's row, locked until the surrounding transaction ends (made when missing)."""
    locked = RelayThread.objects.select_for_update()
    try:
        return locked.get(chat_thread_id=thread_id)
    except RelayThread.DoesNotExist:
        thread_row(thread_id)
        return locked.get(chat_thread_id=thread_id)


# What observers hand to `append`: (kind, data, when it happened, or None for now).
Item = tuple[str, dict[str, Any], datetime | None]


def append(row: RelayThread, items: list[Item]) -> list[Event]:
    """Log events on a locked row (inside the caller's transaction); push them after commit.

    An item without a time of its own happened now.
    """
    if not items:
        return []
    thread_id = row.chat_thread_id
    now = timezone.now()
    events = [
        Event(thread_id, row.last_cursor + n, kind, data, at or now)
        for n, (kind, data, at) in enumerate(items, start=1)
    ]
    RelayEvent.objects.bulk_create(
        RelayEvent(chat_thread_id=thread_id, cursor=e.cursor, kind=e.kind, data=e.data, at=e.at)
        for e in events
    )
    row.last_cursor = events[-1].cursor
    fields = ["last_cursor"]
    keep = max(1, settings.RELAY_LOG_KEEP)
    if row.last_cursor - row.pruned_through > keep + keep // PRUNE_SLACK:
        row.pruned_through = row.last_cursor - keep
        RelayEvent.objects.filter(chat_thread_id=thread_id, cursor__lte=row.pruned_through).delete()
        fields.append("pruned_through")
    row.save(update_fields=fields)
    members = list(row.members or {})
    readers = [inbox.recipients(e, members) for e in events]
    topic = row.topic
    transaction.on_commit(lambda: push(events, readers, topic))
    return events


def push(
    events: list[Event], readers: list[set[str]] | None = None, topic: str | None = None
) -> None:
    """Tell the thread's viewers, and the inboxes of ``readers`` (raw ids, per event) (best
    effort: a lost push is read back from the log)."""
    layer = get_channel_layer()
    if layer is None:
        return
    try:
        send = async_to_sync(layer.group_send)
        for event in events:
            send(group_name(event.thread_id), layer_message(event))
        pks = inbox.users.pks(set().union(*readers)) if readers else {}
        for event, raw_ids in zip(events, readers or [], strict=False):
            for raw in raw_ids:
                if raw in pks:
                    send(user_group(pks[raw]), inbox.layer_message(event, topic))
    except Exception:  # noqa: BLE001 - the log keeps the events; viewers catch up from it.
        logger.warning("could not push relay events", exc_info=True)


def layer_message(event: Event) -> dict[str, Any]:
    """The channel-layer message that tells a thread's consumers of an event."""
    return {
        "type": "relay.event",
        "thread": event.thread_id,
        "cursor": event.cursor,
        "event": {
            "cursor": event.cursor,
            "kind": event.kind,
            "data": event.data,
            "at": event.at.isoformat() if event.at else None,
        },
    }


def event_from_layer(thread_id: str, message: dict[str, Any]) -> Event:
    """The event a `layer_message` carries."""
    event = message["event"]
    return Event(thread_id, event["cursor"], event["kind"], event["data"], parse_time(event["at"]))


def current_cursor(thread_id: str) -> int:
    """The cursor of the thread's latest event (0 when none); starts tracking the thread."""
    return thread_row(thread_id).last_cursor


def events_after(thread_id: str, cursor: int) -> list[Event] | None:
    """Every logged event after ``cursor``, in order; None when the log no longer reaches back
    that far (or ``cursor`` is one this log never gave out): the page must reload the thread."""
    row = RelayThread.objects.filter(chat_thread_id=thread_id).first()
    if row is None:
        return [] if cursor == 0 else None
    if cursor < row.pruned_through or cursor > row.last_cursor:
        return None
    rows = RelayEvent.objects.filter(chat_thread_id=thread_id, cursor__gt=cursor).order_by("cursor")
    events = [Event(thread_id, r.cursor, r.kind, r.data, r.at) for r in rows]
    # Read without the lock: a prune committed between the two reads shows up as a gap at
    # the start, which means the same as an old cursor.
    if events and events[0].cursor != cursor + 1:
        return None
    return events
