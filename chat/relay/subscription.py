"""One connection's subscriptions: access on subscribe, replay from a cursor, live delivery.

Exactly once, in order: the relay numbers each thread's events with a cursor and keeps them in
a log (``log.py``). A subscription joins the thread's channel-layer group *first*, then replays
the log after the page's cursor, so nothing falls between the two; afterwards live events at or
below the last cursor sent are dropped (already sent) and a jump past it is filled from the log
(the channel layer delivers at most once and may drop). Every event passes the viewer's history
filter and is rendered once per process for all viewers (``render.py``).

Access. A subscribe costs no ACS call when the relay's published members are current (someone
polls the thread) and include the viewer; otherwise the members are read from ACS with
the viewer's own token (ChatThread_ListChatParticipants), which is also the access check: ACS
answers 403 to anyone who is not a participant. Membership events after that read are applied
as they arrive: the viewer's own removal ends the subscription (``removed``), being added again
changes their history start; a deleted thread ends it too (``deleted``). Nothing follows either.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from django.utils.translation import gettext as _

from chat.db import run_db
from chat.gateway import GatewayError
from chat.relay import api, inbox, log
from chat.relay.events import (
    MESSAGE_ADDED,
    PARTICIPANTS_ADDED,
    PARTICIPANTS_REMOVED,
    THREAD_DELETED,
    Event,
)
from chat.relay.relay import get_relay
from chat.relay.render import Viewer, anames, render_event
from chat.types import history_from, parse_time

# Threads one connection may follow at once (a page has one open; a few tabs' worth is plenty).
MAX_SUBSCRIPTIONS = 20

Send = Callable[[dict[str, Any]], Awaitable[None]]


class SubscribeRefused(Exception):
    """The viewer may not follow the thread (the message says why; ``status`` as for HTTP)."""

    def __init__(self, message: str, status: int) -> None:
        super().__init__(message)
        self.message = message
        self.status = status


@dataclass
class Subscription:
    thread_id: str
    group: str
    viewer: Viewer
    # The last cursor sent to (or deliberately skipped for) this connection.
    cursor: int
    # The members the access check saw were those as of this cursor: membership events up to
    # it are already reflected in the viewer's state, later ones are applied as they come.
    baseline: int
    lock: asyncio.Lock = field(default_factory=asyncio.Lock, repr=False)


class Subscriptions:
    """The threads one websocket follows, and the frames it is sent for them."""

    def __init__(
        self,
        *,
        me: str,
        channel_name: str,
        layer: Any,
        send: Send,
        read_members: Callable[[str], Awaitable[list[Any]]],
    ) -> None:
        self.me = me
        self._channel = channel_name
        self._layer = layer
        self._send = send
        # The viewer's own ACS read of a thread's participants (the fallback access check).
        self._read_members = read_members
        self._subs: dict[str, Subscription] = {}
        # Threads whose subscription a removal or deletion ended: the page knows (from the
        # removed/deleted frame) and their inbox frames would only repeat it.
        self._ended: set[str] = set()

    def get(self, thread_id: str) -> Subscription | None:
        return self._subs.get(thread_id)

    def __len__(self) -> int:
        return len(self._subs)

    # --- Subscribing -------------------------------------------------------------------------

    async def subscribe(self, thread_id: str, cursor: int | None) -> dict[str, Any]:
        current = self._subs.get(thread_id)
        if current is not None:
            # Already following it: nothing to replay, the page just learns where it stands.
            await self._frame("subscribed", current, cursor=current.cursor)
            return {"thread": thread_id, "cursor": current.cursor}
        if len(self._subs) >= MAX_SUBSCRIPTIONS:
            raise SubscribeRefused(_("Too many conversations open on one connection."), 400)
        state = await run_db(api.thread_state, thread_id)
        # The relay's members are current only while someone polls the thread.
        members = state.members if await get_relay().polled(thread_id) else None
        if not state.deleted and (members is None or self.me not in members):
            try:
                participants = await self._read_members(thread_id)
            except GatewayError as error:
                if error.status in (403, 404):
                    raise SubscribeRefused(_("No such conversation."), 404) from error
                raise
            state = await run_db(api.record_members, thread_id, participants)
            members = state.members
        if state.deleted:
            await self._send({"type": "deleted", "thread": thread_id})
            return {"thread": thread_id, "deleted": True}
        if members is None or self.me not in members:
            raise SubscribeRefused(_("No such conversation."), 404)
        viewer = Viewer(self.me, history_from(parse_time(members[self.me])))
        group = log.group_name(thread_id)
        # Join first, then read the log: an event appended in between arrives twice at most
        # (once replayed, once live) and the cursor check drops the second.
        await self._layer.group_add(group, self._channel)
        await get_relay().watch(thread_id)
        sub = Subscription(thread_id, group, viewer, cursor=state.cursor, baseline=state.cursor)
        self._subs[thread_id] = sub
        try:
            async with sub.lock:
                if not await self._catch_up(sub, cursor):
                    return {"thread": thread_id, "ended": True}
        except BaseException:
            await self.unsubscribe(thread_id)
            raise
        await self._frame("subscribed", sub, cursor=sub.cursor)
        return {"thread": thread_id, "cursor": sub.cursor}

    async def _catch_up(self, sub: Subscription, cursor: int | None) -> bool:
        """Replay what the page missed since ``cursor`` (None: it missed nothing); False when
        that ended the subscription."""
        if cursor is None:
            sub.cursor = await run_db(api.current_cursor, sub.thread_id)
            return True
        sub.cursor = cursor
        missed = await run_db(api.events_after, sub.thread_id, cursor)
        if missed is None:
            await self._resync(sub)
            return True
        return await self._deliver(sub, missed)

    async def unsubscribe(self, thread_id: str) -> None:
        sub = self._subs.pop(thread_id, None)
        if sub is None:
            return
        await self._layer.group_discard(sub.group, self._channel)
        await get_relay().unwatch(thread_id)

    async def close(self) -> None:
        """Release every subscription (the connection ended, however it ended)."""
        for thread_id in list(self._subs):
            await self.unsubscribe(thread_id)

    # --- Delivery ----------------------------------------------------------------------------

    async def relay_event(self, message: dict[str, Any]) -> None:
        """A live event from the relay (group message ``relay.event``)."""
        sub = self._subs.get(message.get("thread"))
        if sub is None:
            return
        async with sub.lock:
            cursor = message["cursor"]
            if cursor <= sub.cursor:
                return  # already sent (replayed, or delivered twice)
            if cursor == sub.cursor + 1:
                events: list[Event] | None = [log.event_from_layer(sub.thread_id, message)]
            else:
                # The layer dropped something: read what was missed from the log.
                events = await run_db(api.events_after, sub.thread_id, sub.cursor)
            if events is None:
                await self._resync(sub)
                return
            await self._deliver(sub, events)

    async def relay_inbox(self, message: dict[str, Any]) -> None:
        """A change in one of the user's threads (group message ``relay.inbox``); a thread this
        socket follows is left out: its events say more."""
        thread_id = message.get("thread")
        if thread_id in self._subs or thread_id in self._ended:
            return
        event = log.event_from_layer(thread_id, message)
        sender = event.data.get("sender_id") if event.kind == MESSAGE_ADDED else None
        names = await anames([sender]) if sender else {}
        shown = inbox.frame(event, message.get("topic") or "", self.me, names)
        if shown is not None:
            await self._send(shown)

    async def relay_typing(self, message: dict[str, Any]) -> None:
        """Someone is typing (group message ``relay.typing``; not logged, no cursor)."""
        sub = self._subs.get(message.get("thread"))
        if sub is None or message.get("user") == self.me:
            return
        await self._send(
            {
                "type": "typing",
                "thread": sub.thread_id,
                "user": message.get("user"),
                "name": message.get("name") or "",
            }
        )

    async def _deliver(self, sub: Subscription, events: list[Event]) -> bool:
        """Send the events past the subscription's cursor, in order, through the viewer's
        filter; False when the subscription ended (removed, or the thread deleted)."""
        for event in events:
            if event.cursor <= sub.cursor:
                continue
            if event.kind == THREAD_DELETED:
                await self._end(sub, "deleted")
                return False
            if event.cursor > sub.baseline and self._membership_ends(sub, event):
                await self._end(sub, "removed")
                return False
            data = await render_event(event, sub.viewer)
            sub.cursor = event.cursor
            if data is not None:
                await self._frame("event", sub, cursor=event.cursor, kind=event.kind, data=data)
        return True

    def _membership_ends(self, sub: Subscription, event: Event) -> bool:
        """Apply a membership event to the viewer; True when it removes them."""
        if event.kind not in (PARTICIPANTS_ADDED, PARTICIPANTS_REMOVED):
            return False
        mine = [p for p in event.data.get("participants") or [] if p.get("raw_id") == self.me]
        if not mine:
            return False
        if event.kind == PARTICIPANTS_REMOVED:
            return True
        # Added again, perhaps with another history start.
        sub.viewer.history_start = history_from(parse_time(mine[0].get("share_history_time")))
        return False

    async def _end(self, sub: Subscription, frame_type: str) -> None:
        self._ended.add(sub.thread_id)
        await self.unsubscribe(sub.thread_id)
        await self._send({"type": frame_type, "thread": sub.thread_id})

    async def _resync(self, sub: Subscription) -> None:
        sub.cursor = await run_db(api.current_cursor, sub.thread_id)
        await self._send({"type": "resync", "thread": sub.thread_id})

    async def _frame(self, frame_type: str, sub: Subscription, **fields: Any) -> None:
        await self._send({"type": frame_type, "thread": sub.thread_id, **fields})
