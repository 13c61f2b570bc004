"""English and Dutch: the catalogues, the browser's language, and switching it."""

from __future__ import annotations

import gettext
import re
import subprocess
from pathlib import Path

import pytest
from django.conf import settings as django_settings
from django.urls import reverse
from django.utils import translation

pytestmark = pytest.mark.django_db

LOCALE = Path(__file__).resolve().parents[2] / "locale"


def _catalogue(mo: Path) -> dict:
    with mo.open("rb") as handle:
        return gettext.GNUTranslations(handle)._catalog


def test_dutch_catalogue_is_complete_and_compiled(tmp_path):
    po_path = LOCALE / "nl" / "LC_MESSAGES" / "django.po"
    po = po_path.read_text(encoding="utf-8")
    # No entry may be left empty or fuzzy (the header is the one empty msgid). An empty first
    # line followed by continuation lines is a wrapped translation, not an empty one.
    entries = po.strip().split("\n\n")[1:]
    untranslated = [e for e in entries if re.search(r'^msgstr(\[\d\])? ""(?:\n(?!")|\Z)', e, re.M)]
    assert untranslated == []
    assert "#, fuzzy" not in po
    # The committed .mo must hold exactly what the .po says (file times mean nothing after a clone).
    fresh = tmp_path / "django.mo"
    subprocess.run(["msgfmt", "--check", "-o", str(fresh), str(po_path)], check=True)
    assert _catalogue(LOCALE / "nl" / "LC_MESSAGES" / "django.mo") == _catalogue(fresh)


def test_site_settings_enable_both_languages():
    assert "django.middleware.locale.LocaleMiddleware" in django_settings.MIDDLEWARE
    assert {code for code, _name in django_settings.LANGUAGES} == {"en", "nl"}
    assert LOCALE in [Path(p) for p in django_settings.LOCALE_PATHS]
    with translation.override("nl"):
        assert translation.gettext("Conversations") == "Gesprekken"


def test_language_follows_the_browser(make_site_user, signed_in):
    client = signed_in(make_site_user("anna"))
    dutch = client.get(reverse("chat:threads"), HTTP_ACCEPT_LANGUAGE="nl-NL,nl;q=0.9")
    assert "Je zit nog in geen enkel gesprek." in dutch.content.decode()
    english = client.get(reverse("chat:threads"), HTTP_ACCEPT_LANGUAGE="en")
    assert "You are not in any conversation yet." in english.content.decode()


def test_language_can_be_switched(make_site_user, signed_in):
    client = signed_in(make_site_user("anna"))
    response = client.post(
        reverse("set_language"), {"language": "nl", "next": reverse("chat:threads")}
    )
    assert response.status_code == 302
    body = client.get(reverse("chat:threads"), HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert "Nieuw gesprek" in body
    assert '<option value="nl" selected>' in body
