"""The authentication step of the request pipeline, keyed on the route's operationId.

Identity operations must be HMAC-signed with the access key; chat operations need
``Authorization: Bearer <access token>`` whose scopes allow the operation; the emulator's control
routes take either an HMAC signature or the access key itself in ``x-emulator-key``. On success
``request["principal"]`` holds the caller. Signatures and tokens are never logged.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from aiohttp import web

from ..errors import forbidden, unauthorized
from ..identity.store import IdentityStore
from . import Principal
from .hmac import check_access_key, is_hmac_request, verify_request
from .jwt import decode_access_token
from .scopes import AuthKind, auth_kind, scopes_allow

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
EMULATOR_KEY_HEADER = "x-emulator-key"


@dataclass(frozen=True)
class Credentials:
    access_key: str  # base64, as in the connection string
    access_key_bytes: bytes
    signing_key: bytes


async def _check_hmac(request: web.Request, credentials: Credentials, store: IdentityStore) -> None:
    verify_request(
        key=credentials.access_key_bytes,
        method=request.method,
        target=request.raw_path,
        headers=request.headers,
        body=await request.read(),
        now=store.clock(),
    )


def _bearer_principal(
    request: web.Request, operation_id: str, credentials: Credentials, store: IdentityStore
) -> Principal:
    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise unauthorized("An ACS access token is required: Authorization: Bearer <token>.")
    claims = decode_access_token(credentials.signing_key, token.strip(), now=store.clock())
    if claims.resource_id != store.resource_id:
        raise unauthorized("The access token was issued for another resource.")
    generation = store.token_generation(claims.raw_id)
    if generation is None:
        raise unauthorized("The identity of this access token has been deleted.")
    if claims.generation < generation:
        raise unauthorized("The access token has been revoked.")
    if not scopes_allow(operation_id, claims.scopes):
        raise forbidden(
            "The access token's scopes do not allow this operation"
            f" (token scopes: {','.join(sorted(claims.scopes)) or 'none'})."
        )
    return Principal(raw_id=claims.raw_id, scopes=claims.scopes)


def auth_middleware(credentials: Credentials, store: IdentityStore):
    """Build the middleware; ``store`` answers whether a token's identity and generation hold."""

    @web.middleware
    async def authenticate(request: web.Request, handler: Handler) -> web.StreamResponse:
        operation_id = request.match_info.route.name
        kind = auth_kind(operation_id)
        if kind is AuthKind.HMAC:
            await _check_hmac(request, credentials, store)
            request["principal"] = Principal(raw_id=None)
        elif kind is AuthKind.BEARER:
            request["principal"] = _bearer_principal(request, operation_id, credentials, store)
        elif kind is AuthKind.ACCESS_KEY:
            if is_hmac_request(request.headers):
                await _check_hmac(request, credentials, store)
            elif not check_access_key(
                request.headers.get(EMULATOR_KEY_HEADER), credentials.access_key
            ):
                raise unauthorized(
                    f"Emulator control routes need the access key in {EMULATOR_KEY_HEADER}"
                    " or an HMAC signature."
                )
            request["principal"] = Principal(raw_id=None)
        return await handler(request)

    return authenticate
