"""ACS user access tokens: HS256 JWTs minted and verified by the emulator.

Claims follow the real service (``skypeid`` is the raw id without ``8:``, ``acsScope`` a comma
list, ``resourceId``, ``iat``, ``exp``, ``csi``) plus ``gen``: the identity's token generation at
issue time. Revoking tokens or deleting the identity bumps the generation, so every earlier token
is refused while one issued a moment later (even within the same second) is accepted; comparing
issue times would make that boundary depend on clock resolution.

The chat SDK reads ``exp`` with ``base64.b64decode(payload + "==")``: the standard alphabet, in
non-strict mode, which silently drops the base64url characters ``-`` and ``_`` and then fails to
parse the token. Minted payload segments therefore contain only ``[A-Za-z0-9]`` (see
``_SdkSafeJSONEncoder``); such a segment means the same under both alphabets, so standard JWT
verification is unaffected.
"""

from __future__ import annotations

import functools
import hashlib
import hmac
import json
import re
import secrets
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime

import jwt

from ..errors import unauthorized

ALGORITHM = "HS256"
# Not a secret: only separates this use of the access key from HMAC request signing.
_SIGNING_LABEL = b"acs-emulator/access-token-signing/v1"
_UNSAFE_PAYLOAD_CHARS = (">", "?", "~", "\x7f")
_SDK_SAFE_SEGMENT = re.compile(r"[A-Za-z0-9]+")
# "scp" of real chat tokens; kept for clients that inspect tokens.
_REAL_SCP = 1792
_REQUIRED_CLAIMS = ["skypeid", "acsScope", "resourceId", "iat", "exp", "gen"]


@dataclass(frozen=True)
class TokenClaims:
    raw_id: str
    scopes: frozenset[str]
    resource_id: str
    generation: int
    expires_at: datetime


class _SdkSafeJSONEncoder(json.JSONEncoder):
    """Compact ASCII JSON whose base64 has no '-' or '_' (62 and 63 in the alphabet).

    In base64 of 7-bit bytes only the last sextet of a 3-byte group can reach 62 or 63, and it
    does exactly when that byte is '>', '?', '~' or DEL. Those can only occur inside JSON strings,
    where a \\u escape means the same character, so escaping them all makes every payload safe.
    """

    def encode(self, o: object) -> str:
        text = super().encode(o)
        for char in _UNSAFE_PAYLOAD_CHARS:
            text = text.replace(char, f"\\u{ord(char):04x}")
        return text


def derive_signing_key(access_key: bytes) -> bytes:
    """The token signing secret for an access key (decoded bytes).

    Derived rather than random so tokens survive a restart with the same data dir, and so that
    rotating the access key invalidates every token, as it does on the real service.
    """
    return hmac.new(access_key, _SIGNING_LABEL, hashlib.sha256).digest()


def _sdk_decodable(token: str) -> bool:
    payload = token.split(".")[1]
    return _SDK_SAFE_SEGMENT.fullmatch(payload) is not None


def mint_access_token(
    signing_key: bytes,
    *,
    raw_id: str,
    resource_id: str,
    scopes: Iterable[str],
    generation: int,
    issued_at: datetime,
    expires_at: datetime,
) -> str:
    """Sign a token for ``raw_id`` whose payload segment is plain alphanumeric base64."""
    iat = int(issued_at.timestamp())
    claims: dict[str, object] = {
        "skypeid": raw_id.removeprefix("8:"),
        "scp": _REAL_SCP,
        "csi": str(iat),
        "exp": int(expires_at.timestamp()),
        "acsScope": ",".join(scopes),
        "resourceId": resource_id,
        "iat": iat,
        "gen": generation,
        # Two tokens issued in the same second must still differ, as on the real service.
        "jti": secrets.token_hex(8),
    }
    token = jwt.encode(claims, signing_key, algorithm=ALGORITHM, json_encoder=_SdkSafeJSONEncoder)
    if not _sdk_decodable(token):  # cannot happen, see _SdkSafeJSONEncoder; never mint a bad one
        raise ValueError("minted a token payload with URL-safe base64 characters")
    return token


def decode_access_token(signing_key: bytes, token: str, *, now: datetime) -> TokenClaims:
    """Verify signature, algorithm, shape and expiry; raise a 401 :class:`AcsError` otherwise.

    Revocation and deletion are checked by the caller against the identity store.
    """
    claims = _verified_claims(signing_key, token)
    if claims.expires_at <= now:
        raise unauthorized("The access token has expired.")
    return claims


@functools.lru_cache(maxsize=4096)
def _verified_claims(signing_key: bytes, token: str) -> TokenClaims:
    """Signature, algorithm and shape: the same for the same token, so remembered.

    Clients send one token on every request until it expires; checking its signature again each
    time was the largest single cost of a chat request. Expiry, revocation and the identity are
    checked on every request regardless. Refused tokens are not remembered (exceptions are not
    cached), so a forged one costs a full check each time.
    """
    try:
        claims = jwt.decode(
            token,
            signing_key,
            algorithms=[ALGORITHM],
            # Expiry is checked below against the emulator's clock, not PyJWT's.
            options={"verify_exp": False, "verify_iat": False, "require": _REQUIRED_CLAIMS},
        )
    except jwt.InvalidTokenError:
        raise unauthorized("The access token is invalid.") from None
    try:
        raw_id = "8:" + str(claims["skypeid"])
        scopes = frozenset(s for s in str(claims["acsScope"]).split(",") if s)
        generation = int(claims["gen"])
        expires_at = datetime.fromtimestamp(int(claims["exp"]), UTC)
    except (TypeError, ValueError, OverflowError):
        raise unauthorized("The access token is invalid.") from None
    return TokenClaims(
        raw_id=raw_id,
        scopes=scopes,
        resource_id=str(claims["resourceId"]),
        generation=generation,
        expires_at=expires_at,
    )


def unverified_raw_id(token: str) -> str | None:
    """The token's user without checking the signature; only for keying rate-limit buckets."""
    try:
        claims = jwt.decode(token, options={"verify_signature": False})
    except jwt.InvalidTokenError:
        return None
    skypeid = claims.get("skypeid")
    return "8:" + skypeid if isinstance(skypeid, str) else None
