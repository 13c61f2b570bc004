"""Naming the people behind ACS identities.

ACS only knows raw ids (`8:acs:...`). Names always come from the site's users, found through
the tokens app's mapping; ACS's own `displayName`/`senderDisplayName` fields are never used for
naming, since any token holder can put anything there.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from django.contrib.auth import get_user_model
from django.contrib.auth.models import AbstractBaseUser
from django.utils.translation import gettext as _

from tokens import services as token_services
from tokens.models import AcsIdentity


@dataclass(frozen=True)
class Person:
    """A thread participant as shown on a page."""

    raw_id: str
    user_id: int | None
    name: str


def display_name(user: AbstractBaseUser) -> str:
    """The name a site user is shown under: their full name, else their username."""
    full = user.get_full_name().strip() if hasattr(user, "get_full_name") else ""
    return full or user.get_username()


def raw_id_of(user: AbstractBaseUser) -> str:
    """The user's ACS raw id, creating the identity on first use."""
    return token_services.get_or_create_identity(user)


def service_raw_id() -> str:
    """Raw id of Kwebbel's own service identity (present in every thread, never shown)."""
    return token_services.get_service_identity()


def people_for(raw_ids: Iterable[str]) -> dict[str, Person]:
    """Map raw ids to people with one query; ids with no site user get a neutral name."""
    wanted = {r for r in raw_ids if r}
    rows = AcsIdentity.objects.filter(
        communication_user_id__in=wanted, user__isnull=False
    ).select_related("user")
    found = {
        row.communication_user_id: Person(
            row.communication_user_id, row.user.pk, display_name(row.user)
        )
        for row in rows
    }
    unknown = _("Unknown person")
    return {raw: found.get(raw) or Person(raw, None, unknown) for raw in wanted}


def users_by_raw_id(raw_ids: Iterable[str]) -> dict[str, AbstractBaseUser]:
    """Map raw ids to site users (ids with no user are left out)."""
    rows = AcsIdentity.objects.filter(
        communication_user_id__in=set(raw_ids), user__isnull=False
    ).select_related("user")
    return {row.communication_user_id: row.user for row in rows}


def site_users(exclude_ids: Iterable[int] = ()) -> list[AbstractBaseUser]:
    """Active site users someone can add to a thread, by username."""
    user_model = get_user_model()
    return list(
        user_model.objects.filter(is_active=True)
        .exclude(pk__in=list(exclude_ids))
        .order_by(user_model.USERNAME_FIELD)
    )
