"""The Identity API through the official SDK, sync and async, against the session emulator."""

from __future__ import annotations

import base64
import json
import sqlite3
from datetime import UTC, datetime, timedelta

import pytest
from azure.communication.identity import CommunicationIdentityClient, CommunicationUserIdentifier
from azure.communication.identity.aio import (
    CommunicationIdentityClient as AsyncCommunicationIdentityClient,
)
from azure.core.credentials import AzureKeyCredential
from azure.core.exceptions import (
    ClientAuthenticationError,
    HttpResponseError,
    ResourceNotFoundError,
)

from acs_emulator.process import EmulatorProcess


def claims_of(token: str) -> dict:
    return json.loads(base64.b64decode(token.split(".")[1] + "=="))


def expires_on(value: str) -> datetime:
    # Identity SDK 1.5.0 hands expiresOn back as the raw string, e.g. ...39.3244584+00:00.
    assert len(value.split(".")[1]) == len("3244584+00:00"), value
    assert value.endswith("+00:00"), value
    return datetime.fromisoformat(value[:26] + value[27:])


def assert_lifetime(value: str, asked: timedelta) -> None:
    lifetime = expires_on(value) - datetime.now(UTC)
    assert abs(lifetime - asked) < asked * 0.03, lifetime


@pytest.mark.acs_live
def test_create_user_returns_an_acs_raw_id(identity_client: CommunicationIdentityClient) -> None:
    user = identity_client.create_user()
    assert user.raw_id.startswith("8:acs:")
    assert user.properties["id"] == user.raw_id
    assert identity_client.create_user().raw_id != user.raw_id


@pytest.mark.acs_live
def test_get_token_defaults_to_24_hours_with_the_asked_scopes(
    identity_client: CommunicationIdentityClient,
) -> None:
    user = identity_client.create_user()
    token = identity_client.get_token(user, scopes=["chat", "voip"])
    assert_lifetime(token.expires_on, timedelta(hours=24))
    claims = claims_of(token.token)
    assert claims["skypeid"] == user.raw_id.removeprefix("8:")
    assert claims["acsScope"].split(",") == ["chat", "voip"]
    assert claims["exp"] == int(expires_on(token.expires_on).timestamp())


@pytest.mark.acs_live
@pytest.mark.parametrize("hours", [1, 24])
def test_token_expiry_is_what_was_asked(
    identity_client: CommunicationIdentityClient, hours: int
) -> None:
    asked = timedelta(hours=hours)
    user, token = identity_client.create_user_and_token(scopes=["chat"], token_expires_in=asked)
    assert_lifetime(token.expires_on, asked)
    assert_lifetime(
        identity_client.get_token(user, ["chat"], token_expires_in=asked).expires_on, asked
    )


@pytest.mark.parametrize("minutes", [59, 1441])
def test_token_expiry_outside_1_to_24_hours_is_a_400(
    identity_client: CommunicationIdentityClient, minutes: int
) -> None:
    user = identity_client.create_user()
    with pytest.raises(HttpResponseError) as caught:
        identity_client.get_token(user, ["chat"], token_expires_in=timedelta(minutes=minutes))
    assert caught.value.status_code == 400
    assert "expiresInMinutes" in caught.value.error.message
    with pytest.raises(HttpResponseError) as caught:
        identity_client.create_user_and_token(["chat"], token_expires_in=timedelta(minutes=minutes))
    assert caught.value.status_code == 400


def identity_count(emulator: EmulatorProcess) -> int:
    conn = sqlite3.connect(f"file:{emulator.data_dir / 'emulator.sqlite3'}?mode=ro", uri=True)
    try:
        return conn.execute("SELECT COUNT(*) FROM identities").fetchone()[0]
    finally:
        conn.close()


def test_create_user_and_token_creates_no_user_on_a_bad_request(
    acs_emulator: EmulatorProcess, identity_client: CommunicationIdentityClient
) -> None:
    before = identity_count(acs_emulator)
    with pytest.raises(HttpResponseError):
        identity_client.create_user_and_token(["chat"], token_expires_in=timedelta(minutes=1441))
    with pytest.raises(HttpResponseError):
        identity_client.create_user_and_token(["bogus"])
    assert identity_count(acs_emulator) == before
    identity_client.create_user_and_token(["chat"])
    assert identity_count(acs_emulator) == before + 1


def test_unknown_scope_is_a_400(identity_client: CommunicationIdentityClient) -> None:
    user = identity_client.create_user()
    with pytest.raises(HttpResponseError) as caught:
        identity_client.get_token(user, scopes=["chat", "email"])
    assert caught.value.status_code == 400
    assert "email" in caught.value.error.message


def test_missing_scopes_is_a_400(identity_client: CommunicationIdentityClient) -> None:
    user = identity_client.create_user()
    with pytest.raises(HttpResponseError) as caught:
        identity_client.get_token(user, scopes=None)
    assert caught.value.status_code == 400
    assert caught.value.error.target == "scopes"


def test_revoke_and_delete_answer_204_and_delete_makes_the_user_unknown(
    identity_client: CommunicationIdentityClient,
) -> None:
    user = identity_client.create_user()
    identity_client.revoke_tokens(user)
    assert identity_client.get_token(user, ["chat"]).token
    identity_client.delete_user(user)
    with pytest.raises(ResourceNotFoundError):
        identity_client.get_token(user, ["chat"])
    with pytest.raises(ResourceNotFoundError):
        identity_client.revoke_tokens(user)


def test_unknown_user_is_a_404(identity_client: CommunicationIdentityClient) -> None:
    ghost = CommunicationUserIdentifier(identity_client.create_user().raw_id + "0")
    with pytest.raises(ResourceNotFoundError):
        identity_client.get_token(ghost, ["chat"])
    with pytest.raises(ResourceNotFoundError):
        identity_client.delete_user(ghost)


def test_teams_token_exchange_is_refused_with_an_explanation(
    identity_client: CommunicationIdentityClient,
) -> None:
    with pytest.raises(ClientAuthenticationError) as caught:
        identity_client.get_token_for_teams_user("aad-token", "app-id", "user-id")
    assert "not supported by the emulator" in caught.value.error.message


def test_client_built_from_endpoint_and_key_credential_is_accepted(
    acs_emulator: EmulatorProcess,
) -> None:
    # This client signs the host with a trailing '/', unlike from_connection_string.
    client = CommunicationIdentityClient(
        acs_emulator.endpoint + "/",
        AzureKeyCredential(acs_emulator.access_key),
        connection_verify=acs_emulator.ca_bundle,
    )
    user = client.create_user()
    assert client.get_token(user, ["chat"]).token


async def test_async_client_covers_every_operation(acs_emulator: EmulatorProcess) -> None:
    client = AsyncCommunicationIdentityClient.from_connection_string(
        acs_emulator.connection_string, connection_verify=acs_emulator.ca_bundle
    )
    async with client:
        user = await client.create_user()
        # The async client signs yarl's form of the path, ':' unescaped, which is also sent.
        token = await client.get_token(user, ["chat.join"], token_expires_in=timedelta(hours=2))
        assert_lifetime(token.expires_on, timedelta(hours=2))
        assert claims_of(token.token)["acsScope"] == "chat.join"
        other, other_token = await client.create_user_and_token(["voip"])
        assert claims_of(other_token.token)["skypeid"] == other.raw_id.removeprefix("8:")
        await client.revoke_tokens(user)
        await client.delete_user(user)
        with pytest.raises(ResourceNotFoundError):
            await client.get_token(user, ["chat"])
        with pytest.raises(HttpResponseError) as caught:
            await client.get_token(other, ["chat"], token_expires_in=timedelta(minutes=59))
        assert caught.value.status_code == 400
