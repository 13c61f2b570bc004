"""Where Kwebbel meets the ACS configuration: the connection string, the CA setting and the one
place that builds an Identity SDK client. Settings are read on every call, so tests can switch
between the emulator and other configurations with ``override_settings``.
"""

from functools import lru_cache
from typing import Any

from azure.communication.identity import CommunicationIdentityClient, CommunicationUserIdentifier
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured


class AcsNotConfigured(ImproperlyConfigured):
    """ACS_CONNECTION_STRING is empty or malformed."""


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


def user_identifier(communication_user_id: str) -> CommunicationUserIdentifier:
    return CommunicationUserIdentifier(communication_user_id)
