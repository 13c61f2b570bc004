"""Authentication and authorisation: HMAC for Identity, bearer tokens and scopes for Chat.

Raw HTTP (requests) is used where the SDK would not send the broken request or would retry.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

import jwt as pyjwt
import pytest
import requests
from azure.communication.chat import ChatParticipant
from azure.communication.identity import CommunicationIdentityClient
from azure.core.exceptions import ClientAuthenticationError, HttpResponseError

from acs_emulator.auth.jwt import derive_signing_key
from acs_emulator.db import open_database
from acs_emulator.identity.store import IdentityStore
from acs_emulator.process import EmulatorProcess
from tests.fixtures.emulator import AcsUser, ChatUser, hmac_headers

IDENTITY = "?api-version=2023-10-01"
CHAT = "?api-version=2024-03-07"


def host_of(emulator: EmulatorProcess) -> str:
    return emulator.endpoint.removeprefix("https://")


def post_identity(
    emulator: EmulatorProcess, body: bytes, headers: dict[str, str]
) -> requests.Response:
    return requests.post(
        emulator.endpoint + "/identities" + IDENTITY,
        data=body,
        headers=headers,
        verify=emulator.ca_bundle,
        timeout=10,
    )


def list_threads(emulator: EmulatorProcess, token: str) -> requests.Response:
    return requests.get(
        emulator.endpoint + "/chat/threads" + CHAT,
        headers={"Authorization": f"Bearer {token}"},
        verify=emulator.ca_bundle,
        timeout=10,
    )


def assert_denied(response: requests.Response) -> None:
    assert response.status_code == 401, response.text
    assert set(response.json()["error"]) >= {"code", "message"}
    assert "Retry-After" not in response.headers
    assert "WWW-Authenticate" not in response.headers


BODY = b'{"createTokenWithScopes": ["chat"]}'


def test_hand_signed_request_is_accepted(acs_emulator: EmulatorProcess) -> None:
    headers = hmac_headers(
        acs_emulator.access_key, "POST", "/identities" + IDENTITY, host_of(acs_emulator), BODY
    )
    response = post_identity(acs_emulator, BODY, headers)
    assert response.status_code == 201, response.text
    assert response.json()["identity"]["id"].startswith("8:acs:")


def test_unsigned_request_is_denied(acs_emulator: EmulatorProcess) -> None:
    assert_denied(post_identity(acs_emulator, BODY, {"Content-Type": "application/json"}))


def test_bad_signature_is_denied(acs_emulator: EmulatorProcess) -> None:
    headers = hmac_headers(
        acs_emulator.access_key, "POST", "/identities" + IDENTITY, host_of(acs_emulator), BODY
    )
    headers["Authorization"] = headers["Authorization"][:-8] + "AAAAAAA="
    assert_denied(post_identity(acs_emulator, BODY, headers))


def test_wrong_key_is_denied(acs_emulator: EmulatorProcess) -> None:
    wrong = base64.b64encode(b"not the key" * 4).decode()
    headers = hmac_headers(wrong, "POST", "/identities" + IDENTITY, host_of(acs_emulator), BODY)
    assert_denied(post_identity(acs_emulator, BODY, headers))


def test_signed_path_must_match_the_request(acs_emulator: EmulatorProcess) -> None:
    headers = hmac_headers(
        acs_emulator.access_key, "POST", "/identities?api-version=2024-03-07", host_of(acs_emulator)
    )
    assert_denied(post_identity(acs_emulator, BODY, headers))


def test_tampered_body_is_denied(acs_emulator: EmulatorProcess) -> None:
    target, host = "/identities" + IDENTITY, host_of(acs_emulator)
    headers = hmac_headers(acs_emulator.access_key, "POST", target, host, BODY)
    tampered = b'{"createTokenWithScopes": ["voip"]}'
    # The content hash no longer matches the body...
    assert_denied(post_identity(acs_emulator, tampered, headers))
    # ...and fixing the hash header breaks the signature.
    resigned = hmac_headers(acs_emulator.access_key, "POST", target, host, tampered)
    headers["x-ms-content-sha256"] = resigned["x-ms-content-sha256"]
    assert_denied(post_identity(acs_emulator, tampered, headers))


@pytest.mark.parametrize("minutes", [-20, 20])
def test_stale_or_future_date_is_denied(acs_emulator: EmulatorProcess, minutes: int) -> None:
    date = format_datetime(datetime.now(UTC) + timedelta(minutes=minutes), usegmt=True)
    headers = hmac_headers(
        acs_emulator.access_key,
        "POST",
        "/identities" + IDENTITY,
        host_of(acs_emulator),
        BODY,
        date=date,
    )
    assert_denied(post_identity(acs_emulator, BODY, headers))


def test_sdk_with_a_wrong_key_gets_client_authentication_error(
    acs_emulator: EmulatorProcess,
) -> None:
    wrong = f"endpoint={acs_emulator.endpoint}/;accesskey={base64.b64encode(b'x' * 32).decode()}"
    client = CommunicationIdentityClient.from_connection_string(
        wrong, connection_verify=acs_emulator.ca_bundle
    )
    with pytest.raises(ClientAuthenticationError):
        client.create_user()


# Bearer tokens on chat calls.


def forge(claims: dict, key: bytes) -> str:
    return pyjwt.encode(claims, key, algorithm="HS256")


def test_valid_token_is_accepted(acs_emulator: EmulatorProcess, make_user) -> None:
    user: AcsUser = make_user()
    assert list_threads(acs_emulator, user.token).status_code == 200


def test_missing_or_malformed_bearer_is_denied(acs_emulator: EmulatorProcess, make_user) -> None:
    response = requests.get(
        acs_emulator.endpoint + "/chat/threads" + CHAT, verify=acs_emulator.ca_bundle, timeout=10
    )
    assert_denied(response)
    assert_denied(list_threads(acs_emulator, "not-a-jwt"))


def test_token_signed_with_another_key_is_denied(acs_emulator: EmulatorProcess, make_user) -> None:
    user: AcsUser = make_user()
    claims = json.loads(base64.b64decode(user.token.split(".")[1] + "=="))
    assert_denied(list_threads(acs_emulator, forge(claims, b"k" * 32)))
    assert_denied(
        list_threads(acs_emulator, forge(claims, base64.b64decode(acs_emulator.access_key)))
    )


def test_unsigned_alg_none_token_is_denied(acs_emulator: EmulatorProcess, make_user) -> None:
    user: AcsUser = make_user()
    header, payload, _ = user.token.split(".")
    none_header = base64.urlsafe_b64encode(b'{"alg":"none","typ":"JWT"}').decode().rstrip("=")
    assert_denied(list_threads(acs_emulator, f"{none_header}.{payload}."))
    assert_denied(list_threads(acs_emulator, f"{header}.{payload}."))


def store_on(emulator: EmulatorProcess) -> IdentityStore:
    """A second IdentityStore on the emulator's own database, to mint tokens at any time."""
    conn = open_database(emulator.data_dir / "emulator.sqlite3")
    return IdentityStore(
        conn,
        resource_id=(emulator.data_dir / "resource-id").read_text().strip(),
        signing_key=derive_signing_key(base64.b64decode(emulator.access_key)),
        clock=lambda: datetime.now(UTC),
    )


def test_expired_token_is_denied(acs_emulator: EmulatorProcess, make_user) -> None:
    user: AcsUser = make_user()
    store = store_on(acs_emulator)
    try:
        issued = datetime.now(UTC) - timedelta(minutes=61)
        expired, _ = store.issue_access_token(user.raw_id, ["chat"], 60, issued)
        fresh, _ = store.issue_access_token(user.raw_id, ["chat"], 60, datetime.now(UTC))
    finally:
        store.conn.close()
    assert_denied(list_threads(acs_emulator, expired))
    assert list_threads(acs_emulator, fresh).status_code == 200


def test_revoked_token_is_denied_on_the_next_chat_call(
    acs_emulator: EmulatorProcess, identity_client: CommunicationIdentityClient, make_chat_client
) -> None:
    chat: ChatUser = make_chat_client()
    chat.client.create_chat_thread("before revocation")
    identity_client.revoke_tokens(chat.user.identifier)
    with pytest.raises(ClientAuthenticationError):
        chat.client.create_chat_thread("after revocation")
    renewed = identity_client.get_token(chat.user.identifier, ["chat"])
    assert list_threads(acs_emulator, chat.user.token).status_code == 401
    assert list_threads(acs_emulator, renewed.token).status_code == 200


def test_deleted_identity_token_is_denied(
    acs_emulator: EmulatorProcess, identity_client: CommunicationIdentityClient, make_user
) -> None:
    user: AcsUser = make_user()
    assert list_threads(acs_emulator, user.token).status_code == 200
    identity_client.delete_user(user.identifier)
    assert_denied(list_threads(acs_emulator, user.token))


# Scopes.


def assert_forbidden(call: Callable[[], object]) -> None:
    with pytest.raises(HttpResponseError) as caught:
        call()
    assert caught.value.status_code == 403
    assert caught.value.error.code == "Forbidden"


def test_chat_join_cannot_create_threads_but_can_take_part(make_chat_client, thread_client) -> None:
    owner: ChatUser = make_chat_client()
    joiner: ChatUser = make_chat_client(scopes=["chat.join"])
    assert_forbidden(lambda: joiner.client.create_chat_thread("not allowed"))
    thread_id = owner.client.create_chat_thread(
        "owner's", thread_participants=[ChatParticipant(identifier=joiner.user.identifier)]
    ).chat_thread.id
    joined = thread_client(joiner.client, thread_id)
    assert_forbidden(lambda: joined.update_topic("renamed"))
    assert_forbidden(lambda: joiner.client.delete_chat_thread(thread_id))
    assert joined.send_message("hello").id
    third = make_chat_client().user.identifier
    joined.add_participants([ChatParticipant(identifier=third)])
    joined.remove_participant(third)


def test_chat_join_limited_cannot_manage_participants(make_chat_client, thread_client) -> None:
    owner: ChatUser = make_chat_client()
    limited: ChatUser = make_chat_client(scopes=["chat.join.limited"])
    thread_id = owner.client.create_chat_thread(
        "owner's", thread_participants=[ChatParticipant(identifier=limited.user.identifier)]
    ).chat_thread.id
    joined = thread_client(limited.client, thread_id)
    third = make_chat_client().user.identifier
    assert_forbidden(lambda: joined.add_participants([ChatParticipant(identifier=third)]))
    assert_forbidden(lambda: joined.remove_participant(owner.user.identifier))
    assert joined.send_message("still allowed").id


@pytest.mark.parametrize("scopes", [["voip"], ["voip.join"]])
def test_voip_token_is_forbidden_on_chat(make_chat_client, scopes: list[str]) -> None:
    voip: ChatUser = make_chat_client(scopes=scopes)
    assert_forbidden(lambda: list(voip.client.list_chat_threads()))
    assert_forbidden(lambda: voip.client.create_chat_thread("no"))
