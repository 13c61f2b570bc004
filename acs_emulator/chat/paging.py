"""Paging for the chat lists: nextLink building and the opaque ``syncState`` cursor.

The SDK follows nextLink as is, re-quoting its query values and replacing api-version, and does
not resend maxPageSize/startTime. So the link is absolute on the request's own host, and all the
state of thread and message paging sits in one URL-safe ``syncState`` value (base64url JSON).
Participants and read receipts page with plain ``skip``/``maxPageSize``, as the real service does.
"""

from __future__ import annotations

import base64
import binascii
import json
from typing import Any

from aiohttp import web

from ..errors import AcsError, bad_request
from ..http import json_response

API_VERSION = "2024-03-07"


def page_response(
    request: web.Request,
    items: list[dict[str, Any]],
    next_state: dict[str, Any] | None,
    *,
    opaque: bool = True,
) -> web.Response:
    body: dict[str, Any] = {"value": items}
    if next_state is not None:
        if opaque:
            encoded = base64.urlsafe_b64encode(json.dumps(next_state).encode()).rstrip(b"=")
            query = {"syncState": encoded.decode()}
        else:
            query = {key: str(value) for key, value in next_state.items()}
        query["api-version"] = request.query.get("api-version", API_VERSION)
        body["nextLink"] = str(request.url.with_query(query))
    return json_response(body)


def sync_state(request: web.Request) -> dict[str, Any] | None:
    raw = request.query.get("syncState")
    if raw is None:
        return None
    try:
        state = json.loads(base64.urlsafe_b64decode(raw + "=" * (-len(raw) % 4)))
    except (ValueError, binascii.Error):
        raise bad_state() from None
    if not isinstance(state, dict):
        raise bad_state()
    return state


def state_int(state: dict[str, Any], key: str, minimum: int, maximum: int) -> int:
    value = state.get(key)
    if isinstance(value, bool) or not isinstance(value, int) or not minimum <= value <= maximum:
        raise bad_state()
    return value


def bad_state() -> AcsError:
    return bad_request("'syncState' is not a valid paging cursor.", target="syncState")
