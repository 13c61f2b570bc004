"""ACS identities and chat tokens for site users and for Kwebbel's own service identity.

Every user gets one ACS identity the first time it is needed, and two kinds of token:

* the **server token** (scope ``chat``), which Kwebbel uses for the user's own actions through
  ``chat.gateway``. It never leaves the server, so Kwebbel's rules (who may remove whom, topic
  length, ...) cannot be undone with it from outside;
* the **browser token** (scope ``chat.join.limited``), which ``POST /tokens/`` hands to the
  user's own scripts: it can read and write messages but cannot add or remove participants,
  rename or delete threads.

Both are cached on the identity row and reused until less than ``REFRESH_MARGIN`` remains, so a
burst of requests costs one token issue. Refreshes run under a row lock (``select_for_update``;
on SQLite the IMMEDIATE transaction mode gives the same serialisation). Tokens are revoked on
sign-out, password change and deactivation (see tokens.signals), and the identity is deleted with
the user. ACS failures raise ``AcsError`` with a message fit for logs and API errors.
"""

import logging
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.models import AbstractBaseUser
from django.db import transaction
from django.utils import timezone

from tokens import acs
from tokens.acs import AcsError
from tokens.models import AcsIdentity

__all__ = [
    "AcsError",
    "AcsToken",
    "delete_acs_identity",
    "delete_identity",
    "get_browser_token",
    "get_or_create_identity",
    "get_service_identity",
    "get_service_token",
    "get_token",
    "parse_expires_on",
    "revoke_identity_tokens",
    "revoke_tokens",
]

logger = logging.getLogger(__name__)

SERVER_SCOPES = ["chat"]
BROWSER_SCOPES = ["chat.join.limited"]
# Matches the window in which the SDK's CommunicationTokenCredential refreshes proactively, so a
# token handed out here is never one the client would immediately refresh again.
REFRESH_MARGIN = timedelta(minutes=10)
SERVICE_NAME = "kwebbel"


@dataclass(frozen=True)
class AcsToken:
    token: str
    expires_on: datetime
    communication_user_id: str


@dataclass(frozen=True)
class _Kind:
    """Where one kind of token is cached on the identity row, and its scopes."""

    token_field: str
    expiry_field: str
    scopes: list[str]


SERVER = _Kind("token", "token_expires_on", SERVER_SCOPES)
BROWSER = _Kind("browser_token", "browser_token_expires_on", BROWSER_SCOPES)


def _now() -> datetime:
    """The current time; tests replace this (or pass ``now=``) to move the clock."""
    return timezone.now()


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


def _cached(identity: AcsIdentity, kind: _Kind, valid_until: datetime) -> AcsToken | None:
    token = getattr(identity, kind.token_field)
    expires_on = getattr(identity, kind.expiry_field)
    if token and expires_on is not None and expires_on > valid_until:
        return AcsToken(token, expires_on, identity.communication_user_id)
    return None


def _token_for(
    identity: AcsIdentity, kind: _Kind, now: datetime | None, rejected: str | None
) -> AcsToken:
    """A cached token with REFRESH_MARGIN left, else a fresh one; never ``rejected`` (a token ACS
    just refused: revoked elsewhere, so the cache still holds it in good faith)."""
    valid_until = (now or _now()) + REFRESH_MARGIN
    token = _cached(identity, kind, valid_until)
    if token is not None and token.token != rejected:
        return token
    with transaction.atomic():
        # Whoever waited on the lock re-reads the row and finds the token the first one issued.
        identity = AcsIdentity.objects.select_for_update().get(pk=identity.pk)
        token = _cached(identity, kind, valid_until)
        if token is None or token.token == rejected:
            raw_id = identity.communication_user_id
            value, expires_on = acs.issue_token(raw_id, kind.scopes, settings.ACS_TOKEN_LIFETIME)
            setattr(identity, kind.token_field, value)
            setattr(identity, kind.expiry_field, parse_expires_on(expires_on))
            identity.save(update_fields=[kind.token_field, kind.expiry_field])
            logger.info("Issued an ACS %s token for %s", "+".join(kind.scopes), raw_id)
            token = _cached(identity, kind, valid_until) or AcsToken(
                value, parse_expires_on(expires_on), raw_id
            )
        return token


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
            raw_id = acs.create_user()
            identity = AcsIdentity.objects.create(user_id=user.pk, communication_user_id=raw_id)
            logger.info("Created ACS identity %s for user %s", raw_id, user.pk)
        return identity


def get_token(
    user: AbstractBaseUser, *, now: datetime | None = None, rejected: str | None = None
) -> AcsToken:
    """The user's server token (``chat``), with at least ``REFRESH_MARGIN`` left; for
    ``chat.gateway`` only: it never leaves the server."""
    return _token_for(_identity(user), SERVER, now, rejected)


def get_browser_token(user: AbstractBaseUser, *, now: datetime | None = None) -> AcsToken:
    """The user's browser token (``chat.join.limited``), the one ``POST /tokens/`` returns."""
    return _token_for(_identity(user), BROWSER, now, None)


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
        acs.revoke_tokens(raw_id)
        fields = [
            SERVER.token_field,
            SERVER.expiry_field,
            BROWSER.token_field,
            BROWSER.expiry_field,
        ]
        for name in fields:
            setattr(identity, name, "" if name.endswith("token") else None)
        identity.tokens_revoked_on = now
        identity.save(update_fields=[*fields, "tokens_revoked_on"])
    logger.info("Revoked ACS tokens of %s", raw_id)


def delete_identity(user: AbstractBaseUser) -> None:
    """Forget the user's ACS identity; it is deleted in ACS once the transaction commits."""
    # The ACS call itself happens in the post_delete handler (tokens.signals), which also covers
    # identities removed by deleting the user (cascade) or through the admin.
    AcsIdentity.objects.filter(user_id=user.pk).delete()


def delete_acs_identity(communication_user_id: str) -> None:
    """Delete an identity in ACS, which also revokes its tokens and removes its data there."""
    acs.delete_user(communication_user_id)
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
    raw_id = acs.create_user()
    identity, created = AcsIdentity.objects.get_or_create(
        service_name=SERVICE_NAME, defaults={"communication_user_id": raw_id}
    )
    if created:
        logger.info("Created the Kwebbel service identity %s", raw_id)
    else:
        delete_acs_identity(raw_id)
    return identity


def get_service_token(*, now: datetime | None = None, rejected: str | None = None) -> AcsToken:
    """A ``chat`` token for Kwebbel's service identity, cached and refreshed like users' tokens."""
    return _token_for(_service_identity(), SERVER, now, rejected)
