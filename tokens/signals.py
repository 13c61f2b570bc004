"""Keep ACS in step with the site's accounts.

Tokens are revoked when a user signs out, changes password (however it happens: the password
change page, the admin, ``changepassword``) or is deactivated; the ACS identity is deleted once
its row is gone (user deleted, or identity removed in the admin). These run after the account
change is committed and never block it: an ACS failure is logged and the account change stands.
"""

import logging
from functools import partial

from django.contrib.auth import get_user_model
from django.contrib.auth.signals import user_logged_out
from django.db import transaction
from django.db.models.signals import post_delete, post_init, post_save
from django.dispatch import Signal

from tokens import services
from tokens.models import AcsIdentity

logger = logging.getLogger(__name__)

# Sent (after the commit) when a user's password changed or the user was deactivated, with
# ``user`` and ``reason``: the user's other sessions no longer sign them in.
credentials_changed = Signal()

# Attribute on user instances holding (password hash, is_active) as loaded or last saved.
_SAVED_STATE = "_kwebbel_saved_auth_state"


def connect() -> None:
    user_model = get_user_model()
    post_init.connect(_remember_auth_state, sender=user_model, dispatch_uid="tokens.remember")
    post_save.connect(_revoke_on_auth_change, sender=user_model, dispatch_uid="tokens.save")
    user_logged_out.connect(_revoke_on_logout, dispatch_uid="tokens.logout")
    post_delete.connect(_delete_in_acs, sender=AcsIdentity, dispatch_uid="tokens.delete")


def _auth_state(user) -> tuple[str | None, bool | None]:
    # Read from __dict__ so that deferred fields (e.g. `.only("id")`) cost no query here.
    return user.__dict__.get("password"), user.__dict__.get("is_active")


def _remember_auth_state(sender, instance, **kwargs) -> None:
    setattr(instance, _SAVED_STATE, _auth_state(instance))


def _revoke_on_auth_change(sender, instance, created, update_fields=None, **kwargs) -> None:
    old_password, old_active = getattr(instance, _SAVED_STATE, (None, None))
    new_password, new_active = _auth_state(instance)
    setattr(instance, _SAVED_STATE, (new_password, new_active))
    if created:
        return
    if update_fields is not None and not {"password", "is_active"} & set(update_fields):
        return
    # A changed hash also comes from Django upgrading the hasher at sign-in; revoking then is
    # harmless (clients fetch a new token), missing a real password change would not be.
    password_changed = old_password is not None and new_password != old_password
    deactivated = bool(old_active) and new_active is False
    if password_changed or deactivated:
        reason = "password change" if password_changed else "deactivation"
        transaction.on_commit(partial(_credentials_changed, instance, reason))


def _credentials_changed(user, reason: str) -> None:
    _revoke_quietly(user, reason)
    credentials_changed.send(sender=type(user), user=user, reason=reason)


def _revoke_on_logout(sender, request, user, **kwargs) -> None:
    if user is not None:
        _revoke_quietly(user, "sign-out")


def _revoke_quietly(user, reason: str) -> None:
    try:
        services.revoke_tokens(user)
    except services.AcsError:
        # Already logged with the ACS details; the account change must not fail because of ACS.
        logger.error("Could not revoke the ACS tokens of user %s after %s", user.pk, reason)


def _delete_in_acs(sender, instance: AcsIdentity, **kwargs) -> None:
    transaction.on_commit(partial(_delete_quietly, instance.communication_user_id))


def _delete_quietly(communication_user_id: str) -> None:
    try:
        services.delete_acs_identity(communication_user_id)
    except services.AcsError:
        logger.error("ACS identity %s is orphaned: deleting it failed", communication_user_id)
