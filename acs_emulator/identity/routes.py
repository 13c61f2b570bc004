"""HTTP layer of the Identity API: parse the request, call the store, render the spec's shapes.

Authentication (HMAC with the access key) and the api-version check happen in the middlewares.
"""

from __future__ import annotations

from datetime import UTC, datetime

from aiohttp import web

from ..errors import AcsError, bad_request
from ..http import empty_response, json_response, read_json
from .store import IdentityStore, check_expires_in_minutes, check_scopes

IDENTITY_STORE = web.AppKey("identity_store", IdentityStore)

TEAMS_EXCHANGE_UNSUPPORTED = (
    "Teams token exchange is not supported by the emulator: it cannot verify Azure AD tokens "
    "of Teams users."
)


def format_expires_on(moment: datetime) -> str:
    """Identity's own format, e.g. ``2023-10-10T21:39:39.3244584+00:00`` (7 fractional digits)."""
    utc = moment.astimezone(UTC).replace(tzinfo=None)
    return utc.isoformat(timespec="microseconds") + "0+00:00"


def _store(request: web.Request) -> IdentityStore:
    return request.app[IDENTITY_STORE]


def _object_body(body: object) -> dict:
    if not isinstance(body, dict):
        raise bad_request("The request body must be a JSON object.")
    return body


async def create_identity(request: web.Request) -> web.Response:
    """CommunicationIdentity_Create: 201, with a token when ``createTokenWithScopes`` is given."""
    store = _store(request)
    body = _object_body(await read_json(request, required=False))
    minutes = check_expires_in_minutes(body.get("expiresInMinutes"))
    scopes = body.get("createTokenWithScopes")
    if scopes is not None:
        scopes = check_scopes(scopes, field="createTokenWithScopes")
    now = store.clock()
    raw_id = store.create_identity(now)
    result: dict = {"identity": {"id": raw_id}}
    if scopes is not None:
        token, expires_on = store.issue_access_token(raw_id, scopes, minutes, now)
        result["accessToken"] = {"token": token, "expiresOn": format_expires_on(expires_on)}
    return json_response(result, status=201)


async def issue_access_token(request: web.Request) -> web.Response:
    """CommunicationIdentity_IssueAccessToken: 200 ``{"token", "expiresOn"}``."""
    store = _store(request)
    body = _object_body(await read_json(request))
    if "scopes" not in body:
        raise bad_request("'scopes' is required.", target="scopes")
    scopes = check_scopes(body["scopes"])
    minutes = check_expires_in_minutes(body.get("expiresInMinutes"))
    token, expires_on = store.issue_access_token(
        request.match_info["id"], scopes, minutes, store.clock()
    )
    return json_response({"token": token, "expiresOn": format_expires_on(expires_on)})


async def revoke_access_tokens(request: web.Request) -> web.Response:
    """CommunicationIdentity_RevokeAccessTokens: 204."""
    store = _store(request)
    store.revoke_access_tokens(request.match_info["id"], store.clock())
    return empty_response(204)


async def delete_identity(request: web.Request) -> web.Response:
    """CommunicationIdentity_Delete: 204."""
    store = _store(request)
    store.delete_identity(request.match_info["id"], store.clock())
    return empty_response(204)


async def exchange_teams_user_access_token(request: web.Request) -> web.Response:
    """CommunicationIdentity_ExchangeTeamsUserAccessToken: always refused (401).

    The fields are validated first, like the service does, so a malformed request still gets 400.
    """
    body = _object_body(await read_json(request))
    for field in ("token", "appId", "userId"):
        if not isinstance(body.get(field), str) or not body[field]:
            raise bad_request(f"'{field}' is required.", target=field)
    raise AcsError(401, "TeamsTokenExchangeNotSupported", TEAMS_EXCHANGE_UNSUPPORTED)


def add_identity_routes(app: web.Application, store: IdentityStore) -> None:
    app[IDENTITY_STORE] = store
    app.router.add_post("/identities", create_identity, name="CommunicationIdentity_Create")
    app.router.add_delete("/identities/{id}", delete_identity, name="CommunicationIdentity_Delete")
    app.router.add_post(
        "/identities/{id}/:issueAccessToken",
        issue_access_token,
        name="CommunicationIdentity_IssueAccessToken",
    )
    app.router.add_post(
        "/identities/{id}/:revokeAccessTokens",
        revoke_access_tokens,
        name="CommunicationIdentity_RevokeAccessTokens",
    )
    app.router.add_post(
        "/teamsUser/:exchangeAccessToken",
        exchange_teams_user_access_token,
        name="CommunicationIdentity_ExchangeTeamsUserAccessToken",
    )
