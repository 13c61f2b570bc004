"""chat.gateway: SDK clients for users and the service identity, verified against the emulator's
CA (and only that: the environment's CA variables are removed in these tests)."""

import asyncio

import pytest
from azure.core.exceptions import ClientAuthenticationError, ServiceRequestError

from chat import gateway
from tokens import services
from tokens.models import AcsIdentity

pytestmark = pytest.mark.django_db


def run_async(scenario):
    """asyncio.run() the scenario, then close the connection its token lookups opened."""
    from asgiref.sync import sync_to_async
    from django.db import connections

    async def run_then_close():
        try:
            return await scenario()
        finally:
            # Thread-sensitive calls share one worker thread, which holds its own connection.
            await sync_to_async(connections.close_all)()

    return asyncio.run(run_then_close())


@pytest.fixture(autouse=True)
def no_ca_from_environment(monkeypatch):
    """Make the configured ACS_CA_BUNDLE the only way the emulator's CA can be trusted."""
    for name in ("REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE", "SSL_CERT_FILE", "SSL_CERT_DIR"):
        monkeypatch.delenv(name, raising=False)
    gateway.reset()
    yield
    gateway.reset()


def test_user_clients_verify_tls_with_the_configured_ca(acs_settings, make_site_user):
    alice = make_site_user()

    result = gateway.chat_client(alice).create_chat_thread("Gateway")
    thread = gateway.thread_client(alice, result.chat_thread.id)
    message_id = thread.send_message("hello").id

    assert thread.get_message(message_id).content.message == "hello"
    assert [t.id for t in gateway.chat_client(alice).list_chat_threads()] == [result.chat_thread.id]


def test_thread_client_for_passes_the_ca_on(acs_settings, make_site_user):
    # get_chat_thread_client() does not inherit connection_verify; thread_client_for() adds it.
    alice = make_site_user()
    client = gateway.chat_client(alice)
    thread_id = client.create_chat_thread("Pitfall").chat_thread.id

    assert gateway.thread_client_for(client, thread_id).get_properties().topic == "Pitfall"
    with pytest.raises(ServiceRequestError, match="CERTIFICATE_VERIFY_FAILED"):
        client.get_chat_thread_client(thread_id).get_properties(retry_total=0)


def test_clients_without_the_ca_fail_tls_verification(acs_settings, settings, make_site_user):
    alice = make_site_user()
    services.get_token(alice)  # the identity call itself needs the CA
    settings.ACS_CA_BUNDLE = None

    with pytest.raises(ServiceRequestError, match="CERTIFICATE_VERIFY_FAILED"):
        gateway.chat_client(alice).create_chat_thread("no CA", retry_total=0)


def test_clients_act_as_their_user(acs_settings, make_site_user):
    alice, bob = make_site_user(), make_site_user()
    thread_id = gateway.chat_client(alice).create_chat_thread("Alice's").chat_thread.id

    message_id = gateway.thread_client(alice, thread_id).send_message("mine").id

    sender = gateway.thread_client(alice, thread_id).get_message(message_id).sender
    assert sender.raw_id == services.get_or_create_identity(alice)
    assert list(gateway.chat_client(bob).list_chat_threads()) == []


def test_service_clients_act_as_the_service_identity(acs_settings, make_site_user):
    thread_id = gateway.service_chat_client().create_chat_thread("Service").chat_thread.id

    message_id = gateway.service_thread_client(thread_id).send_message("from Kwebbel").id

    message = gateway.service_thread_client(thread_id).get_message(message_id)
    assert message.sender.raw_id == services.get_service_identity()


def test_clients_are_cached_until_the_token_changes(acs_settings, acs_counts, make_site_user):
    alice = make_site_user()
    first = gateway.chat_client(alice)
    assert gateway.chat_client(alice) is first
    assert gateway.thread_client(alice, "19:x@thread.v2") is gateway.thread_client(
        alice, "19:x@thread.v2"
    )

    services.revoke_tokens(alice)
    second = gateway.chat_client(alice)

    assert second is not first
    assert list(second.list_chat_threads()) == []  # works with the new token
    assert acs_counts()["CommunicationIdentity_IssueAccessToken"] == 2


def test_changed_acs_settings_drop_cached_clients(acs_settings, settings, make_site_user):
    alice = make_site_user()
    first = gateway.chat_client(alice)
    settings.ACS_CA_BUNDLE = acs_settings.ca_bundle  # any ACS_* change, even to the same value
    assert gateway.chat_client(alice) is not first


def test_credential_refreshes_through_the_token_service(acs_settings, acs_counts, make_site_user):
    alice = make_site_user()
    client = gateway.chat_client(alice)
    # The cached token expires within the SDK's on-demand refresh window (2 minutes).
    identity = AcsIdentity.objects.get(user=alice)
    AcsIdentity.objects.filter(pk=identity.pk).update(
        token_expires_on=identity.token_expires_on.replace(year=2000)
    )
    credential = client._credential  # the SDK keeps no public handle
    credential._token = credential._token._replace(expires_on=0)

    list(client.list_chat_threads())

    assert acs_counts()["CommunicationIdentity_IssueAccessToken"] == 2
    assert credential._token.token == AcsIdentity.objects.get(pk=identity.pk).token


def test_revoked_token_in_a_held_client_is_rejected(acs_settings, make_site_user):
    alice = make_site_user()
    client = gateway.chat_client(alice)
    services.revoke_tokens(alice)
    with pytest.raises(ClientAuthenticationError):
        list(client.list_chat_threads())


@pytest.mark.django_db(transaction=True)
def test_async_clients_verify_tls_with_the_configured_ca(acs_settings, make_site_user):
    alice = make_site_user()

    async def scenario() -> tuple[str, str]:
        async with gateway.async_chat_client(alice) as client:
            thread_id = (await client.create_chat_thread("Async")).chat_thread.id
            async with gateway.thread_client_for(client, thread_id) as thread:
                await thread.send_message("from a thread client of the chat client")
        async with gateway.async_thread_client(alice, thread_id) as thread:
            message_id = (await thread.send_message("hello async")).id
            message = await thread.get_message(message_id)
        async with gateway.async_service_chat_client() as client:
            service_thread = (await client.create_chat_thread("Svc")).chat_thread.id
        async with gateway.async_service_thread_client(service_thread) as thread:
            topic = (await thread.get_properties()).topic
        return message.content.message, topic

    assert run_async(scenario) == ("hello async", "Svc")


@pytest.mark.django_db(transaction=True)
def test_async_clients_without_the_ca_fail_tls_verification(acs_settings, settings, make_site_user):
    alice = make_site_user()
    services.get_token(alice)
    settings.ACS_CA_BUNDLE = None

    async def scenario() -> None:
        async with gateway.async_chat_client(alice) as client:
            await client.create_chat_thread("no CA", retry_total=0)

    with pytest.raises(ServiceRequestError, match="certificate verify failed|CERTIFICATE_VERIFY"):
        run_async(scenario)


def test_participant_and_identifier_helpers(acs_settings, make_site_user):
    alice, bob = make_site_user(), make_site_user()
    bob_id = services.get_or_create_identity(bob)
    thread_id = (
        gateway.chat_client(alice)
        .create_chat_thread(
            "Helpers", thread_participants=[gateway.participant(bob_id, display_name="Bob")]
        )
        .chat_thread.id
    )
    thread = gateway.thread_client(alice, thread_id)
    names = {p.identifier.raw_id: p.display_name for p in thread.list_participants()}
    assert names[bob_id] == "Bob"

    thread.remove_participant(gateway.identifier(bob_id))

    assert bob_id not in {p.identifier.raw_id for p in thread.list_participants()}
