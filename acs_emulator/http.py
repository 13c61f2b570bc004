"""Request parsing and response rendering shared by the service routes.

Every helper raises :class:`acs_emulator.errors.AcsError` on bad input, so a route never answers a
malformed request with anything but a 400 in the spec's error shape.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from aiohttp import web

from .errors import bad_request

# Messages are limited to about 28 KB; bodies over this are refused before parsing.
MAX_BODY_BYTES = 256 * 1024


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
        return json.loads(raw)
    except (ValueError, UnicodeDecodeError) as exc:
        raise bad_request(f"The request body is not valid JSON: {exc}") from None
    except RecursionError:
        # json.loads recurses once per nesting level; hostile bodies nest thousands deep.
        raise bad_request("The request body is nested too deeply.") from None


def json_response(
    body: Any, *, status: int = 200, headers: Mapping[str, str] | None = None
) -> web.Response:
    return web.Response(
        status=status,
        body=json.dumps(body, separators=(",", ":")).encode(),
        content_type="application/json",
        charset="utf-8",
        headers=headers,
    )


def empty_response(status: int) -> web.Response:
    """A bodiless success (204, or the 200 of typing and read receipts)."""
    return web.Response(status=status)


def format_time(moment: datetime) -> str:
    """RFC 3339 in UTC with second precision, as the chat service returns it."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_time(value: str, *, field: str) -> datetime:
    """Parse an RFC 3339 timestamp as the SDKs send it (``Z`` or an offset, any fraction)."""
    text = value.strip()
    if text.endswith(("Z", "z")):
        text = text[:-1] + "+00:00"
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise bad_request(f"'{field}' is not a valid date-time: {value!r}.", target=field) from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC)


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
