"""Request parsing and response rendering shared by the service routes.

Every helper raises :class:`acs_emulator.errors.AcsError` on bad input, so a route never answers a
malformed request with anything but a 400 in the spec's error shape.
"""

from __future__ import annotations

import functools
import json
import re
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import orjson
from aiohttp import web

from .errors import AcsError, bad_request

# Messages are limited to about 28 KB; bodies over this are refused before parsing.
MAX_BODY_BYTES = 256 * 1024

# Python's json accepts "\ud800" escapes that pair with nothing; such a string is not text (it
# cannot be encoded as UTF-8, so SQLite and every client would choke on it). A body can only
# contain one through a \uD8xx-\uDFxx escape, so bodies without one skip the walk.
_SURROGATE_ESCAPE = re.compile(rb"\\u[dD][89a-fA-F]")
_SURROGATE = re.compile("[\ud800-\udfff]")
# RFC 3339 date-time (section 5.6): the only time format ACS takes and gives.
_RFC3339 = re.compile(
    r"([0-9]{4})-([0-9]{2})-([0-9]{2})[Tt]([0-9]{2}):([0-9]{2}):([0-9]{2})(\.[0-9]+)?"
    r"([Zz]|[+-][0-9]{2}:[0-9]{2})"
)


async def read_json(request: web.Request, *, required: bool = True) -> Any:
    """The request body parsed as JSON; ``{}`` for an empty body when ``required`` is False."""
    raw = await request.read()
    if len(raw) > MAX_BODY_BYTES:
        raise bad_request(f"The request body is larger than {MAX_BODY_BYTES} bytes.")
    if not raw.strip():
        if required:
            raise bad_request("The request body is required.")
        return {}
    try:
        body = json.loads(raw)
    except (ValueError, UnicodeDecodeError) as exc:
        raise bad_request(f"The request body is not valid JSON: {exc}") from None
    except RecursionError:
        # json.loads recurses once per nesting level; hostile bodies nest thousands deep.
        raise bad_request("The request body is nested too deeply.") from None
    if _SURROGATE_ESCAPE.search(raw):
        check_text(body)
    return body


def check_text(value: Any, path: str = "") -> None:
    """Refuse (400, naming the field) any string or key in ``value`` holding a lone surrogate."""
    if isinstance(value, str):
        if _SURROGATE.search(value):
            raise _not_text(path, "")
    elif isinstance(value, dict):
        for key, item in value.items():
            if _SURROGATE.search(key):
                raise _not_text(path, "a key in ")
            check_text(item, f"{path}.{key}" if path else key)
    elif isinstance(value, list):
        for index, item in enumerate(value):
            check_text(item, f"{path}[{index}]")


def _not_text(path: str, where: str) -> AcsError:
    named = f"'{path}'" if path else "the request body"
    return bad_request(
        f"{where.capitalize()}{named} is not valid text: it contains a lone UTF-16 surrogate"
        " (a \\uD800-\\uDFFF escape without its pair).",
        target=path or None,
    )


def check_header_text(headers: Mapping[str, str]) -> None:
    """Refuse (400, naming the header) header values that are not UTF-8 text.

    aiohttp decodes header bytes as UTF-8 with ``surrogateescape``, so an invalid byte arrives as
    a lone surrogate that would fail later, wherever the value is encoded again.
    """
    for name, value in headers.items():
        if not value.isascii() and _SURROGATE.search(value):
            raise bad_request(f"The '{name}' header is not valid UTF-8 text.", target=name)


def json_response(
    body: Any, *, status: int = 200, headers: Mapping[str, str] | None = None
) -> web.Response:
    # orjson: a page of 50 messages took the stdlib encoder longer than the rest of the request.
    return web.Response(
        status=status,
        body=orjson.dumps(body),
        content_type="application/json",
        charset="utf-8",
        headers=headers,
    )


def empty_response(status: int) -> web.Response:
    """A bodiless success (204, or the 200 of typing and read receipts)."""
    return web.Response(status=status)


def format_time(moment: datetime) -> str:
    """RFC 3339 in UTC with second precision, as the chat service returns it.

    Always a four-digit year (``0001-01-01T00:00:00Z``): strftime's ``%Y`` does not pad years
    below 1000 on every platform, and the SDK cannot read ``1-01-01T00:00:00Z``.
    """
    return _format_second(moment.astimezone(UTC).replace(microsecond=0, tzinfo=None))


@functools.lru_cache(maxsize=4096)
def _format_second(moment: datetime) -> str:
    # A page of messages mostly shares a few seconds; each is formatted once.
    return moment.isoformat() + "Z"


def parse_time(value: str, *, field: str) -> datetime:
    """An RFC 3339 date-time as the SDKs send it (``Z`` or an offset, any fraction), in UTC.

    Anything else (a date alone, no offset, other ISO 8601 forms), an impossible date, or a moment
    outside the years 0001-9999 once in UTC is a 400 naming ``field``.
    """
    match = _RFC3339.fullmatch(value)
    if match is None:
        raise bad_request(
            f"'{field}' must be an RFC 3339 date-time such as 2024-05-01T12:00:00Z, not {value!r}.",
            target=field,
        )
    year, month, day, hour, minute, second = (int(part) for part in match.groups()[:6])
    fraction, offset = match.group(7), match.group(8)
    microsecond = int((fraction[1:] + "00000")[:6]) if fraction else 0
    if year == 0:
        raise _time_out_of_range(value, field)
    try:
        if offset in ("Z", "z"):
            zone = UTC
        else:
            sign = -1 if offset[0] == "-" else 1
            zone = timezone(sign * timedelta(hours=int(offset[1:3]), minutes=int(offset[4:6])))
        moment = datetime(year, month, day, hour, minute, second, microsecond, tzinfo=zone)
    except ValueError:
        # Month 13, February 30th, second 60 (datetime has no leap seconds), offset hour 24...
        raise bad_request(f"'{field}' is not a valid date-time: {value!r}.", target=field) from None
    try:
        return moment.astimezone(UTC)
    except OverflowError:
        # e.g. 0001-01-01T00:00:00+01:00, which is in the year 0 in UTC.
        raise _time_out_of_range(value, field) from None


def _time_out_of_range(value: str, field: str) -> AcsError:
    return bad_request(
        f"'{field}' must lie within the years 0001 to 9999 (UTC), not {value!r}.", target=field
    )


def query_int(request: web.Request, name: str, *, default: int, minimum: int, maximum: int) -> int:
    """An integer query parameter within [minimum, maximum], or a 400 naming the limits."""
    raw = request.query.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise bad_request(f"'{name}' must be an integer, not {raw!r}.", target=name) from None
    if not minimum <= value <= maximum:
        raise bad_request(f"'{name}' must be between {minimum} and {maximum}.", target=name)
    return value
