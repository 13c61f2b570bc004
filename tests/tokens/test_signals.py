"""Tokens are revoked on sign-out, password change and deactivation (through the real pages)."""

import pytest
from azure.communication.chat import ChatClient, CommunicationTokenCredential
from azure.core.exceptions import ClientAuthenticationError
from django.test import Client
from django.urls import reverse

from tests.fixtures.site import TEST_PASSWORD
from tokens import services
from tokens.models import AcsIdentity

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("clear_cache")]


def assert_rejected_by_acs(acs_emulator, token: str) -> None:
    client = ChatClient(
        acs_emulator.endpoint,
        CommunicationTokenCredential(token),
        connection_verify=acs_emulator.ca_bundle,
    )
    with client, pytest.raises(ClientAuthenticationError):
        list(client.list_chat_threads())


def assert_accepted_by_acs(acs_emulator, token: str) -> None:
    client = ChatClient(
        acs_emulator.endpoint,
        CommunicationTokenCredential(token),
        connection_verify=acs_emulator.ca_bundle,
    )
    with client:
        list(client.list_chat_threads())


def sign_in(user) -> Client:
    client = Client()
    assert client.login(username=user.get_username(), password=TEST_PASSWORD)
    return client


def test_sign_out_revokes_the_token(acs_settings, make_site_user):
    user = make_site_user()
    client = sign_in(user)
    old = client.post("/tokens/").json()["token"]
    assert_accepted_by_acs(acs_settings, old)

    response = client.post(reverse("logout"))

    assert response.status_code == 302
    assert_rejected_by_acs(acs_settings, old)
    assert client.post("/tokens/").status_code == 401
    # Signing in again gives a new, working token.
    new = sign_in(user).post("/tokens/").json()["token"]
    assert new != old
    assert_accepted_by_acs(acs_settings, new)


def test_sign_out_without_identity_costs_no_acs_call(acs_settings, acs_counts, make_site_user):
    client = sign_in(make_site_user())
    client.post(reverse("logout"))
    assert acs_counts() == {}


def test_sign_out_succeeds_when_acs_fails(acs_settings, settings, make_site_user, caplog):
    user = make_site_user()
    client = sign_in(user)
    client.post("/tokens/")
    settings.ACS_CONNECTION_STRING = f"endpoint={acs_settings.endpoint}/;accesskey=d3Jvbmc="

    response = client.post(reverse("logout"))

    assert response.status_code == 302
    assert "_auth_user_id" not in client.session
    assert f"Could not revoke the ACS tokens of user {user.pk} after sign-out" in caplog.text


def test_password_change_page_revokes_tokens(
    acs_settings, make_site_user, django_capture_on_commit_callbacks
):
    user = make_site_user()
    client = sign_in(user)
    old = client.post("/tokens/").json()["token"]

    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            reverse("password_change"),
            {
                "old_password": TEST_PASSWORD,
                "new_password1": "a-new-long-passphrase-42",
                "new_password2": "a-new-long-passphrase-42",
            },
        )

    assert response.status_code == 302
    assert_rejected_by_acs(acs_settings, old)
    # Still signed in (Django keeps the session), and a refresh gives a working token.
    new = client.post("/tokens/").json()["token"]
    assert_accepted_by_acs(acs_settings, new)


def test_set_password_anywhere_revokes_tokens(
    acs_settings, make_site_user, django_capture_on_commit_callbacks
):
    user = make_site_user()
    old = services.get_token(user).token

    with django_capture_on_commit_callbacks(execute=True):
        user.set_password("another-passphrase-77")
        user.save()

    assert_rejected_by_acs(acs_settings, old)


def test_deactivation_revokes_tokens(
    acs_settings, make_site_user, django_user_model, django_capture_on_commit_callbacks
):
    user = make_site_user()
    old = services.get_token(user).token

    with django_capture_on_commit_callbacks(execute=True):
        fresh = django_user_model.objects.get(pk=user.pk)
        fresh.is_active = False
        fresh.save()

    assert_rejected_by_acs(acs_settings, old)


def test_unrelated_saves_do_not_revoke(
    acs_settings, acs_counts, make_site_user, django_capture_on_commit_callbacks
):
    user = make_site_user()
    token = services.get_token(user).token

    with django_capture_on_commit_callbacks(execute=True):
        user.first_name = "Alice"
        user.save()
        user.email = "alice@example.com"
        user.save(update_fields=["email"])
        sign_in(user)  # updates last_login

    assert acs_counts()["CommunicationIdentity_RevokeAccessTokens"] == 0
    assert AcsIdentity.objects.get(user=user).token == token
    assert_accepted_by_acs(acs_settings, token)
