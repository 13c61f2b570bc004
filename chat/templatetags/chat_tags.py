"""Template helpers for the chat pages."""

from __future__ import annotations

from datetime import datetime

from django import template
from django.template.defaultfilters import date as date_filter
from django.utils import timezone
from django.utils.html import format_html
from django.utils.safestring import SafeString
from django.utils.text import get_text_list
from django.utils.translation import gettext as _

register = template.Library()


@register.simple_tag
def local_time(value: datetime | str | None, style: str = "short") -> SafeString | str:
    """A <time> element: ISO in `datetime` for chat.js to show in the reader's local time,
    and the server's rendering (in the site's time zone) as the text until it does."""
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


@register.filter
def name_list(names: list[str]) -> str:
    """["a", "b", "c"] -> "a, b and c" in the active language."""
    return get_text_list(list(names), _("and"))
