"""The server around the services: startup, TLS, persistence, api-version, errors, faults,
rate limits and the control routes."""

from __future__ import annotations

import os
import re
import signal
import socket
import ssl
import subprocess
import sys
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import requests
from azure.communication.identity import CommunicationIdentityClient
from azure.core.exceptions import ServiceRequestError

from acs_emulator.process import EmulatorProcess
from tests.fixtures.emulator import chat_client_for, hmac_headers, new_user

ROOT = Path(__file__).resolve().parents[2]


def get(emulator: EmulatorProcess, path: str, **kwargs) -> requests.Response:
    return requests.get(emulator.endpoint + path, verify=emulator.ca_bundle, timeout=10, **kwargs)


def identity_for(emulator: EmulatorProcess) -> CommunicationIdentityClient:
    return CommunicationIdentityClient.from_connection_string(
        emulator.connection_string, connection_verify=emulator.ca_bundle
    )


# api-version, unknown routes, methods.


@pytest.mark.parametrize(
    ("method", "path", "supported"),
    [("POST", "/identities", "2023-10-01"), ("GET", "/chat/threads", "2024-03-07")],
)
@pytest.mark.parametrize("query", ["", "?api-version=2025-03-15", "?api-version="])
def test_missing_or_unknown_api_version_is_a_400_naming_the_supported_one(
    acs_emulator: EmulatorProcess, method: str, path: str, supported: str, query: str
) -> None:
    response = requests.request(
        method, acs_emulator.endpoint + path + query, verify=acs_emulator.ca_bundle, timeout=10
    )
    assert response.status_code == 400
    error = response.json()["error"]
    assert supported in error["message"]
    assert error["target"] == "api-version"
    assert error["code"] in {"MissingApiVersionParameter", "UnsupportedApiVersion"}


def test_unknown_route_is_a_404_in_the_error_shape(acs_emulator: EmulatorProcess) -> None:
    response = get(acs_emulator, "/no/such/thing?api-version=2024-03-07")
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "NotFound"
    assert "/no/such/thing" in response.json()["error"]["message"]


def test_wrong_method_is_a_405_in_the_error_shape(acs_emulator: EmulatorProcess) -> None:
    response = requests.put(
        acs_emulator.endpoint + "/identities?api-version=2023-10-01",
        verify=acs_emulator.ca_bundle,
        timeout=10,
    )
    assert response.status_code == 405
    assert response.json()["error"]["code"] == "MethodNotAllowed"
    assert "POST" in response.headers["Allow"]


# Startup, the ready lines and TLS.


def test_ready_lines_and_options_from_the_environment(tmp_path: Path) -> None:
    env = {**os.environ, "ACS_EMULATOR_PORT": "0", "ACS_EMULATOR_DATA_DIR": str(tmp_path)}
    env["PYTHONPATH"] = str(ROOT)
    process = subprocess.Popen(
        [sys.executable, "-m", "acs_emulator"],
        cwd=tmp_path,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    try:
        with ThreadPoolExecutor(1) as pool:
            first = pool.submit(process.stdout.readline).result(timeout=30)
            second = pool.submit(process.stdout.readline).result(timeout=30)
        match = re.fullmatch(
            r"ACS_CONNECTION_STRING=endpoint=https://127\.0\.0\.1:(\d+)/;accesskey=(\S+)\n", first
        )
        assert match, first
        assert second == f"ACS_CA_BUNDLE={tmp_path / 'ca.pem'}\n"
        assert match.group(2) == (tmp_path / "access-key").read_text().strip()
        with socket.create_connection(("127.0.0.1", int(match.group(1))), timeout=5):
            pass
    finally:
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=15) == 0


def test_tls_is_only_trusted_with_the_emulators_ca(
    acs_emulator: EmulatorProcess, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("REQUESTS_CA_BUNDLE", raising=False)
    monkeypatch.delenv("CURL_CA_BUNDLE", raising=False)
    address = ("127.0.0.1", acs_emulator.port)
    with (
        socket.create_connection(address, timeout=5) as raw,
        pytest.raises(ssl.SSLCertVerificationError),
    ):
        ssl.create_default_context().wrap_socket(raw, server_hostname="127.0.0.1")
    trusting = ssl.create_default_context(cafile=acs_emulator.ca_bundle)
    for name in ("127.0.0.1", "localhost"):
        with (
            socket.create_connection(address, timeout=5) as raw,
            trusting.wrap_socket(raw, server_hostname=name) as tls,
        ):
            assert tls.version() in {"TLSv1.2", "TLSv1.3"}
    untrusting = CommunicationIdentityClient.from_connection_string(acs_emulator.connection_string)
    with pytest.raises(ServiceRequestError):
        untrusting.create_user()
    assert identity_for(acs_emulator).create_user().raw_id


# Persistence.


@pytest.fixture
def own_emulator(tmp_path: Path) -> Iterator[EmulatorProcess]:
    with EmulatorProcess(tmp_path / "acs") as emulator:
        yield emulator


@pytest.mark.parametrize("how", ["restart", "kill -9"])
def test_identities_tokens_and_key_survive(own_emulator: EmulatorProcess, how: str) -> None:
    identity = identity_for(own_emulator)
    user = new_user(identity)
    thread_id = chat_client_for(own_emulator, user.token).create_chat_thread("kept").chat_thread.id
    connection_string, ca = own_emulator.connection_string, Path(own_emulator.ca_bundle)
    ca_pem = ca.read_bytes()
    if how == "restart":
        own_emulator.restart()
    else:
        own_emulator.kill()
        own_emulator.start()
    assert own_emulator.connection_string == connection_string
    assert ca.read_bytes() == ca_pem
    client = chat_client_for(own_emulator, user.token)
    assert [t.id for t in client.list_chat_threads()] == [thread_id]
    assert identity_for(own_emulator).get_token(user.identifier, ["chat"]).token


# Faults.


def test_injected_503s_and_429s_are_seen_on_the_wire(tmp_path: Path) -> None:
    args = ["--fail-rate", "0.5", "--throttle-rate", "0.5", "--retry-after", "7"]
    args += ["--fault-seed", "3", "--faults-for", "Chat_ListChatThreads"]
    with EmulatorProcess(tmp_path / "acs", extra_args=args) as emulator:
        user = new_user(identity_for(emulator))  # identity operations are not faulted
        auth = {"Authorization": f"Bearer {user.token}"}
        responses = [get(emulator, "/chat/threads?api-version=2024-03-07", headers=auth)]
        responses += [
            get(emulator, "/chat/threads?api-version=2024-03-07", headers=auth) for _ in range(29)
        ]
        statuses = {r.status_code for r in responses}
        assert statuses == {429, 503}
        for response in responses:
            if response.status_code == 429:
                assert response.headers["Retry-After"] == "7"
                assert response.json()["error"]["code"] == "TooManyRequests"
            else:
                assert "Retry-After" not in response.headers
                assert response.json()["error"]["code"] == "ServiceUnavailable"
        assert emulator.stats()["operations"]["Chat_ListChatThreads"] == 30


# Documented rate limits.


def test_enforced_limits_answer_429_with_retry_after(tmp_path: Path) -> None:
    with EmulatorProcess(tmp_path / "acs", extra_args=["--enforce-limits"]) as emulator:
        user = new_user(identity_for(emulator))

        def create_thread() -> requests.Response:
            return requests.post(
                emulator.endpoint + "/chat/threads?api-version=2024-03-07",
                json={"topic": "limited"},
                headers={
                    "Authorization": f"Bearer {user.token}",
                    "repeatability-request-id": str(uuid.uuid4()),
                },
                verify=emulator.ca_bundle,
                timeout=10,
            )

        # ACS allows 10 thread creations per user per 10 seconds.
        assert [create_thread().status_code for _ in range(10)] == [201] * 10
        throttled = create_thread()
        assert throttled.status_code == 429
        assert 1 <= int(throttled.headers["Retry-After"]) <= 10
        other = new_user(identity_for(emulator))
        assert chat_client_for(emulator, other.token).create_chat_thread("other user").chat_thread


# Counters and control routes.


def test_stats_count_one_per_operation_and_per_thread(own_emulator: EmulatorProcess) -> None:
    # An emulator of its own: nothing else may call it while the counts are compared.
    acs_emulator, identity_client = own_emulator, identity_for(own_emulator)
    acs_emulator.reset_stats()
    no_events = {"subscriptions": {}}
    assert acs_emulator.stats() == {"operations": {}, "total": 0, "events": no_events}
    user = new_user(identity_client)
    client = chat_client_for(acs_emulator, user.token)
    thread_id = client.create_chat_thread("counted").chat_thread.id
    thread = client.get_chat_thread_client(thread_id, connection_verify=acs_emulator.ca_bundle)
    thread.send_message("one")
    thread.send_message("two")
    assert len(list(thread.list_messages())) >= 2
    per_thread = {
        "ChatThread_ListChatMessages": 1,
        "ChatThread_SendChatMessage": 2,
        "Chat_CreateChatThread": 1,
    }
    assert acs_emulator.stats() == {
        "operations": {"CommunicationIdentity_Create": 1, **per_thread},
        "total": 5,
        "events": no_events,
    }
    assert acs_emulator.stats(thread=thread_id) == {"operations": per_thread, "total": 4}
    assert acs_emulator.stats(thread="19:unknown@thread.v2") == {"operations": {}, "total": 0}


def test_stats_need_the_access_key(acs_emulator: EmulatorProcess) -> None:
    assert get(acs_emulator, "/_emulator/stats").status_code == 401
    wrong = {"x-emulator-key": acs_emulator.access_key[:-4] + "AAA="}
    assert get(acs_emulator, "/_emulator/stats", headers=wrong).status_code == 401
    reset = requests.post(
        acs_emulator.endpoint + "/_emulator/stats/reset", verify=acs_emulator.ca_bundle, timeout=10
    )
    assert reset.status_code == 401
    keyed = {"x-emulator-key": acs_emulator.access_key}
    assert get(acs_emulator, "/_emulator/stats", headers=keyed).status_code == 200
    host = acs_emulator.endpoint.removeprefix("https://")
    signed = hmac_headers(acs_emulator.access_key, "GET", "/_emulator/stats", host)
    assert get(acs_emulator, "/_emulator/stats", headers=signed).status_code == 200
    assert get(acs_emulator, "/_emulator/health").status_code == 200


async def test_async_chat_client_works_over_tls(make_async_chat_client) -> None:
    # aiohttp sends path parameters as yarl normalises them; the server must route them alike.
    user, client = make_async_chat_client()
    async with client:
        created = await client.create_chat_thread("async")
        thread_id = created.chat_thread.id
        assert [t.id async for t in client.list_chat_threads()] == [thread_id]
        await client.delete_chat_thread(thread_id)
