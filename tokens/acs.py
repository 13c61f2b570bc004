"""Where Kwebbel meets the ACS configuration and the Identity SDK: the connection string, the CA
setting, and the one place that calls ``azure-communication-identity``. Settings are read on every
call, so tests can switch between the emulator and other configurations with
``override_settings``. ``chat.gateway`` is the Chat SDK's counterpart.
"""

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from functools import lru_cache
from typing import Any

from azure.communication.identity import CommunicationIdentityClient, CommunicationUserIdentifier
from azure.core.exceptions import AzureError
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

logger = logging.getLogger(__name__)


class AcsNotConfigured(ImproperlyConfigured):
    """ACS_CONNECTION_STRING is empty or malformed."""


class AcsError(Exception):
    """ACS is not configured, cannot be reached, or refused a call."""


def parse_connection_string(value: str) -> tuple[str, str]:
    """Return ``(endpoint, access_key)`` from ``endpoint=https://host/;accesskey=<base64>``.

    Follows the SDKs' own parsing: parts split on ";", each at its first "=", names
    case-insensitive; the endpoint always becomes ``https://host[:port]`` (the SDKs ignore the
    given scheme and always use HTTPS).
    """
    parts: dict[str, str] = {}
    for part in value.split(";"):
        name, sep, item = part.strip().partition("=")
        if sep:
            parts[name.strip().lower()] = item.strip()
    endpoint, access_key = parts.get("endpoint", ""), parts.get("accesskey", "")
    host = endpoint.rstrip("/").split("//", 1)[-1]
    if not host or not access_key:
        raise AcsNotConfigured(
            "ACS_CONNECTION_STRING must look like "
            "'endpoint=https://<resource>.communication.azure.com/;accesskey=<base64 key>'."
        )
    return f"https://{host}", access_key


def connection_string() -> str:
    value = settings.ACS_CONNECTION_STRING
    if not value:
        raise AcsNotConfigured(
            "ACS_CONNECTION_STRING is not set: configure an Azure Communication Services "
            "resource or start the local emulator (`make run` does)."
        )
    return value


def endpoint() -> str:
    """The ACS endpoint, ``https://host[:port]`` without a trailing slash."""
    return parse_connection_string(connection_string())[0]


def client_options() -> dict[str, Any]:
    """Keyword arguments every SDK client gets: the extra CA bundle when one is configured."""
    if settings.ACS_CA_BUNDLE:
        return {"connection_verify": settings.ACS_CA_BUNDLE}
    return {}


def identity_client() -> CommunicationIdentityClient:
    """The Identity client for the configured resource (HMAC-signed with the access key)."""
    value = connection_string()
    parse_connection_string(value)  # a clear error before the SDK's less helpful one
    return _identity_client(value, settings.ACS_CA_BUNDLE)


# Keyed by the settings it depends on, so a changed configuration gets a new client while the
# unchanged one keeps its connection pool (the SDK client has no close()).
@lru_cache(maxsize=4)
def _identity_client(value: str, ca_bundle: str | None) -> CommunicationIdentityClient:
    options = {"connection_verify": ca_bundle} if ca_bundle else {}
    return CommunicationIdentityClient.from_connection_string(value, **options)


@contextmanager
def _identity_call(operation: str, communication_user_id: str = "") -> Iterator[None]:
    """Turn SDK and configuration failures into logged ``AcsError``s naming the operation."""
    target = f" for {communication_user_id}" if communication_user_id else ""
    try:
        yield
    except AcsNotConfigured as exc:
        logger.error("ACS %s%s: %s", operation, target, exc)
        raise AcsError(str(exc)) from exc
    except AzureError as exc:
        # The SDK's message names the status and ACS error code; never log tokens or keys.
        logger.error("ACS %s%s failed: %s", operation, target, exc.message)
        raise AcsError(f"Azure Communication Services {operation} failed.") from exc


def create_user() -> str:
    """A new ACS identity (CommunicationIdentity_Create); its raw id."""
    with _identity_call("identity creation"):
        return identity_client().create_user().raw_id


def issue_token(
    communication_user_id: str, scopes: list[str], lifetime: timedelta
) -> tuple[str, object]:
    """(token, expires_on as the SDK gives it) for an identity (IssueAccessToken)."""
    with _identity_call("token issue", communication_user_id):
        issued = identity_client().get_token(
            CommunicationUserIdentifier(communication_user_id), scopes, token_expires_in=lifetime
        )
    return issued.token, issued.expires_on


def revoke_tokens(communication_user_id: str) -> None:
    """Revoke every token of an identity (CommunicationIdentity_RevokeAccessTokens)."""
    with _identity_call("token revocation", communication_user_id):
        identity_client().revoke_tokens(CommunicationUserIdentifier(communication_user_id))


def delete_user(communication_user_id: str) -> None:
    """Delete an identity, its tokens and its data (CommunicationIdentity_Delete)."""
    with _identity_call("identity deletion", communication_user_id):
        identity_client().delete_user(CommunicationUserIdentifier(communication_user_id))
