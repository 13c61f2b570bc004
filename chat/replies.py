"""Replies: which message a message answers, and the quote shown above it.

A reply names the message it answers in its ACS metadata (``REPLY_TO_KEY``: the message id, a
string as all ACS metadata values are), so every ACS client receives the link. The quote (the
original's sender and the start of its text, as plain text) is never stored with the reply: it is
resolved when the reply is shown, from the messages the page loaded anyway, else with one
GetChatMessage per original (a few per page at most), and kept in the cache for a while. The
relay forgets a cached quote when its original is edited or deleted.

What a quote shows is decided per viewer (``chat.rendering.for_viewer``): an original created
before the viewer's history starts, deleted, or unknown is "a message you can't see", with
nothing of its content.
"""

from __future__ import annotations

import hashlib
import html
import logging
from collections.abc import Callable, Iterable, Mapping
from typing import Any

import nh3
from django.core.cache import cache

from chat.types import HTML, Message, iso, message_number

logger = logging.getLogger(__name__)

# Metadata key of a reply: the id of the message it answers.
REPLY_TO_KEY = "kwebbelReplyTo"
# The start of the original shown in a quote, in characters.
QUOTE_LENGTH = 100
# How long a resolved quote is kept (edits and deletions forget it at once).
QUOTE_TTL = 300
# GetChatMessage calls one page render may make for originals it did not load; replies to
# further originals show a plain link to them.
MAX_FETCHES = 10

# A quote as cached and passed to the renderer: {id, sender, text, created, gone}; None for an
# original that could not be read (unknown, or not this viewer's to read).
Quote = dict[str, Any]


def reply_target(message: Message) -> str | None:
    """The id of the message `message` answers, if its metadata names a possible one."""
    target = (message.metadata or {}).get(REPLY_TO_KEY)
    if not isinstance(target, str) or message_number(target) < 0 or target == message.id:
        return None
    return target


def plain_start(body: str, kind: str, length: int = QUOTE_LENGTH) -> str:
    """The start of a message as plain text (HTML reduced to its text)."""
    # nh3 returns the text escaped (&amp;, &nbsp;); a quote is plain text, escaped where shown.
    text = html.unescape(nh3.clean(body, tags=set())) if kind == HTML else body
    text = " ".join(text.split())
    return text if len(text) <= length else text[: length - 1] + "…"


def quote_of(message: Message) -> Quote:
    """What a quote may show of an original (before the per-viewer check)."""
    gone = message.deleted or not message.is_user_message
    return {
        "id": message.id,
        "sender": None if gone else message.sender_id,
        "text": "" if gone else plain_start(message.body, message.type),
        "created": iso(message.created),
        "gone": gone,
    }


def _key(thread_id: str, message_id: str) -> str:
    # Thread ids hold characters some cache backends refuse in keys.
    return f"chat.quote.{hashlib.sha256(thread_id.encode()).hexdigest()[:32]}.{message_id}"


def forget(thread_id: str, message_id: str) -> None:
    """The original changed: quotes of it are resolved again."""
    cache.delete(_key(thread_id, message_id))


def resolve(
    thread_id: str,
    targets: Iterable[str],
    loaded: Mapping[str, Message],
    fetch: Callable[[str], Message],
    *,
    max_fetches: int = MAX_FETCHES,
) -> dict[str, Quote | None]:
    """Quotes of the originals `targets`: from `loaded`, the cache, else `fetch` (one
    GetChatMessage each, at most `max_fetches`; those beyond are left out)."""
    wanted = sorted(set(targets))
    found: dict[str, Quote | None] = {}
    for target in wanted:
        if target in loaded:
            found[target] = quote_of(loaded[target])
    missing = [t for t in wanted if t not in found]
    cached = cache.get_many([_key(thread_id, t) for t in missing]) if missing else {}
    for target in missing:
        hit = cached.get(_key(thread_id, target))
        if hit is not None:
            found[target] = hit
    for target in [t for t in missing if t not in found][:max_fetches]:
        try:
            quote = quote_of(fetch(target))
        except Exception:  # noqa: BLE001 - unknown, refused or unavailable: shown as unseen
            logger.info("reply original %s in %s could not be read", target, thread_id)
            found[target] = None
            continue
        # Only what ACS answered is kept: a refusal may be one viewer's, not everyone's.
        cache.set(_key(thread_id, target), quote, QUOTE_TTL)
        found[target] = quote
    return found


def senders(quotes: Mapping[str, Quote | None]) -> set[str]:
    """Raw ids of the originals' senders (to name them)."""
    return {q["sender"] for q in quotes.values() if q and q.get("sender")}
