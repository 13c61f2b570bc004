"""Template helpers for the chat pages."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django import template
from django.template.defaultfilters import date as date_filter
from django.utils import timezone
from django.utils.html import format_html, json_script
from django.utils.safestring import SafeString
from django.utils.text import get_text_list
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from chat.people import colour_of, display_name, initials, known_raw_id
from chat.views.live import connection_strings

register = template.Library()


@register.simple_tag
def local_time(value: datetime | str | None, style: str = "short") -> SafeString | str:
    """A <time> element: ISO in `datetime` for the page script to show in the reader's time
    zone, and the server's rendering (in the request's time zone) as the text until it does."""
    if not value:
        return ""
    moment = datetime.fromisoformat(value) if isinstance(value, str) else value
    local = timezone.localtime(moment) if timezone.is_aware(moment) else moment
    fallback = date_filter(local, "DATETIME_FORMAT" if style == "long" else "SHORT_DATETIME_FORMAT")
    return format_html(
        '<time datetime="{}" data-local-time="{}" title="{}">{}</time>',
        moment.isoformat(),
        style,
        fallback,
        fallback,
    )


@register.simple_tag
def avatar(name: str, raw_id: str | None, size: str = "") -> SafeString:
    """An initials avatar, coloured by identity (decorative: the name is always beside it)."""
    size_class = f" avatar--{size}" if size else ""
    return format_html(
        '<span class="avatar avatar--c{}{}" aria-hidden="true">{}</span>',
        colour_of(raw_id or name or ""),
        size_class,
        initials(name or ""),
    )


def _raw_id_or_blank(user: Any) -> str:
    """The user's ACS raw id if they have an identity yet ("" if not): a page that does not
    chat (sign-in, password, an error page) neither creates one nor fails because ACS does.
    Chat pages made the identity before they render."""
    return known_raw_id(user) or ""


@register.simple_tag
def person_avatar(user: Any, size: str = "") -> SafeString:
    """The avatar of a site user (coloured by their ACS identity, as in conversations)."""
    return avatar(display_name(user), _raw_id_or_blank(user), size)


@register.simple_tag(takes_context=True)
def page_config(context: Any) -> SafeString:
    """What every signed-in page's script needs, as JSON: the user's ACS raw id (to tell their
    own messages and keep their unsent ones apart; "" while ACS is unreachable), the websocket
    and the words."""
    user = context["user"]
    config = {
        "me": _raw_id_or_blank(user),
        "socket": "/ws/chat/",
        "strings": connection_strings(),
    }
    return json_script(config, "kwebbel-page")


@register.filter
def name_list(names: list[str]) -> str:
    """["a", "b", "c"] -> "a, b and c" in the active language."""
    return get_text_list(list(names), _("and"))


# The conversation list names this many people, then "and N others".
NAMES_SHOWN = 3


@register.filter
def people_names(people: list[Any]) -> str:
    """People by name, the first few, then how many more: "Bob, Carol and 4 others"."""
    names = [p.name for p in people]
    if len(names) <= NAMES_SHOWN:
        return get_text_list(names, _("and"))
    rest = len(names) - NAMES_SHOWN
    more = ngettext("%(count)d other", "%(count)d others", rest) % {"count": rest}
    return get_text_list([*names[:NAMES_SHOWN], more], _("and"))
