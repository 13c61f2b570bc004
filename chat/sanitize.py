"""Cleaning of user-supplied message HTML.

Kwebbel sanitises HTML twice: before it is sent to ACS (so other ACS clients never receive
active content from us) and again before it is shown (because anyone holding a token can
send HTML to a thread without going through Kwebbel). Both passes use the same conservative
allow-list through nh3, a binding of the maintained ammonia sanitiser.
"""

from __future__ import annotations

import re
from collections.abc import Callable

import nh3
from django.utils.html import escape, linebreaks

# Inline formatting, lists, quotes and code: what a chat message reasonably needs.
# No images (they would let a sender track readers), no tables, no forms, no styles.
ALLOWED_TAGS: frozenset[str] = frozenset(
    {
        "a",
        "b",
        "blockquote",
        "br",
        "code",
        "del",
        "em",
        "i",
        "li",
        "ol",
        "p",
        "pre",
        "s",
        # Only as a mention: <span data-mention="raw id">@Name</span> (chat.mentions).
        "span",
        "strong",
        "sub",
        "sup",
        "u",
        "ul",
    }
)
ALLOWED_ATTRIBUTES: dict[str, set[str]] = {"a": {"href", "title"}, "span": {"data-mention"}}
ALLOWED_URL_SCHEMES: frozenset[str] = frozenset({"http", "https", "mailto"})


def clean_html(
    html: str, attribute_filter: Callable[[str, str, str], str | None] | None = None
) -> str:
    """Return `html` reduced to the allow-list; scripts, handlers and styles are dropped.
    `attribute_filter(tag, attribute, value)` may drop (None) or change allowed attributes."""
    cleaned = nh3.clean(
        html,
        tags=set(ALLOWED_TAGS),
        attributes=ALLOWED_ATTRIBUTES,
        url_schemes=set(ALLOWED_URL_SCHEMES),
        # Links open in a new tab (the conversation stays), without giving the other site our
        # window or the referring page.
        link_rel="noopener noreferrer nofollow",
        set_tag_attribute_values={"a": {"target": "_blank"}},
        strip_comments=True,
        attribute_filter=attribute_filter,
    )
    # A list ended with Enter leaves an empty last item in the editor; nobody means to send it.
    cleaned = _EMPTY_ITEM.sub("", cleaned)
    return _EMPTY_LIST.sub("", cleaned)


# Regular expressions over nh3's own output, which is well-formed and lower-case.
_EMPTY_ITEM = re.compile(r"<li>(?:\s|<br>|&nbsp;|\u00a0)*</li>")
_EMPTY_LIST = re.compile(r"<(ul|ol)>\s*</\1>")


def text_to_html(text: str) -> str:
    """Render a plain-text message as HTML: everything escaped, line breaks kept."""
    return linebreaks(escape(text))


def html_has_text(html: str) -> bool:
    """Whether cleaned HTML still has something visible (not only tags and spaces)."""
    return bool(nh3.clean(html, tags=set()).strip())
