"""The user's own profile: the name everyone sees them under, and their time zone."""

from __future__ import annotations

from django.contrib.auth.models import AbstractBaseUser
from django.utils.translation import gettext as _

from chat.actions import ActionError, check_text
from chat.models import Profile
from chat.people import raw_id_of
from chat.relay.render import forget_names
from chat.timezones import zone_or_none

DISPLAY_NAME_MAX_LENGTH = 64


def profile_for(user: AbstractBaseUser) -> Profile:
    """The user's profile (an unsaved, empty one until they save it)."""
    return Profile.objects.filter(user=user).first() or Profile(user=user)


def check_display_name(name: str) -> str:
    name = " ".join(check_text(name or "", _("display name")).split())
    if len(name) > DISPLAY_NAME_MAX_LENGTH:
        raise ActionError(
            _("A display name can be at most %(max)d characters.")
            % {"max": DISPLAY_NAME_MAX_LENGTH}
        )
    return name


def check_time_zone(name: str) -> str:
    if name and zone_or_none(name) is None:
        raise ActionError(_("Unknown time zone."))
    return name


def do_update_profile(user: AbstractBaseUser, display_name: str, time_zone: str) -> Profile:
    """Save the profile; live events name the user afresh from now on (in this process at once,
    in others within ``chat.relay.render.NAME_TTL``). Names already stored in ACS (a participant's
    displayName, the senderDisplayName of messages sent) keep the old name; Kwebbel never shows
    those fields, and messages sent from now on carry the new one."""
    profile = profile_for(user)
    profile.display_name = check_display_name(display_name)
    profile.time_zone = check_time_zone(time_zone)
    profile.save()
    user.chat_profile = profile
    user.__dict__["_chat_profile"] = profile
    forget_names([raw_id_of(user)])
    return profile
