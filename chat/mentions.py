"""@mentions: who a message names, kept in its sanitised HTML.

A mention is ``<span data-mention="RAW_ID">@Name</span>`` (the mentioned person's ACS raw id),
the one ``span`` form the sanitiser keeps (``chat.sanitize``). Kwebbel keeps only mentions of
the thread's participants when it sends a message: any other ``data-mention`` is dropped and its
text stays as typed. Messages from other ACS clients may mention anyone; they name nothing to a
non-participant, who never sees the thread.
"""

from __future__ import annotations

import html
import re
from collections.abc import Iterable

from chat.sanitize import clean_html
from chat.types import HTML

MENTION_ATTRIBUTE = "data-mention"
# nh3 writes attributes with double quotes and escapes those inside: this reads what it wrote.
_MENTION_RE = re.compile(r'<span data-mention="([^"]*)"')


def mentioned(body: str, kind: str) -> set[str]:
    """Raw ids a (sanitised) message body mentions."""
    if kind != HTML or MENTION_ATTRIBUTE not in body:
        return set()
    return {html.unescape(raw) for raw in _MENTION_RE.findall(body) if raw}


def has_mentions(body: str, kind: str) -> bool:
    return kind == HTML and MENTION_ATTRIBUTE in body


def keep_mentions_of(body: str, participants: Iterable[str]) -> str:
    """Sanitised HTML with mentions of anyone but `participants` turned into plain text."""
    allowed = set(participants)

    def only_participants(element: str, attribute: str, value: str) -> str | None:
        if element == "span" and attribute == MENTION_ATTRIBUTE and value not in allowed:
            return None
        return value

    return clean_html(body, only_participants)
