"""IdentityStore and token minting, with a hand-driven clock (no server)."""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import jwt as pyjwt
import pytest
from azure.communication.chat._shared.utils import create_access_token as chat_decode
from azure.communication.identity._shared.utils import create_access_token as identity_decode

from acs_emulator.auth.jwt import decode_access_token, derive_signing_key, mint_access_token
from acs_emulator.db import open_database
from acs_emulator.errors import AcsError
from acs_emulator.identity.store import IdentityStore

RESOURCE = "2dee53b4-368b-45b4-ab52-8493fb117652"
KEY = derive_signing_key(b"\x01" * 64)
T0 = datetime(2024, 5, 1, 12, 0, 0, tzinfo=UTC)


@pytest.fixture
def store(tmp_path: Path) -> IdentityStore:
    conn = open_database(tmp_path / "emulator.sqlite3")
    yield IdentityStore(conn, resource_id=RESOURCE, signing_key=KEY, clock=lambda: T0)
    conn.close()


def generation_of(token: str) -> int:
    return decode_access_token(KEY, token, now=T0).generation


def test_ids_have_the_acs_raw_id_shape(store: IdentityStore) -> None:
    raw_id = store.create_identity(T0)
    assert raw_id.startswith(f"8:acs:{RESOURCE}_")
    assert store.identity_exists(raw_id)
    assert store.create_identity(T0) != raw_id


def test_issued_token_carries_claims_and_expiry(store: IdentityStore) -> None:
    raw_id = store.create_identity(T0)
    token, expires_on = store.issue_access_token(raw_id, ["chat", "voip"], 60, T0)
    assert expires_on == T0 + timedelta(minutes=60)
    claims = decode_access_token(KEY, token, now=T0)
    assert claims.raw_id == raw_id
    assert claims.scopes == {"chat", "voip"}
    assert claims.resource_id == RESOURCE
    assert claims.expires_at == expires_on
    payload = pyjwt.decode(token, KEY, algorithms=["HS256"], options={"verify_exp": False})
    assert payload["skypeid"] == raw_id.removeprefix("8:")
    assert payload["acsScope"] == "chat,voip"
    assert payload["csi"] == str(int(T0.timestamp()))


def test_tokens_issued_in_the_same_instant_differ(store: IdentityStore) -> None:
    raw_id = store.create_identity(T0)
    first, _ = store.issue_access_token(raw_id, ["chat"], 60, T0)
    second, _ = store.issue_access_token(raw_id, ["chat"], 60, T0)
    assert first != second
    assert decode_access_token(KEY, second, now=T0).raw_id == raw_id


def test_default_expiry_is_24_hours(store: IdentityStore) -> None:
    raw_id = store.create_identity(T0)
    _, expires_on = store.issue_access_token(raw_id, ["chat"], None, T0)
    assert expires_on - T0 == timedelta(hours=24)


@pytest.mark.parametrize("minutes", [59, 1441, 0, -5, "60", 60.5, True])
def test_expiry_outside_60_to_1440_minutes_is_refused(store: IdentityStore, minutes) -> None:
    raw_id = store.create_identity(T0)
    with pytest.raises(AcsError) as caught:
        store.issue_access_token(raw_id, ["chat"], minutes, T0)
    assert caught.value.status == 400
    assert caught.value.target == "expiresInMinutes"


@pytest.mark.parametrize("scopes", [[], ["chat", "calls"], ["CHAT"], [None]])
def test_unknown_or_empty_scopes_are_refused(store: IdentityStore, scopes) -> None:
    raw_id = store.create_identity(T0)
    with pytest.raises(AcsError) as caught:
        store.issue_access_token(raw_id, scopes, 60, T0)
    assert caught.value.status == 400


def test_revocation_refuses_earlier_tokens_but_not_later_ones_in_the_same_instant(
    store: IdentityStore,
) -> None:
    raw_id = store.create_identity(T0)
    before, _ = store.issue_access_token(raw_id, ["chat"], 60, T0)
    assert store.tokens_valid_after(raw_id) is None
    store.revoke_access_tokens(raw_id, T0)
    after, _ = store.issue_access_token(raw_id, ["chat"], 60, T0)
    current = store.token_generation(raw_id)
    assert generation_of(before) < current
    assert generation_of(after) == current
    assert store.tokens_valid_after(raw_id) == T0


def test_deleted_identity_is_gone_and_cannot_get_tokens(store: IdentityStore) -> None:
    raw_id = store.create_identity(T0)
    store.delete_identity(raw_id, T0)
    assert not store.identity_exists(raw_id)
    assert store.token_generation(raw_id) is None
    with pytest.raises(AcsError) as caught:
        store.issue_access_token(raw_id, ["chat"], 60, T0)
    assert caught.value.status == 404
    with pytest.raises(AcsError) as caught:
        store.revoke_access_tokens(raw_id, T0)
    assert caught.value.status == 404
    store.delete_identity(raw_id, T0)  # deleting again succeeds


def test_unknown_identity_is_not_found(store: IdentityStore) -> None:
    with pytest.raises(AcsError) as caught:
        store.delete_identity(f"8:acs:{RESOURCE}_nobody", T0)
    assert caught.value.status == 404


def test_decoding_refuses_expired_tampered_and_foreign_tokens(store: IdentityStore) -> None:
    raw_id = store.create_identity(T0)
    token, expires_on = store.issue_access_token(raw_id, ["chat.join"], 60, T0)
    assert decode_access_token(KEY, token, now=expires_on - timedelta(seconds=1)).raw_id == raw_id
    header, payload, signature = token.split(".")
    claims = json.loads(base64.b64decode(payload + "=="))
    claims["acsScope"] = "chat"
    tampered = f"{header}.{_b64url(claims)}.{signature}"
    other_key = derive_signing_key(b"\x02" * 64)
    for key, candidate, now in [
        (KEY, token, expires_on),
        (KEY, token, expires_on + timedelta(days=1)),
        (other_key, token, T0),
        (KEY, tampered, T0),
        (KEY, "not.a.token", T0),
    ]:
        with pytest.raises(AcsError) as caught:
            decode_access_token(key, candidate, now=now)
        assert caught.value.status == 401


def _b64url(data: dict) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).decode().rstrip("=")


def test_unsigned_alg_none_token_is_refused() -> None:
    claims = {"skypeid": "acs:x", "acsScope": "chat", "resourceId": RESOURCE, "iat": 1, "gen": 0}
    claims["exp"] = int((T0 + timedelta(hours=1)).timestamp())
    token = _b64url({"alg": "none", "typ": "JWT"}) + "." + _b64url(claims) + "."
    with pytest.raises(AcsError) as caught:
        decode_access_token(KEY, token, now=T0)
    assert caught.value.status == 401


def test_many_minted_tokens_decode_with_the_sdks_own_parser(store: IdentityStore) -> None:
    # The chat SDK decodes the payload with the standard base64 alphabet; a '-' or '_' breaks it.
    scope_sets = [["chat"], ["chat", "voip"], ["chat.join"], ["chat.join.limited", "voip.join"]]
    for n in range(400):
        raw_id = store.create_identity(T0)
        now = T0 + timedelta(seconds=n * 7919, microseconds=n * 37)
        expires = now + timedelta(minutes=60 + n % 1381)
        token = mint_access_token(
            KEY,
            raw_id=raw_id,
            resource_id=RESOURCE,
            scopes=scope_sets[n % len(scope_sets)],
            generation=n,
            issued_at=now,
            expires_at=expires,
        )
        payload = token.split(".")[1]
        assert "-" not in payload and "_" not in payload
        assert chat_decode(token).expires_on == int(expires.timestamp())
        assert identity_decode(token).expires_on == int(expires.timestamp())


def test_minting_escapes_characters_that_would_need_url_safe_base64() -> None:
    # Plain JSON of these ids has '>', '?' or '~' ending a 3-byte group, which encodes to '-'/'_'.
    for n in range(30):
        raw_id = "8:acs:" + ">" * n + "?~\x7f\u00e9"
        token = mint_access_token(
            KEY,
            raw_id=raw_id,
            resource_id=RESOURCE,
            scopes=["chat"],
            generation=0,
            issued_at=T0,
            expires_at=T0 + timedelta(hours=1),
        )
        assert chat_decode(token).expires_on == int((T0 + timedelta(hours=1)).timestamp())
        assert decode_access_token(KEY, token, now=T0).raw_id == raw_id
