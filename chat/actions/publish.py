"""Tell the live relay about changes made through Kwebbel, right after ACS accepted them.

Each function reads the *current* state of what changed and hands it to the relay's
`observe_*` functions, which publish only differences from what was already published. So a
change made here reaches open pages at once, and the relay's next poll, seeing the same state,
publishes nothing again.

Publishing is a courtesy on top of a change ACS already made: if it fails (ACS slow to answer
the follow-up read, database busy), the action still succeeded and the relay's poll publishes
the change a moment later. Failures are therefore logged, never raised.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from chat.people import display_name
from chat.relay import observe
from chat.relay.events import MessageState

logger = logging.getLogger(__name__)


def _quietly(what: str, thread_id: str, publish: Callable[[], Any]) -> None:
    try:
        publish()
    except Exception:  # noqa: BLE001 - see the module docstring: the poll catches up.
        logger.warning("could not publish %s for %s at once", what, thread_id, exc_info=True)


def message_changed(client: Any, thread_id: str, message_id: str) -> None:
    """Publish a message's state after a send, edit or delete (ChatThread_GetChatMessage)."""

    def publish() -> None:
        message = client.get_message(message_id)
        observe.observe_messages(thread_id, [MessageState.from_acs(message)])

    _quietly("a message", thread_id, publish)


def members_added(thread_id: str, added: dict[str, Any], initiator: str | None) -> None:
    """Publish people just added ({raw_id: share_history_time}); the rest is unchanged."""
    _quietly(
        "added members",
        thread_id,
        lambda: observe.observe_members_added(thread_id, added, initiator=initiator),
    )


def member_removed(thread_id: str, raw_id: str, initiator: str | None) -> None:
    """Publish that someone left or was removed: their pages lose the thread at once."""
    _quietly(
        "a removal",
        thread_id,
        lambda: observe.observe_members_removed(thread_id, [raw_id], initiator=initiator),
    )


def members_seen(thread_id: str, participants: list[Any]) -> None:
    """Publish the whole membership as just read (ChatThread_ListChatParticipants).

    A page records it as it subscribes, before it follows the thread: the relay then has the
    membership to compare a later removal with, even one made straight through ACS before the
    thread's poller first read the participants (a first observation only sets the baseline).
    """
    members = {p.identifier.raw_id: p.share_history_time for p in participants}
    _quietly("the members", thread_id, lambda: observe.observe_members(thread_id, members))


def topic_changed(thread_id: str, topic: str, initiator: str | None) -> None:
    """Publish a new topic (what the action just set; no ACS call)."""
    _quietly("the topic", thread_id, lambda: observe.observe_topic(thread_id, topic, initiator))


def receipt_sent(thread_id: str, reader: str, message_id: str) -> None:
    """Publish the reader's read receipt (ACS keeps only each reader's latest)."""
    _quietly(
        "a read receipt",
        thread_id,
        lambda: observe.observe_receipts(thread_id, {reader: message_id}),
    )


def typing(thread_id: str, user: Any, raw_id: str) -> None:
    """Tell the thread's open pages that `user` is typing (not logged; see chat.relay)."""
    _quietly(
        "typing",
        thread_id,
        lambda: observe.publish_typing(thread_id, raw_id, display_name(user)),
    )
