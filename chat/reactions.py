"""Reactions to messages: the fixed set of emoji, and what is stored of them (``Reaction``).

Reactions live in Kwebbel's database, not in ACS: ACS lets only a message's sender change the
message (its metadata included), and a reaction is anyone's. The state of one message's
reactions is always published whole (``message.reactions``), so events arriving late or twice
cannot leave a page with wrong counts.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from chat.models import Reaction

# The reactions offered, in the order they are shown. A small fixed set keeps the bar short
# and the stored values known (anything else is refused).
EMOJI: tuple[str, ...] = ("👍", "❤️", "😂", "😮", "😢", "🎉")

# {message id: [{"emoji", "users": [raw id, ...]}]}, emoji in EMOJI order, users in the order
# they reacted.
ReactionState = dict[str, list[dict[str, Any]]]


def reactions_for(thread_id: str, message_ids: Iterable[str]) -> ReactionState:
    """The reactions of some messages of a thread (one query)."""
    ids = {m for m in message_ids if m}
    if not ids:
        return {}
    rows = (
        Reaction.objects.filter(chat_thread_id=thread_id, message_id__in=ids)
        .order_by("created_on", "pk")
        .values_list("message_id", "emoji", "user__acs_identity__communication_user_id")
    )
    found: dict[str, dict[str, list[str]]] = {}
    for message_id, emoji, raw_id in rows:
        if raw_id and emoji in EMOJI:
            found.setdefault(message_id, {}).setdefault(emoji, []).append(raw_id)
    return {
        message_id: [{"emoji": e, "users": by_emoji[e]} for e in EMOJI if e in by_emoji]
        for message_id, by_emoji in found.items()
    }


def people_in(state: ReactionState) -> set[str]:
    """Raw ids of everyone who reacted (to name them)."""
    return {raw for entries in state.values() for entry in entries for raw in entry["users"]}
