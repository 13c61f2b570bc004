"""Naming the people behind ACS identities.

ACS only knows raw ids (`8:acs:...`). Names always come from the site's users, found through
the tokens app's mapping; ACS's own `displayName`/`senderDisplayName` fields are never used for
naming, since any token holder can put anything there.
"""

from __future__ import annotations

import zlib
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from django.contrib.auth import get_user_model
from django.contrib.auth.models import AbstractBaseUser
from django.core.exceptions import ObjectDoesNotExist
from django.utils.translation import gettext as _

from tokens import services as token_services
from tokens.models import AcsIdentity

# Avatar colours (CSS classes avatar--0 .. avatar--7, each AA-contrasted with white text).
AVATAR_COLOURS = 8


@dataclass(frozen=True)
class Person:
    """A thread participant as shown on a page."""

    raw_id: str
    user_id: int | None
    name: str

    @property
    def initials(self) -> str:
        return initials(self.name)

    @property
    def colour(self) -> int:
        return colour_of(self.raw_id)


def load_profile(user: AbstractBaseUser) -> Any:
    """The user's profile (None without one), remembered on the user object: code on the event
    loop (the websocket's actions) may then ask for the name without a database query."""
    if "_chat_profile" not in user.__dict__:
        try:
            user.__dict__["_chat_profile"] = user.chat_profile
        except (AttributeError, ObjectDoesNotExist):
            user.__dict__["_chat_profile"] = None
    return user.__dict__["_chat_profile"]


def profile_name(user: AbstractBaseUser) -> str:
    """The display name the user chose on their profile page ("" if none)."""
    profile = load_profile(user)
    return profile.display_name.strip() if profile is not None else ""


def profile_time_zone(user: AbstractBaseUser) -> str:
    """The time zone the user chose on their profile page ("" if none: the browser's)."""
    profile = load_profile(user)
    return profile.time_zone if profile is not None else ""


def display_name(user: AbstractBaseUser) -> str:
    """The name a site user is shown under, everywhere (ACS's sender display name too): the one
    chosen on their profile, else their full name, else their username."""
    full = user.get_full_name().strip() if hasattr(user, "get_full_name") else ""
    return profile_name(user) or full or user.get_username()


def initials(name: str) -> str:
    """Up to two letters for an avatar: "Alice de Vries" -> "AV", "bob" -> "B"."""
    words = [w for w in name.replace("_", " ").replace(".", " ").split() if w[:1].isalnum()]
    if not words:
        return "?"
    letters = words[0][0] + (words[-1][0] if len(words) > 1 else "")
    return letters.upper()


def colour_of(raw_id: str) -> int:
    """A person's avatar colour: stable for their identity, the same on every page."""
    return zlib.crc32(raw_id.encode("utf-8", "surrogatepass")) % AVATAR_COLOURS


def known_raw_id(user: AbstractBaseUser) -> str | None:
    """The user's ACS raw id if they have an identity already (no ACS call, none is made)."""
    return (
        AcsIdentity.objects.filter(user_id=user.pk)
        .values_list("communication_user_id", flat=True)
        .first()
    )


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
    ).select_related("user", "user__chat_profile")
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
    ).select_related("user", "user__chat_profile")
    return {row.communication_user_id: row.user for row in rows}


def site_users(exclude_ids: Iterable[int] = ()) -> list[AbstractBaseUser]:
    """Active site users someone can add to a thread, by username."""
    user_model = get_user_model()
    return list(
        user_model.objects.filter(is_active=True)
        .exclude(pk__in=list(exclude_ids))
        .select_related("chat_profile")
        .order_by(user_model.USERNAME_FIELD)
    )
