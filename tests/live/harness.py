"""Helpers for the tests that run Kwebbel in real Daphne processes (see livesite/__init__.py).

* :func:`running_site`: a :class:`livesite.LiveSite` on the session's emulator, whose
  server logs are printed when the test fails (pytest shows captured output then).
* :class:`ThreadView`: what a page makes of one thread's websocket frames: messages by id,
  rebuilt by applying events in cursor order, with everything that breaks the relay's promise
  (a cursor that does not grow, a message added twice, a resync) recorded for the test to assert.
* :func:`acs_state` / :func:`page_state`: a message as ACS lists it and as a page shows it, in
  one comparable form.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from livesite import Database, LiveSite

USER_TYPES = ("text", "html")
# How long a test waits for the relay to catch up; a bound, not a measurement.
CATCH_UP = 60.0


@contextmanager
def running_site(
    emulator: Any, database: Database, work_dir: Path, **options: Any
) -> Iterator[LiveSite]:
    site = LiveSite(emulator, database, work_dir, **options)
    try:
        with site:
            yield site
    except BaseException:
        for n, server in enumerate(site.servers):
            print(
                f"--- daphne {n} log (tail) ---\n" + "\n".join(server.log_text().splitlines()[-80:])
            )
        raise
    finally:
        database.close()


# A message in comparable form: (type, text or None once deleted, edited?, deleted?); system
# messages only by their type, since pages show them as words rather than ACS's content.
State = tuple[Any, ...]


def acs_state(message: Any) -> State:
    kind = str(getattr(message.type, "value", message.type))
    if kind not in USER_TYPES:
        return ("system",)
    deleted = message.deleted_on is not None
    text = None if deleted else (message.content.message if message.content else "")
    return (kind, text, message.edited_on is not None, deleted)


def page_state(data: dict[str, Any]) -> State:
    """The same from the dict a page renders (chat.rendering.message_json)."""
    kind = data["type"]
    if kind not in USER_TYPES:
        return ("system",)
    deleted = bool(data.get("deletedOn"))
    # `source` is what the edit box starts from: the text itself for text messages.
    return (kind, None if deleted else data["source"], bool(data.get("editedOn")), deleted)


@dataclass
class ThreadView:
    """One page's view of one thread, built from frames across any number of connections."""

    thread_id: str
    messages: dict[str, State] = field(default_factory=dict)
    cursor: int | None = None  # the cursor to resume from (last applied or confirmed)
    applied: list[int] = field(default_factory=list)  # cursors of the events applied, in order
    added: Counter[str] = field(default_factory=Counter)  # message.added per message id
    problems: list[str] = field(default_factory=list)
    confirmed: list[int] = field(default_factory=list)  # the cursor of each `subscribed`

    def load(self, messages: list[Any]) -> None:
        """The snapshot a page loads (after subscribing): merged in, as the page does."""
        for message in messages:
            self.messages.setdefault(str(message.id), acs_state(message))

    def frame(self, frame: dict[str, Any], _received: float = 0.0) -> None:
        kind = frame.get("type")
        if kind in ("typing", "ack", "inbox"):  # inbox frames are for the user's other pages
            return
        if frame.get("thread") != self.thread_id:
            self.problems.append(f"frame for another thread: {frame}")
            return
        if kind == "subscribed":
            confirmed = frame["cursor"]
            self.confirmed.append(confirmed)
            if self.cursor is not None and confirmed < self.cursor:
                self.problems.append(f"subscribed at {confirmed}, behind {self.cursor}")
            self.cursor = max(self.cursor or 0, confirmed)
        elif kind == "event":
            self._event(frame)
        else:  # resync, removed, error: none may happen to this page
            self.problems.append(f"unexpected frame: {frame}")

    @property
    def subscribed(self) -> int:
        """How many subscriptions were confirmed."""
        return len(self.confirmed)

    def _event(self, frame: dict[str, Any]) -> None:
        cursor = frame["cursor"]
        last = self.applied[-1] if self.applied else self.cursor
        if last is not None and cursor <= last:
            self.problems.append(f"cursor {cursor} after {last} ({frame['kind']})")
            return
        self.applied.append(cursor)
        self.cursor = cursor
        event, data = frame["kind"], frame["data"]
        if not event.startswith("message."):
            return
        message_id = str(data["id"])
        if event == "message.added":
            self.added[message_id] += 1
        elif message_id not in self.messages:
            self.problems.append(f"{event} of a message never added: {message_id}")
        self.messages[message_id] = page_state(data)


async def wait_for(
    condition: Callable[[], Any], within: float = CATCH_UP, step: float = 0.25
) -> bool:
    """Poll an (async or sync) condition until true or the bound passes; its last value."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + within
    while True:
        value = condition()
        if asyncio.iscoroutine(value):
            value = await value
        if value or loop.time() > deadline:
            return bool(value)
        await asyncio.sleep(step)
