"""ACS identities and chat tokens for site users and for Kwebbel's own service identity.

Every user gets one ACS identity the first time it is needed. Tokens (scope ``chat``) are cached
on the identity row and reused until less than ``REFRESH_MARGIN`` remains, so a burst of requests
costs one token issue. Refreshes run under a row lock (``select_for_update``; on SQLite the
IMMEDIATE transaction mode gives the same serialisation). Tokens are revoked on sign-out,
password change and deactivation (see tokens.signals), and the identity is deleted with the user.

ACS failures raise ``AcsError`` with a message fit for logs and API errors.
"""

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from azure.core.exceptions import AzureError
from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.models import AbstractBaseUser
from django.db import transaction
from django.utils import timezone

from tokens import acs
from tokens.models import AcsIdentity

logger = logging.getLogger(__name__)

SCOPES = ["chat"]
# Matches the window in which the SDK's CommunicationTokenCredential refreshes proactively, so a
# token handed out here is never one the client would immediately refresh again.
REFRESH_MARGIN = timedelta(minutes=10)
SERVICE_NAME = "kwebbel"


class AcsError(Exception):
    """ACS is not configured, cannot be reached, or refused a call."""


@dataclass(frozen=True)
class AcsToken:
    token: str
    expires_on: datetime
    communication_user_id: str


def _now() -> datetime:
    """The current time; tests replace this (or pass ``now=``) to move the clock."""
    return timezone.now()


@contextmanager
def _acs_call(operation: str, communication_user_id: str = "") -> Iterator[None]:
    """Turn SDK and configuration failures into logged ``AcsError``s naming the operation."""
    target = f" for {communication_user_id}" if communication_user_id else ""
    try:
        yield
    except acs.AcsNotConfigured as exc:
        logger.error("ACS %s%s: %s", operation, target, exc)
        raise AcsError(str(exc)) from exc
    except AzureError as exc:
        # The SDK's message names the status and ACS error code; never log tokens or keys.
        logger.error("ACS %s%s failed: %s", operation, target, exc.message)
        raise AcsError(f"Azure Communication Services {operation} failed.") from exc


def parse_expires_on(value: object) -> datetime:
    """An aware datetime, in whole seconds, from the Identity SDK's ``expires_on``.

    Identity SDK 1.5.0 returns the service's string (e.g. ``2023-07-06T22:20:32.5917508+00:00``)
    instead of the documented epoch seconds; accept both in case a later version fixes it.
    Fractions are dropped: the token's ``exp`` claim, which ACS enforces, is whole seconds.
    """
    if isinstance(value, int | float):
        parsed = datetime.fromtimestamp(value, tz=UTC)
    elif isinstance(value, datetime):
        parsed = value
    elif isinstance(value, str):
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    else:
        raise TypeError(f"unexpected expires_on {value!r}")
    if timezone.is_naive(parsed):
        parsed = parsed.replace(tzinfo=UTC)
    return parsed.replace(microsecond=0)


def _create_acs_identity() -> str:
    with _acs_call("identity creation"):
        return acs.identity_client().create_user().raw_id


def _issue(identity: AcsIdentity) -> None:
    """Issue a fresh token and store it on the (locked) row."""
    raw_id = identity.communication_user_id
    with _acs_call("token issue", raw_id):
        access_token = acs.identity_client().get_token(
            acs.user_identifier(raw_id), SCOPES, token_expires_in=settings.ACS_TOKEN_LIFETIME
        )
    identity.token = access_token.token
    identity.token_expires_on = parse_expires_on(access_token.expires_on)
    identity.save(update_fields=["token", "token_expires_on"])
    logger.info("Issued an ACS token for %s (expires %s)", raw_id, identity.token_expires_on)


def _as_token(identity: AcsIdentity) -> AcsToken:
    return AcsToken(identity.token, identity.token_expires_on, identity.communication_user_id)


def _token_for(identity: AcsIdentity, now: datetime | None) -> AcsToken:
    now = now or _now()
    if identity.has_token_valid_until(now + REFRESH_MARGIN):
        return _as_token(identity)
    with transaction.atomic():
        # Whoever waited on the lock re-reads the row and finds the token the first one issued.
        identity = AcsIdentity.objects.select_for_update().get(pk=identity.pk)
        if not identity.has_token_valid_until(now + REFRESH_MARGIN):
            _issue(identity)
        return _as_token(identity)


# --- Site users --------------------------------------------------------------------------------


def get_or_create_identity(user: AbstractBaseUser) -> str:
    """The user's ACS raw id (``8:acs:...``), creating the ACS identity on first use."""
    return _identity(user).communication_user_id


def _identity(user: AbstractBaseUser) -> AcsIdentity:
    identity = AcsIdentity.objects.filter(user_id=user.pk).first()
    if identity is not None:
        return identity
    with transaction.atomic():
        # Locking the user row makes concurrent first requests wait here instead of each
        # creating an ACS identity.
        get_user_model().objects.select_for_update().filter(pk=user.pk).first()
        identity = AcsIdentity.objects.filter(user_id=user.pk).first()
        if identity is None:
            raw_id = _create_acs_identity()
            identity = AcsIdentity.objects.create(user_id=user.pk, communication_user_id=raw_id)
            logger.info("Created ACS identity %s for user %s", raw_id, user.pk)
        return identity


def get_token(user: AbstractBaseUser, *, now: datetime | None = None) -> AcsToken:
    """A ``chat`` token for the user with at least ``REFRESH_MARGIN`` left, issued if needed."""
    return _token_for(_identity(user), now)


def revoke_tokens(user: AbstractBaseUser, *, now: datetime | None = None) -> None:
    """Revoke every ACS token of the user and forget the cached one (no-op without identity)."""
    identity = AcsIdentity.objects.filter(user_id=user.pk).first()
    if identity is not None:
        revoke_identity_tokens(identity, now=now)


def revoke_identity_tokens(identity: AcsIdentity, *, now: datetime | None = None) -> None:
    """Revoke every ACS token of one identity (user or service) and clear the cached token."""
    now = now or _now()
    with transaction.atomic():
        # Under the row lock, so no refresh can slip a token in between the revocation and
        # clearing the cache (it would be cached while ACS already rejects it).
        identity = AcsIdentity.objects.select_for_update().get(pk=identity.pk)
        raw_id = identity.communication_user_id
        with _acs_call("token revocation", raw_id):
            acs.identity_client().revoke_tokens(acs.user_identifier(raw_id))
        identity.token = ""
        identity.token_expires_on = None
        identity.tokens_revoked_on = now
        identity.save(update_fields=["token", "token_expires_on", "tokens_revoked_on"])
    logger.info("Revoked ACS tokens of %s", raw_id)


def delete_identity(user: AbstractBaseUser) -> None:
    """Forget the user's ACS identity; it is deleted in ACS once the transaction commits."""
    # The ACS call itself happens in the post_delete handler (tokens.signals), which also covers
    # identities removed by deleting the user (cascade) or through the admin.
    AcsIdentity.objects.filter(user_id=user.pk).delete()


def delete_acs_identity(communication_user_id: str) -> None:
    """Delete an identity in ACS, which also revokes its tokens and removes its data there."""
    with _acs_call("identity deletion", communication_user_id):
        acs.identity_client().delete_user(acs.user_identifier(communication_user_id))
    logger.info("Deleted ACS identity %s", communication_user_id)


# --- Kwebbel's service identity ----------------------------------------------------------------


def get_service_identity() -> str:
    """The raw id of Kwebbel's own ACS identity (used server-side, e.g. by the relay)."""
    return _service_identity().communication_user_id


def _service_identity() -> AcsIdentity:
    identity = AcsIdentity.objects.filter(service_name=SERVICE_NAME).first()
    if identity is not None:
        return identity
    # There is no row to lock yet; if two processes race, the unique service_name lets one insert
    # win and the loser deletes the ACS identity it created.
    raw_id = _create_acs_identity()
    identity, created = AcsIdentity.objects.get_or_create(
        service_name=SERVICE_NAME, defaults={"communication_user_id": raw_id}
    )
    if created:
        logger.info("Created the Kwebbel service identity %s", raw_id)
    else:
        delete_acs_identity(raw_id)
    return identity


def get_service_token(*, now: datetime | None = None) -> AcsToken:
    """A ``chat`` token for Kwebbel's service identity, cached and refreshed like users' tokens."""
    return _token_for(_service_identity(), now)
