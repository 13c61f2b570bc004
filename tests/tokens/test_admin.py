"""The admin lists ACS identities (never their tokens) and revokes tokens on request."""

import pytest
from django.test import Client

from tokens import services
from tokens.models import AcsIdentity

pytestmark = pytest.mark.django_db


@pytest.fixture
def staff_client(django_user_model) -> Client:
    client = Client()
    client.force_login(django_user_model.objects.create_superuser("boss", password="x"))
    return client


def test_identities_are_listed_without_tokens(acs_settings, staff_client, make_site_user):
    token = services.get_token(make_site_user("alice"))

    page = staff_client.get("/admin/tokens/acsidentity/")

    assert page.status_code == 200
    assert token.communication_user_id in page.content.decode()
    assert token.token not in page.content.decode()
    identity = AcsIdentity.objects.get()
    detail = staff_client.get(f"/admin/tokens/acsidentity/{identity.pk}/change/").content.decode()
    assert token.token not in detail
    assert staff_client.get("/admin/tokens/acsidentity/add/").status_code == 403


def test_revoke_tokens_action(acs_settings, acs_counts, staff_client, make_site_user):
    services.get_token(make_site_user())
    identity = AcsIdentity.objects.get()

    response = staff_client.post(
        "/admin/tokens/acsidentity/",
        {"action": "revoke_tokens", "_selected_action": [identity.pk]},
        follow=True,
    )

    assert "Revoked the tokens of 1 identities." in response.content.decode()
    assert acs_counts()["CommunicationIdentity_RevokeAccessTokens"] == 1
    identity.refresh_from_db()
    assert identity.token == "" and identity.tokens_revoked_on is not None
