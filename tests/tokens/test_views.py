"""POST /tokens/ through Django's test client, with the emulator behind it."""

import threading

import jwt
import pytest
from django.test import Client
from django.urls import reverse

from tokens.models import AcsIdentity

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("clear_cache")]

URL = "/tokens/"


def signed_in(user) -> Client:
    client = Client(enforce_csrf_checks=True)
    client.force_login(user)
    return client


def csrf_cookie(client: Client) -> str:
    """The CSRF cookie, from a page that costs no ACS call (the sign-in form)."""
    client.get(reverse("login"))
    return client.cookies["csrftoken"].value


def post_with_csrf(client: Client, **extra):
    """POST like the site's JavaScript: CSRF cookie from a page, token in X-CSRFToken."""
    client.get(reverse("login"))
    return client.post(URL, HTTP_X_CSRFTOKEN=client.cookies["csrftoken"].value, **extra)


def test_url_is_tokens():
    assert reverse("tokens") == URL


def test_anonymous_caller_gets_401_json(acs_settings, acs_counts):
    client = Client(enforce_csrf_checks=True)
    client.get(reverse("login"))  # a CSRF cookie, so only authentication is missing

    response = client.post(URL, HTTP_X_CSRFTOKEN=client.cookies["csrftoken"].value)

    assert response.status_code == 401
    assert response.json()["error"]["code"] == "NotAuthenticated"
    assert not AcsIdentity.objects.exists()
    assert acs_counts() == {}


def test_post_without_csrf_token_is_refused(acs_settings, make_site_user):
    response = signed_in(make_site_user()).post(URL)
    assert response.status_code == 403
    assert not AcsIdentity.objects.exists()


def test_get_is_not_allowed(make_site_user):
    response = signed_in(make_site_user()).get(URL)
    assert response.status_code == 405
    assert response["Allow"] == "POST"


def test_returns_the_signed_in_users_token(acs_settings, make_site_user):
    user = make_site_user()

    response = post_with_csrf(signed_in(user))

    assert response.status_code == 200
    assert response["Cache-Control"].startswith("max-age=0")
    assert "no-store" in response["Cache-Control"]
    body = response.json()
    assert set(body) == {"token", "expiresOn", "communicationUserId", "endpoint", "scopes"}
    identity = AcsIdentity.objects.get(user=user)
    assert body["communicationUserId"] == identity.communication_user_id
    assert body["token"] == identity.browser_token
    assert body["expiresOn"] == identity.browser_token_expires_on.isoformat()
    assert body["endpoint"] == acs_settings.endpoint
    assert body["scopes"] == ["chat.join.limited"]
    claims = jwt.decode(body["token"], options={"verify_signature": False})
    assert "8:" + claims["skypeid"] == identity.communication_user_id
    assert claims["acsScope"] == "chat.join.limited"
    # Kwebbel's own token for the user (scope chat) never leaves the server.
    assert identity.token == "" or identity.token != body["token"]


def test_never_serves_another_users_token(acs_settings, make_site_user):
    alice, bob = make_site_user("alice"), make_site_user("bob")
    alice_body = post_with_csrf(signed_in(alice)).json()

    # Bob asks, even naming Alice's identity in the body and query string.
    bob_client = signed_in(bob)
    response = bob_client.post(
        f"{URL}?communicationUserId={alice_body['communicationUserId']}",
        {"communicationUserId": alice_body["communicationUserId"], "user": alice.pk},
        HTTP_X_CSRFTOKEN=csrf_cookie(bob_client),
    )

    bob_body = response.json()
    assert (
        bob_body["communicationUserId"] == AcsIdentity.objects.get(user=bob).communication_user_id
    )
    assert bob_body["communicationUserId"] != alice_body["communicationUserId"]
    assert bob_body["token"] != alice_body["token"]
    claims = jwt.decode(bob_body["token"], options={"verify_signature": False})
    assert "8:" + claims["skypeid"] == bob_body["communicationUserId"]


def test_100_requests_cost_one_identity_and_one_token(
    acs_settings, acs_counts, make_site_user, settings
):
    settings.TOKENS_RATE_LIMIT = (1000, 60)
    client = signed_in(make_site_user())
    csrf = csrf_cookie(client)

    bodies = [client.post(URL, HTTP_X_CSRFTOKEN=csrf).json() for _ in range(100)]

    assert len({body["token"] for body in bodies}) == 1
    counts = acs_counts()
    assert counts["CommunicationIdentity_Create"] == 1
    assert counts["CommunicationIdentity_IssueAccessToken"] == 1


@pytest.mark.django_db(transaction=True)
def test_concurrent_first_requests_cost_one_identity_and_one_token(
    acs_settings, acs_counts, make_site_user, settings
):
    settings.TOKENS_RATE_LIMIT = (1000, 60)
    user = make_site_user()
    barrier = threading.Barrier(8)
    results: list[tuple[int, str]] = []

    def request_tokens() -> None:
        from django.db import connection

        client = signed_in(user)
        csrf = csrf_cookie(client)
        barrier.wait()
        try:
            for _ in range(5):
                response = client.post(URL, HTTP_X_CSRFTOKEN=csrf)
                results.append((response.status_code, response.json().get("token", "")))
        finally:
            connection.close()

    threads = [threading.Thread(target=request_tokens) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert [status for status, _ in results] == [200] * 40
    assert len({token for _, token in results}) == 1
    counts = acs_counts()
    assert counts["CommunicationIdentity_Create"] == 1
    assert counts["CommunicationIdentity_IssueAccessToken"] == 1


def test_rate_limited_with_retry_after(acs_settings, make_site_user, settings):
    settings.TOKENS_RATE_LIMIT = (3, 60)
    user, other = make_site_user(), make_site_user()
    client = signed_in(user)
    csrf = csrf_cookie(client)

    statuses = [client.post(URL, HTTP_X_CSRFTOKEN=csrf).status_code for _ in range(4)]

    assert statuses == [200, 200, 200, 429]
    refused = client.post(URL, HTTP_X_CSRFTOKEN=csrf)
    assert refused.status_code == 429
    assert 1 <= int(refused["Retry-After"]) <= 60
    assert refused.json()["error"]["code"] == "TooManyRequests"
    # The limit is per user.
    assert post_with_csrf(signed_in(other)).status_code == 200


def test_acs_failure_is_a_503_json_error(acs_settings, settings, make_site_user, caplog):
    settings.ACS_CONNECTION_STRING = f"endpoint={acs_settings.endpoint}/;accesskey=d3Jvbmc="

    response = post_with_csrf(signed_in(make_site_user()))

    assert response.status_code == 503
    assert response.json()["error"]["code"] == "AcsUnavailable"
    assert "ACS identity creation failed" in caplog.text


def test_unconfigured_acs_is_a_503_json_error(settings, make_site_user):
    settings.ACS_CONNECTION_STRING = ""
    response = post_with_csrf(signed_in(make_site_user()))
    assert response.status_code == 503
    assert response["Content-Type"] == "application/json"
    assert response.json() == {
        "error": {
            "code": "AcsUnavailable",
            "message": "Chat is unavailable right now; please try again shortly.",
        }
    }


def test_the_token_cannot_undo_kwebbels_rules_straight_through_acs(acs_settings, make_site_user):
    """The browser token reads and writes messages, but cannot remove anyone (the service
    identity included), add people, rename or delete the thread."""
    from azure.core.exceptions import HttpResponseError

    from chat import gateway
    from chat.types import EPOCH, Participant
    from tests.fixtures.outside import identifier, participant, sdk_chat, sdk_thread
    from tokens import services

    alice, bob, carol = make_site_user(), make_site_user(), make_site_user()
    bob_id, carol_id = services.get_or_create_identity(bob), services.get_or_create_identity(carol)
    thread_id = gateway.chat(alice).create_thread(
        "Rules", [Participant(services.get_service_identity(), None, EPOCH), Participant(bob_id)],
        "rules-thread",
    ).id  # fmt: skip
    token = post_with_csrf(signed_in(bob)).json()["token"]
    thread = sdk_thread(None, thread_id, token=token)

    assert thread.send_message("hello from a script").id  # messages are fine
    refused = [
        lambda: thread.add_participants([participant(carol_id)]),
        lambda: thread.remove_participant(identifier(services.get_service_identity())),
        lambda: thread.update_topic("Mine now"),
        lambda: sdk_chat(None, token=token).delete_chat_thread(thread_id),
    ]
    for call in refused:
        with pytest.raises(HttpResponseError) as error:
            call()
        assert error.value.status_code == 403
    props = gateway.service_thread(thread_id).get_properties()
    members = {p.raw_id for p in gateway.service_thread(thread_id).list_participants()}
    assert props.topic == "Rules"
    assert services.get_service_identity() in members and carol_id not in members
