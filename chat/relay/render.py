"""What one viewer's page receives for a logged event, rendered once for all viewers.

The log is viewer-neutral; pages are not ("mine", edit links, history start). An event is
rendered once per language into a viewer-neutral form (:func:`neutral`, cached), with names
looked up once per event in a small per-process cache; :func:`for_viewer` then applies what
differs per viewer without a database query. Messages use ``chat.rendering.message_json``, the
function the thread page uses, so a message that arrives live looks exactly like one that was
there on load (and its ``html`` is as safe).

Replies quote their original as the service identity reads it; :func:`for_viewer` hides the
quote from a viewer whose history starts after the original. ``message.reactions`` is rendered
with the reactors' names; its time is the message's creation.

The history boundary applies to every kind: a viewer whose history starts after an event
happened (``Event.at``; for messages their creation) never sees it, live or replayed from any
cursor; ACS hides the same things from that participant.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections import OrderedDict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.utils import translation

from chat import gateway, replies
from chat.db import run_db
from chat.people import Person, people_for, service_raw_id
from chat.reactions import people_in, reactions_for
from chat.relay.events import (
    MESSAGE_ADDED,
    MESSAGE_KINDS,
    MESSAGE_REACTIONS,
    PARTICIPANT_KINDS,
    RECEIPT,
    RELAY_STOPPED,
    THREAD_DELETED,
    TOPIC_CHANGED,
    UNFILTERED_KINDS,
    Event,
)
from chat.rendering import for_viewer as message_for_viewer
from chat.rendering import message_json, reactions_json, reactions_markup
from chat.types import Message, is_visible, parse_time, time_of_message

# Rendered events kept per process: every viewer of a thread in this process asks for the same
# few at nearly the same moment.
RENDERED_KEEP = 4096
# How long a looked-up name is trusted (a renamed user shows under the new name this soon).
NAME_TTL = 60.0


@dataclass
class Viewer:
    """Who a connection shows events to, and from when they see the thread's history."""

    raw_id: str
    history_start: datetime | None


class _Cache:
    """What rendering looks up more than once: rendered events, names, the service identity."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.rendered: OrderedDict[tuple[str, int, str], dict[str, Any] | None] = OrderedDict()
        self.pending: dict[tuple[str, int, str], asyncio.Future[dict[str, Any] | None]] = {}
        self.names: dict[str, tuple[Person, float]] = {}
        self.service: str | None = None

    def reset(self) -> None:
        with self.lock:
            self.pending.clear()
            self.rendered.clear()
            self.names.clear()
            self.service = None

    def people(self, raw_ids: Iterable[str]) -> dict[str, Person]:
        now = time.monotonic()
        wanted = {r for r in raw_ids if r}
        found: dict[str, Person] = {}
        with self.lock:
            for raw in wanted:
                hit = self.names.get(raw)
                if hit is not None and hit[1] > now:
                    found[raw] = hit[0]
        missing = wanted - found.keys()
        if missing:
            fresh = people_for(missing)
            with self.lock:
                for raw, person in fresh.items():
                    self.names[raw] = (person, now + NAME_TTL)
            found.update(fresh)
        return found

    def forget(self, raw_ids: Iterable[str]) -> None:
        with self.lock:
            for raw in raw_ids:
                self.names.pop(raw, None)

    def service_id(self) -> str:
        if self.service is None:
            self.service = service_raw_id()
        return self.service


_cache = _Cache()


def reset() -> None:
    """Forget what was cached (tests; a renamed service identity)."""
    _cache.reset()


def forget_names(raw_ids: Iterable[str]) -> None:
    """Someone's name changed: look it up again next time."""
    _cache.forget(raw_ids)


def _participant_ids(data: dict[str, Any]) -> list[str]:
    return [p["raw_id"] for p in data.get("participants") or [] if p.get("raw_id")]


def _render(event: Event) -> dict[str, Any] | None:
    hidden = _cache.service_id()
    kind, data = event.kind, event.data
    if kind in MESSAGE_KINDS:
        message = Message.from_json(data)
        quotes = _quotes(event.thread_id, message)
        # A new message has no reactions yet; an edited one keeps its own.
        state = {} if kind == MESSAGE_ADDED else reactions_for(event.thread_id, [message.id])
        people = _cache.people(message.people() | replies.senders(quotes) | people_in(state))
        return message_json(
            message,
            thread_id=event.thread_id,
            people=people,
            hidden={hidden},
            quotes=quotes,
            reactions=state,
        )
    if kind == MESSAGE_REACTIONS:
        message_id = str(data.get("message_id") or "")
        entries = data.get("reactions") or []
        people = _cache.people(people_in({message_id: entries}))
        shown = reactions_json(entries, people)
        return {
            "messageId": message_id,
            "reactions": shown,
            "markup": reactions_markup(message_id, shown),
        }
    if kind in PARTICIPANT_KINDS:
        ids = [r for r in _participant_ids(data) if r != hidden]
        if not ids:
            return None
        _cache.forget(ids)  # who joins or leaves is worth naming afresh
        people = _cache.people(ids)
        return {"participants": [{"rawId": raw, "name": people[raw].name} for raw in ids]}
    if kind == TOPIC_CHANGED:
        return {"topic": data.get("topic") or ""}
    if kind == RECEIPT:
        reader = data.get("reader")
        if not reader or reader == hidden:
            return None
        return {
            "reader": reader,
            "name": _cache.people([reader])[reader].name,
            "messageId": str(data.get("message_id") or ""),
        }
    if kind == THREAD_DELETED:
        return {}
    if kind == RELAY_STOPPED:
        return {"reason": data.get("reason") or ""}
    return None


def _quotes(thread_id: str, message: Message) -> dict[str, replies.Quote | None]:
    """The original a reply quotes, read as the service identity (which sees the whole thread;
    whether this viewer may see it is decided in :func:`for_viewer`)."""
    target = replies.reply_target(message)
    if target is None or message.deleted:
        return {}
    return replies.resolve(
        thread_id, [target], {}, lambda m: gateway.service_thread(thread_id).get_message(m)
    )


def _key(event: Event) -> tuple[str, int, str]:
    return (event.thread_id, event.cursor, translation.get_language() or "")


def neutral(event: Event) -> dict[str, Any] | None:
    """The event as every viewer may see it, in the active language (sync: it may look names up
    in the database; cached)."""
    key = _key(event)
    with _cache.lock:
        if key in _cache.rendered:
            _cache.rendered.move_to_end(key)
            return _cache.rendered[key]
    rendered = _render(event)
    with _cache.lock:
        _cache.rendered[key] = rendered
        while len(_cache.rendered) > RENDERED_KEEP:
            _cache.rendered.popitem(last=False)
    return rendered


async def aneutral(event: Event) -> dict[str, Any] | None:
    """:func:`neutral` from the event loop: from the cache, else rendered once on a worker
    thread however many of this process's viewers ask at the same moment."""
    key = _key(event)
    with _cache.lock:
        if key in _cache.rendered:
            return _cache.rendered[key]
        pending = _cache.pending.get(key)
        if pending is None:
            pending = _cache.pending[key] = asyncio.ensure_future(run_db(neutral, event))
            pending.add_done_callback(lambda _done: _cache.pending.pop(key, None))
    return await asyncio.shield(pending)


def visible_to(event: Event, viewer: Viewer) -> bool:
    """Whether the event lies inside the viewer's history (see the module docstring)."""
    if event.kind in UNFILTERED_KINDS:
        return True
    start = viewer.history_start
    if start is None:
        return True
    when = parse_time(event.data.get("created_on")) if event.kind in MESSAGE_KINDS else event.at
    if not is_visible(when, start):
        return False
    if event.kind == RECEIPT:
        # A receipt for a message the viewer cannot see says nothing they may know.
        return is_visible(time_of_message(event.data.get("message_id")), start)
    return True


def for_viewer(event: Event, viewer: Viewer, rendered: dict[str, Any]) -> dict[str, Any]:
    """The rendered event with what differs for this viewer (no database query)."""
    if event.kind in MESSAGE_KINDS:
        return message_for_viewer(
            rendered,
            thread_id=event.thread_id,
            me=viewer.raw_id,
            history_start=viewer.history_start,
        )
    if event.kind in PARTICIPANT_KINDS:
        return {
            "participants": [
                {**p, "me": p["rawId"] == viewer.raw_id} for p in rendered["participants"]
            ]
        }
    if event.kind == RECEIPT:
        return {**rendered, "me": rendered["reader"] == viewer.raw_id}
    return rendered


async def anames(raw_ids: Iterable[str]) -> dict[str, str]:
    """Names for raw ids from the event loop: from the cache, else looked up on a worker."""
    wanted = {r for r in raw_ids if r}
    now = time.monotonic()
    with _cache.lock:
        cached = {r: _cache.names.get(r) for r in wanted}
    hits = {r: hit[0].name for r, hit in cached.items() if hit is not None and hit[1] > now}
    if len(hits) < len(wanted):
        people = await run_db(_cache.people, wanted)
        hits = {raw: person.name for raw, person in people.items()}
    return hits


async def render_event(event: Event, viewer: Viewer) -> dict[str, Any] | None:
    """The ``data`` a viewer's page gets for an event, or None when it shows them nothing."""
    if not visible_to(event, viewer):
        return None
    rendered = await aneutral(event)
    if rendered is None:
        return None
    return for_viewer(event, viewer, rendered)
