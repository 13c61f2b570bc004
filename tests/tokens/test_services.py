"""tokens.services against the running emulator: identities, caching, refresh, revocation."""

from datetime import UTC, datetime, timedelta

import pytest
from azure.communication.chat import ChatClient, CommunicationTokenCredential
from azure.core.exceptions import ClientAuthenticationError

from tokens import services
from tokens.models import AcsIdentity

pytestmark = pytest.mark.django_db


def list_threads_with(acs_emulator, token: str) -> list:
    """Use ``token`` for a chat call the way a browser would, straight against ACS."""
    client = ChatClient(
        acs_emulator.endpoint,
        CommunicationTokenCredential(token),
        connection_verify=acs_emulator.ca_bundle,
    )
    with client:
        return list(client.list_chat_threads())


def test_identity_is_created_once_and_stored(acs_settings, acs_counts, make_site_user):
    user = make_site_user()

    first = services.get_or_create_identity(user)
    second = services.get_or_create_identity(user)

    assert first == second
    assert first.startswith("8:acs:")
    assert AcsIdentity.objects.get(user=user).communication_user_id == first
    assert acs_counts()["CommunicationIdentity_Create"] == 1


def test_users_get_distinct_identities(acs_settings, make_site_user):
    alice, bob = make_site_user(), make_site_user()
    assert services.get_or_create_identity(alice) != services.get_or_create_identity(bob)


def test_token_is_cached_until_close_to_expiry(acs_settings, acs_counts, make_site_user):
    user = make_site_user()

    tokens = {services.get_token(user).token for _ in range(20)}

    assert len(tokens) == 1
    counts = acs_counts()
    assert counts["CommunicationIdentity_Create"] == 1
    assert counts["CommunicationIdentity_IssueAccessToken"] == 1


def test_token_has_chat_scope_and_works_for_chat(acs_settings, make_site_user):
    import jwt

    token = services.get_token(make_site_user())

    claims = jwt.decode(token.token, options={"verify_signature": False})
    assert claims["acsScope"].split(",") == ["chat"]
    assert token.expires_on == datetime.fromtimestamp(claims["exp"], tz=UTC)
    assert list_threads_with(acs_settings, token.token) == []


def test_token_lifetime_follows_the_setting(acs_settings, make_site_user):
    before = datetime.now(UTC)
    token = services.get_token(make_site_user())
    lifetime = token.expires_on - before
    assert timedelta(minutes=55) < lifetime <= timedelta(minutes=61)


def test_token_near_expiry_is_refreshed(acs_settings, acs_counts, make_site_user):
    user = make_site_user()
    old = services.get_token(user)
    # As if the cached token had only five minutes left.
    AcsIdentity.objects.filter(user=user).update(
        token_expires_on=datetime.now(UTC) + timedelta(minutes=5)
    )

    new = services.get_token(user)

    # (Two tokens issued within the same second may be identical, so compare expiries.)
    assert acs_counts()["CommunicationIdentity_IssueAccessToken"] == 2
    assert new.expires_on > datetime.now(UTC) + services.REFRESH_MARGIN
    assert AcsIdentity.objects.get(user=user).token_expires_on == new.expires_on
    assert new.expires_on >= old.expires_on
    assert services.get_token(user) == new  # and the new one is cached
    assert acs_counts()["CommunicationIdentity_IssueAccessToken"] == 2


def test_injected_clock_decides_freshness(acs_settings, acs_counts, make_site_user):
    user = make_site_user()
    token = services.get_token(user)

    just_fresh = token.expires_on - services.REFRESH_MARGIN - timedelta(seconds=1)
    assert services.get_token(user, now=just_fresh).token == token.token
    assert acs_counts()["CommunicationIdentity_IssueAccessToken"] == 1

    too_late = token.expires_on - services.REFRESH_MARGIN + timedelta(seconds=1)
    services.get_token(user, now=too_late)
    assert acs_counts()["CommunicationIdentity_IssueAccessToken"] == 2


def test_revoke_tokens_makes_acs_reject_them(acs_settings, make_site_user):
    user = make_site_user()
    old = services.get_token(user).token

    services.revoke_tokens(user)

    with pytest.raises(ClientAuthenticationError):
        list_threads_with(acs_settings, old)
    identity = AcsIdentity.objects.get(user=user)
    assert identity.token == "" and identity.tokens_revoked_on is not None
    # The next request gets a new token that works.
    new = services.get_token(user).token
    assert new != old
    assert list_threads_with(acs_settings, new) == []


def test_revoke_without_identity_calls_nothing(settings, make_site_user):
    settings.ACS_CONNECTION_STRING = ""  # any ACS call would fail
    services.revoke_tokens(make_site_user())


def test_deleting_the_user_deletes_the_acs_identity(
    acs_settings, acs_counts, make_site_user, django_capture_on_commit_callbacks
):
    user = make_site_user()
    token = services.get_token(user).token

    with django_capture_on_commit_callbacks(execute=True):
        user.delete()

    assert acs_counts()["CommunicationIdentity_Delete"] == 1
    assert not AcsIdentity.objects.exists()
    with pytest.raises(ClientAuthenticationError):
        list_threads_with(acs_settings, token)


def test_delete_identity_keeps_the_user(
    acs_settings, acs_counts, make_site_user, django_capture_on_commit_callbacks
):
    user = make_site_user()
    first = services.get_or_create_identity(user)

    with django_capture_on_commit_callbacks(execute=True):
        services.delete_identity(user)

    assert acs_counts()["CommunicationIdentity_Delete"] == 1
    assert services.get_or_create_identity(user) != first


def test_service_identity_is_created_once(acs_settings, acs_counts):
    raw_id = services.get_service_identity()

    assert services.get_service_identity() == raw_id
    assert AcsIdentity.objects.get(service_name=services.SERVICE_NAME).user is None
    token = services.get_service_token()
    assert services.get_service_token() == token
    assert token.communication_user_id == raw_id
    counts = acs_counts()
    assert counts["CommunicationIdentity_Create"] == 1
    assert counts["CommunicationIdentity_IssueAccessToken"] == 1
    assert list_threads_with(acs_settings, token.token) == []


def test_unconfigured_acs_is_a_clear_error(settings, make_site_user):
    settings.ACS_CONNECTION_STRING = ""
    with pytest.raises(services.AcsError, match="ACS_CONNECTION_STRING is not set"):
        services.get_token(make_site_user())


def test_acs_refusal_is_logged_and_raised(acs_settings, settings, make_site_user, caplog):
    # A wrong access key: the emulator refuses the HMAC signature with 401.
    settings.ACS_CONNECTION_STRING = f"endpoint={acs_settings.endpoint}/;accesskey=d3Jvbmc="
    user = make_site_user()

    with pytest.raises(services.AcsError, match="identity creation failed"):
        services.get_token(user)

    assert "ACS identity creation failed" in caplog.text
    assert not AcsIdentity.objects.filter(user=user).exists()


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("2023-07-06T22:20:32.5917508+00:00", datetime(2023, 7, 6, 22, 20, 32, tzinfo=UTC)),
        ("2023-07-06T22:20:32Z", datetime(2023, 7, 6, 22, 20, 32, tzinfo=UTC)),
        ("2023-07-06T22:20:32", datetime(2023, 7, 6, 22, 20, 32, tzinfo=UTC)),
        (1688682032.9, datetime(2023, 7, 6, 22, 20, 32, tzinfo=UTC)),
    ],
)
def test_parse_expires_on(value, expected):
    assert services.parse_expires_on(value) == expected
