"""Each user's pages in their own time zone.

Times are shown in the browser's time zone by the page script; what the server renders and, more
importantly, what it reads from date fields ("history from", entered without an offset) follows
the same zone: the one on the user's profile, else the one the page script reports in the
``tz`` cookie (the browser's), else the site's ``TIME_ZONE``.
"""

from __future__ import annotations

import zoneinfo
from collections.abc import Callable
from functools import cache
from urllib.parse import unquote

from django.http import HttpRequest, HttpResponse
from django.utils import timezone

from chat.people import profile_time_zone

# Set by static/js/app.js to Intl.DateTimeFormat().resolvedOptions().timeZone.
COOKIE = "tz"


@cache
def known_zones() -> frozenset[str]:
    return frozenset(zoneinfo.available_timezones())


def zone_or_none(name: str | None) -> zoneinfo.ZoneInfo | None:
    """The zone of an IANA name, or None for anything that is not one."""
    if not name or name not in known_zones():
        return None
    return zoneinfo.ZoneInfo(name)


def zone_for(request: HttpRequest) -> zoneinfo.ZoneInfo | None:
    """The zone this request's pages use (None: the site's default)."""
    user = getattr(request, "user", None)
    chosen = profile_time_zone(user) if user is not None and user.is_authenticated else ""
    return zone_or_none(chosen) or zone_or_none(unquote(request.COOKIES.get(COOKIE, "")))


class TimeZoneMiddleware:
    """Activate :func:`zone_for` for the request (after authentication)."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        zone = zone_for(request)
        # For the page script (templates/base.html): times in this zone, not the browser's.
        request.time_zone_name = zone.key if zone else ""
        if zone is None:
            timezone.deactivate()
            return self.get_response(request)
        with timezone.override(zone):
            return self.get_response(request)
