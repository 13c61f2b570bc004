"""Tell the live relay about changes made through Kwebbel, right after ACS accepted them.

Each function reads the *current* state of what changed back from ACS and hands it to the
relay's ``observe_*`` functions, which publish only differences from what was already
published. So a change made here reaches open pages at once, and the relay's next poll, seeing
the same state, publishes nothing again; two changes racing each other publish the newest state
last, never an older one after it.

Publishing is a courtesy on top of a change ACS already made: if it fails (ACS slow to answer
the follow-up read, database busy), the action still succeeded and the relay's poll publishes
the change a moment later. Failures are therefore logged, never raised. The async twins for the
websocket are in ``chat.actions.live``.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from chat import gateway
from chat.relay import observe

logger = logging.getLogger(__name__)


def quietly(what: str, thread_id: str, publish: Callable[[], Any]) -> None:
    try:
        publish()
    except Exception:  # noqa: BLE001 - see the module docstring: the poll catches up.
        logger.warning("could not publish %s for %s at once", what, thread_id, exc_info=True)


def message_changed(thread: gateway.ChatThread, message_id: str) -> None:
    """Publish a message's state after a send, edit or delete (ChatThread_GetChatMessage)."""
    quietly(
        "a message",
        thread.thread_id,
        lambda: observe.observe_messages(thread.thread_id, [thread.get_message(message_id)]),
    )


# How many of the newest messages are read back after a change ACS announces with a system
# message: that one, and any other change made meanwhile.
ANNOUNCEMENT_SCAN = 20


def announced(thread: gateway.ChatThread) -> None:
    """Publish a change ACS announces with a system message (topic, people added or removed):
    the newest messages are read back (ChatThread_ListChatMessages) and the relay publishes the
    new announcements among them, in order, with who made them."""
    quietly(
        "a change",
        thread.thread_id,
        lambda: observe.observe_messages(
            thread.thread_id, thread.list_messages(ANNOUNCEMENT_SCAN).items
        ),
    )


def thread_deleted(thread_id: str, initiator: str | None) -> None:
    """Publish that the thread is gone: open pages say so, and nothing follows."""
    quietly("a deletion", thread_id, lambda: observe.observe_thread_deleted(thread_id, initiator))


def created(thread: gateway.ChatThread, topic: str, creator: str) -> None:
    """A thread was just created: its topic and members (ChatThread_ListChatParticipants) are
    the relay's baseline, so announcements of later changes apply from the start, and its
    members' conversation lists hear of it."""
    quietly(
        "a new thread",
        thread.thread_id,
        lambda: observe.observe_thread_created(
            thread.thread_id, topic, thread.list_participants(), creator
        ),
    )


def seen(thread_id: str, topic: str, participants: list[Any]) -> None:
    """Record what a page just read of the thread (its topic and members) as the relay's baseline
    when it has none: later announcements are applied to it, even one made straight through ACS
    before the thread's poller first read the thread."""

    def publish() -> None:
        observe.observe_topic(thread_id, topic, baseline_only=True)
        observe.observe_members(thread_id, participants, baseline_only=True)

    quietly("what a page read", thread_id, publish)
