"""HMAC-SHA256 request signing, as the Identity SDK's ``HMACCredentialsPolicy`` does it.

The client signs ``METHOD\\n<path?query>\\n<x-ms-date>;<host>;<x-ms-content-sha256>`` with the
base64-decoded access key and sends
``Authorization: HMAC-SHA256 SignedHeaders=x-ms-date;host;x-ms-content-sha256&Signature=<b64>``.

* The path and query are the request target exactly as sent (still percent-encoded). Async
  (aiohttp) clients sign the normalised form yarl puts on the wire, so the raw target matches both.
* The signed host is taken from the client's configured endpoint, not from the connection. It
  normally equals the ``Host`` header; a client built from ``https://h:port/`` signs ``h:port/``
  with the trailing slash, so both forms are accepted.
* ``x-ms-content-sha256`` must be the SHA-256 of the bytes received, and ``x-ms-date`` must be
  within :data:`MAX_CLOCK_SKEW` of the emulator's clock, so a captured request cannot be replayed
  later.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from collections.abc import Mapping
from datetime import datetime, timedelta
from email.utils import parsedate_to_datetime

from ..errors import unauthorized

SCHEME = "HMAC-SHA256"
MAX_CLOCK_SKEW = timedelta(minutes=15)
REQUIRED_SIGNED_HEADERS = ("x-ms-date", "host", "x-ms-content-sha256")


def content_hash(body: bytes) -> str:
    return base64.b64encode(hashlib.sha256(body).digest()).decode()


def sign(key: bytes, string_to_sign: str) -> str:
    """base64(HMAC-SHA256(key, string_to_sign)), the value the SDK puts after ``Signature=``."""
    return base64.b64encode(
        hmac.new(key, string_to_sign.encode(), hashlib.sha256).digest()
    ).decode()


def _parse_authorization(header: str) -> tuple[list[str], str]:
    scheme, _, params = header.strip().partition(" ")
    if scheme != SCHEME:
        raise unauthorized("The Authorization header must use the HMAC-SHA256 scheme.")
    fields: dict[str, str] = {}
    for part in params.strip().split("&"):
        name, sep, value = part.partition("=")
        if not sep:
            raise unauthorized("The HMAC-SHA256 Authorization header is malformed.")
        fields[name.strip()] = value.strip()
    signed = [h.strip().lower() for h in fields.get("SignedHeaders", "").split(";") if h.strip()]
    signature = fields.get("Signature", "")
    if not signature or any(h not in signed for h in REQUIRED_SIGNED_HEADERS):
        raise unauthorized(
            "The HMAC-SHA256 Authorization header needs SignedHeaders="
            "x-ms-date;host;x-ms-content-sha256 and a Signature."
        )
    return signed, signature


def _check_date(value: str | None, now: datetime) -> None:
    if not value:
        raise unauthorized("The x-ms-date header is required for HMAC authentication.")
    try:
        moment = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        raise unauthorized("The x-ms-date header is not an RFC 1123 date.") from None
    if moment.tzinfo is None or abs(now - moment) > MAX_CLOCK_SKEW:
        raise unauthorized("The x-ms-date header is too far from the server time.")


def verify_request(
    *,
    key: bytes,
    method: str,
    target: str,
    headers: Mapping[str, str],
    body: bytes,
    now: datetime,
) -> None:
    """Raise a 401 :class:`AcsError` unless the request carries a valid signature by ``key``.

    ``target`` is the raw request target (path and query as received); ``headers`` must be a
    case-insensitive mapping (aiohttp's ``request.headers``).
    """
    authorization = headers.get("Authorization")
    if not authorization:
        raise unauthorized("The request is not signed: the Authorization header is missing.")
    signed, signature = _parse_authorization(authorization)
    _check_date(headers.get("x-ms-date"), now)
    claimed_hash = headers.get("x-ms-content-sha256", "")
    if not hmac.compare_digest(claimed_hash.encode(), content_hash(body).encode()):
        raise unauthorized("The x-ms-content-sha256 header does not match the request body.")

    host = headers.get("Host", "")
    for signed_host in (host, host + "/"):
        values = [signed_host if name == "host" else headers.get(name, "") for name in signed]
        expected = sign(key, f"{method.upper()}\n{target}\n{';'.join(values)}")
        if hmac.compare_digest(expected.encode(), signature.encode()):
            return
    raise unauthorized("The request signature is invalid.")


def check_access_key(header_value: str | None, access_key: str) -> bool:
    """True when ``header_value`` (the ``x-emulator-key`` header) is the base64 access key."""
    if not header_value:
        return False
    return hmac.compare_digest(header_value.strip().encode(), access_key.encode())


def is_hmac_request(headers: Mapping[str, str]) -> bool:
    return headers.get("Authorization", "").startswith(SCHEME + " ")
