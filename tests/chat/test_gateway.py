"""chat.gateway: Kwebbel's types from the SDK, one error type for every failure, TLS against the
configured CA only, connections reused, and a token revoked elsewhere replaced without a failure.

Most tests run against the emulator. A few answers the emulator never gives (unreadable data, a
throttle with Retry-After on a given call) come from a small HTTPS stub that serves with the
emulator's own certificate, so the SDK goes through all of its real layers for those too.
"""

from __future__ import annotations

import asyncio
import http.server
import json
import ssl
import threading
from collections.abc import Iterator
from datetime import datetime
from typing import Any

import pytest

from chat import gateway
from chat.db import run_db
from chat.types import Message, Page, Participant, ReadReceipt, ThreadItem, ThreadProperties
from tests.fixtures.outside import sdk_thread
from tokens import services

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(autouse=True)
def no_ca_from_environment(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Make the configured ACS_CA_BUNDLE the only way the emulator's CA can be trusted."""
    for name in ("REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE", "SSL_CERT_FILE", "SSL_CERT_DIR"):
        monkeypatch.delenv(name, raising=False)
    gateway.reset()
    yield
    gateway.reset()


def run_async(scenario: Any) -> Any:
    """asyncio.run() the scenario, closing the loop's clients before the loop goes."""

    async def run_then_close() -> Any:
        try:
            return await scenario()
        finally:
            await gateway.aclose()

    return asyncio.run(run_then_close())


# --- Types ---------------------------------------------------------------------------------------


def test_the_gateway_hands_out_kwebbels_types(acs_settings, make_site_user):
    alice, bob = make_site_user(), make_site_user()
    bob_id = services.get_or_create_identity(bob)
    created = gateway.chat(alice).create_thread(
        "Types", [Participant(bob_id, "Bob", None)], "types-thread"
    )
    thread = gateway.thread(alice, created.id)
    message_id = thread.send_message("hello", "text", display_name="Alice", metadata={"k": "v"})

    props = thread.get_properties()
    message = thread.get_message(message_id)
    page = thread.list_messages(2)
    members = thread.list_participants()
    sdk_thread(bob, created.id).send_read_receipt(message_id)
    receipts = thread.list_read_receipts()
    threads = gateway.chat(alice).list_threads(10)

    assert isinstance(props, ThreadProperties) and props.topic == "Types"
    assert props.created_by == services.get_or_create_identity(alice)
    assert isinstance(message, Message)
    assert (message.body, message.type, message.metadata) == ("hello", "text", {"k": "v"})
    assert message.sender_id == props.created_by and message.sender_display_name == "Alice"
    assert message.number == int(message_id) and isinstance(message.created_on, datetime)
    assert isinstance(page, Page) and [m.id for m in page.items][0] == message_id
    assert page.continuation, "three messages (two system ones) do not fit a page of two"
    assert all(isinstance(p, Participant) for p in members)
    assert {p.raw_id: p.display_name for p in members}[bob_id] == "Bob"
    assert receipts == [ReadReceipt(bob_id, message_id, receipts[0].read_on)]
    assert [t.id for t in threads.items] == [created.id]
    assert isinstance(threads.items[0], ThreadItem)


def test_system_messages_carry_topic_participants_and_initiator(acs_settings, make_site_user):
    alice = make_site_user()
    alice_id = services.get_or_create_identity(alice)
    created = gateway.chat(alice).create_thread("Opening", [], "system-thread")

    oldest_first = list(reversed(gateway.thread(alice, created.id).list_messages(10).items))

    added, topic = oldest_first
    assert (added.type, [p.raw_id for p in added.participants]) == ("participantAdded", [alice_id])
    assert (topic.type, topic.topic, topic.body) == ("topicUpdated", "Opening", "")
    assert Message.from_json(topic.as_json()) == topic


def test_async_clients_hand_out_the_same_types(acs_settings, make_site_user):
    alice = make_site_user()
    thread_id = gateway.chat(alice).create_thread("Async", [], "async-types").id

    async def scenario() -> tuple[Message, list[Participant], ThreadProperties]:
        thread = gateway.athread(alice, thread_id)
        message_id = await thread.send_message("hi", "html", display_name="A", metadata=None)
        await thread.send_read_receipt(message_id)
        return (
            await thread.get_message(message_id),
            await thread.list_participants(),
            await thread.get_properties(),
        )

    message, members, props = run_async(scenario)
    assert (message.body, message.type) == ("hi", "html")
    assert [p.raw_id for p in members] == [services.get_or_create_identity(alice)]
    assert props.topic == "Async"


# --- Errors --------------------------------------------------------------------------------------


def test_refusals_become_gateway_errors_with_status_and_acs_code(acs_settings, make_site_user):
    alice, outsider = make_site_user(), make_site_user()
    thread_id = gateway.chat(alice).create_thread("Errors", [], "errors-thread").id

    with pytest.raises(gateway.GatewayError) as forbidden:
        gateway.thread(outsider, thread_id).get_properties()
    with pytest.raises(gateway.GatewayError) as missing:
        gateway.thread(alice, thread_id).get_message("1")

    assert (forbidden.value.status, forbidden.value.forbidden) == (403, True)
    assert forbidden.value.refused and not forbidden.value.unavailable
    assert (missing.value.status, missing.value.not_found) == (404, True)
    assert missing.value.code and missing.value.message


def test_tls_is_verified_against_the_configured_ca_only(acs_settings, settings, make_site_user):
    alice = make_site_user()
    gateway.chat(alice).list_threads(1)  # works, and leaves a client cached with the CA
    settings.ACS_CA_BUNDLE = None  # a changed ACS_* setting drops cached clients

    with pytest.raises(gateway.GatewayError) as sync_error:
        gateway.chat(alice).list_threads(1)

    async def scenario() -> None:
        await gateway.athread(alice, "19:x@thread.v2").get_properties()

    with pytest.raises(gateway.GatewayError) as async_error:
        run_async(scenario)
    for error in (sync_error.value, async_error.value):
        assert error.status is None and error.code == "Unreachable" and error.unavailable
        assert "certificate verify failed" in error.message.lower()


class _Stub(http.server.BaseHTTPRequestHandler):
    """Answers every request with the server's `answer` (status, headers, body), keeping the
    connection open between requests as ACS does (HTTP/1.1)."""

    protocol_version = "HTTP/1.1"

    def do_GET(self) -> None:  # noqa: N802 - http.server's naming
        self.server.requests += 1  # type: ignore[attr-defined]
        status, headers, body = self.server.answer  # type: ignore[attr-defined]
        data = json.dumps(body).encode()
        self.send_response(status)
        for name, value in {"Content-Type": "application/json", **headers}.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def stub_acs(acs_settings, settings) -> Iterator[http.server.ThreadingHTTPServer]:
    """An HTTPS server with the emulator's certificate, standing in for ACS."""
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Stub)
    server.requests = 0  # type: ignore[attr-defined]
    server.connections = 0  # type: ignore[attr-defined]
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    data_dir = acs_settings.data_dir
    context.load_cert_chain(data_dir / "server.pem", data_dir / "server-key.pem")
    server.socket = context.wrap_socket(server.socket, server_side=True)
    wrapped_accept = server.socket.accept

    def counted_accept() -> Any:
        server.connections += 1  # type: ignore[attr-defined]
        return wrapped_accept()

    server.socket.accept = counted_accept  # type: ignore[method-assign]
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield server
    server.shutdown()
    server.server_close()


def _point_at(settings: Any, server: Any, access_key: str) -> None:
    settings.ACS_CONNECTION_STRING = (
        f"endpoint=https://127.0.0.1:{server.server_address[1]}/;accesskey={access_key}"
    )


def test_unreadable_answers_become_gateway_errors(acs_settings, settings, stub_acs, make_site_user):
    alice = make_site_user()
    services.get_token(alice)  # a token from the real emulator first
    _point_at(settings, stub_acs, acs_settings.access_key)
    # A year the SDK's deserialiser cannot read: a ValueError, not an AzureError, in the SDK.
    stub_acs.answer = (200, {}, {"id": "19:x@thread.v2", "topic": "t", "createdOn": "1-01-01"})

    with pytest.raises(gateway.GatewayError) as error:
        gateway.thread(alice, "19:x@thread.v2").get_properties()

    assert (error.value.status, error.value.code) == (None, "InvalidResponse")
    assert error.value.unavailable


def test_throttling_carries_retry_after(acs_settings, settings, stub_acs):
    services.get_service_token()  # a token from the real emulator first
    _point_at(settings, stub_acs, acs_settings.access_key)
    body = {"error": {"code": "TooManyRequests", "message": "Slow down."}}
    stub_acs.answer = (429, {"Retry-After": "7"}, body)

    async def scenario() -> None:
        await gateway.service_poll_thread("19:x@thread.v2").get_properties()

    with pytest.raises(gateway.GatewayError) as error:
        run_async(scenario)

    assert (error.value.status, error.value.code, error.value.retry_after) == (
        429,
        "TooManyRequests",
        7.0,
    )
    assert stub_acs.requests == 1, "the pollers' clients leave retrying to the poller"


def test_async_calls_share_one_connection(acs_settings, settings, stub_acs, make_site_user):
    alice, bob = make_site_user(), make_site_user()
    for user in (alice, bob):
        services.get_token(user)
    _point_at(settings, stub_acs, acs_settings.access_key)
    props = {"id": "19:x@thread.v2", "topic": "t", "createdOn": "2026-01-01T00:00:00Z"}
    stub_acs.answer = (200, {}, props)

    async def scenario() -> list[str]:
        topics = []
        for _ in range(3):
            for user in (alice, bob):
                topics.append(
                    (await gateway.athread(user, "19:x@thread.v2").get_properties()).topic
                )
        return topics

    assert run_async(scenario) == ["t"] * 6
    assert stub_acs.requests == 6
    # One TLS connection for six calls by two users: one session, one SSL context.
    assert stub_acs.connections == 1


# --- Principals and tokens -----------------------------------------------------------------------


def test_clients_act_as_their_principal(acs_settings, make_site_user):
    alice, bob = make_site_user(), make_site_user()
    thread_id = gateway.chat(alice).create_thread("Alice's", [], "principal").id
    message_id = gateway.thread(alice, thread_id).send_message(
        "mine", "text", display_name="A", metadata=None
    )
    service_thread = gateway.service_chat().create_thread("Service", [], "service-thread").id

    assert gateway.thread(alice, thread_id).get_message(message_id).sender_id == (
        services.get_or_create_identity(alice)
    )
    assert gateway.chat(bob).list_threads(10).items == []
    assert gateway.service_thread(service_thread).get_properties().created_by == (
        services.get_service_identity()
    )


def test_a_token_revoked_elsewhere_is_replaced_without_a_failure(
    acs_settings, acs_counts, make_site_user
):
    alice = make_site_user()
    thread_id = gateway.chat(alice).create_thread("Revoked", [], "revoked").id
    thread = gateway.thread(alice, thread_id)
    thread.get_properties()

    async def in_the_live_path() -> str:
        live = gateway.athread(alice, thread_id)
        await live.get_properties()
        # E.g. the user signed out on another device.
        await run_db(services.revoke_tokens, alice)
        return (await live.get_properties()).topic

    assert run_async(in_the_live_path) == "Revoked"
    services.revoke_tokens(alice)
    assert thread.get_properties().topic == "Revoked"
    # One token at first, and one after each revocation.
    assert acs_counts()["CommunicationIdentity_IssueAccessToken"] == 3
