"""Identities and their access tokens (CommunicationIdentity 2023-10-01), kept in SQLite.

Each identity row carries a token generation. Tokens embed the generation they were issued at;
revoking tokens or deleting the identity bumps it, which refuses every earlier token at once
while tokens issued afterwards, even within the same clock tick, stay valid.

Deviations from ACS, on purpose: revocation takes effect immediately (ACS: up to 15 minutes), and
a deleted identity's row is kept (flagged) so its id is never handed out again.
"""

from __future__ import annotations

import sqlite3
import uuid
from collections.abc import Callable, Iterable
from datetime import datetime, timedelta

from ..auth.jwt import mint_access_token
from ..auth.scopes import TOKEN_SCOPES
from ..db import transaction
from ..errors import bad_request, not_found

MIN_EXPIRES_IN_MINUTES = 60
MAX_EXPIRES_IN_MINUTES = 1440
DEFAULT_EXPIRES_IN_MINUTES = 1440

_SCHEMA = """
CREATE TABLE IF NOT EXISTS identities (
    raw_id TEXT PRIMARY KEY,
    created_on TEXT NOT NULL,
    deleted_on TEXT,
    token_generation INTEGER NOT NULL DEFAULT 0,
    tokens_valid_after TEXT
)
"""


def check_scopes(scopes: object, *, field: str = "scopes") -> tuple[str, ...]:
    """The requested token scopes, de-duplicated in order, or a 400 naming the bad value."""
    if not isinstance(scopes, list) or not scopes:
        raise bad_request(f"'{field}' must be a non-empty list of scopes.", target=field)
    checked: list[str] = []
    for scope in scopes:
        if not isinstance(scope, str) or scope not in TOKEN_SCOPES:
            allowed = ", ".join(sorted(TOKEN_SCOPES))
            raise bad_request(f"Invalid scope {scope!r}; allowed: {allowed}.", target=field)
        if scope not in checked:
            checked.append(scope)
    return tuple(checked)


def check_expires_in_minutes(value: object) -> int:
    """``expiresInMinutes`` within [60, 1440]; absent (None) means the 24 h default."""
    if value is None:
        return DEFAULT_EXPIRES_IN_MINUTES
    if isinstance(value, bool) or not isinstance(value, int):
        raise bad_request("'expiresInMinutes' must be an integer.", target="expiresInMinutes")
    if not MIN_EXPIRES_IN_MINUTES <= value <= MAX_EXPIRES_IN_MINUTES:
        raise bad_request(
            f"'expiresInMinutes' must be between {MIN_EXPIRES_IN_MINUTES} and "
            f"{MAX_EXPIRES_IN_MINUTES} minutes, not {value}.",
            target="expiresInMinutes",
        )
    return value


class IdentityStore:
    def __init__(
        self,
        conn: sqlite3.Connection,
        *,
        resource_id: str,
        signing_key: bytes,
        clock: Callable[[], datetime],
    ) -> None:
        self.conn = conn
        self.resource_id = resource_id
        self.signing_key = signing_key
        # Used by callers that have no request time of their own (the auth middleware).
        self.clock = clock
        conn.execute(_SCHEMA)
        # Token generations of live identities, read on every chat request. This store is the
        # only writer of the table, so revoking and deleting keep it right; identities that do
        # not exist are not remembered (anyone can name one).
        self._generations: dict[str, int] = {}

    def _generation(self, raw_id: str) -> int | None:
        generation = self._generations.get(raw_id)
        if generation is not None:
            return generation
        row = self.conn.execute(
            "SELECT token_generation FROM identities WHERE raw_id = ? AND deleted_on IS NULL",
            (raw_id,),
        ).fetchone()
        if row is None:
            return None
        generation = self._generations[raw_id] = int(row["token_generation"])
        return generation

    def _require(self, raw_id: str) -> int:
        generation = self._generation(raw_id)
        if generation is None:
            raise not_found(f"Identity '{raw_id}' was not found.", target="id")
        return generation

    def create_identity(self, now: datetime) -> str:
        """CommunicationIdentity_Create: a new ``8:acs:<resource>_<user>`` identity."""
        raw_id = f"8:acs:{self.resource_id}_{uuid.uuid4()}"
        self.conn.execute(
            "INSERT INTO identities (raw_id, created_on) VALUES (?, ?)", (raw_id, now.isoformat())
        )
        return raw_id

    def issue_access_token(
        self,
        raw_id: str,
        scopes: Iterable[str],
        expires_in_minutes: int | None,
        now: datetime,
    ) -> tuple[str, datetime]:
        """CommunicationIdentity_IssueAccessToken: ``(token, expires_on)``; 404 if no identity."""
        scopes = check_scopes(list(scopes))
        minutes = check_expires_in_minutes(expires_in_minutes)
        generation = self._require(raw_id)
        expires_on = now + timedelta(minutes=minutes)
        token = mint_access_token(
            self.signing_key,
            raw_id=raw_id,
            resource_id=self.resource_id,
            scopes=scopes,
            generation=generation,
            issued_at=now,
            expires_at=expires_on,
        )
        return token, expires_on

    def revoke_access_tokens(self, raw_id: str, now: datetime) -> None:
        """CommunicationIdentity_RevokeAccessTokens: every token issued so far stops working."""
        with transaction(self.conn):
            self._require(raw_id)
            self._generations.pop(raw_id, None)
            self.conn.execute(
                "UPDATE identities SET token_generation = token_generation + 1,"
                " tokens_valid_after = ? WHERE raw_id = ?",
                (now.isoformat(), raw_id),
            )

    def delete_identity(self, raw_id: str, now: datetime) -> None:
        """CommunicationIdentity_Delete: revoke all tokens and forget the identity.

        Deleting an identity that is already deleted succeeds again (the call is idempotent);
        an id that never existed is a 404.
        """
        with transaction(self.conn):
            row = self.conn.execute(
                "SELECT deleted_on FROM identities WHERE raw_id = ?", (raw_id,)
            ).fetchone()
            if row is None:
                raise not_found(f"Identity '{raw_id}' was not found.", target="id")
            self._generations.pop(raw_id, None)
            if row["deleted_on"] is None:
                self.conn.execute(
                    "UPDATE identities SET deleted_on = ?, token_generation = token_generation + 1,"
                    " tokens_valid_after = ? WHERE raw_id = ?",
                    (now.isoformat(), now.isoformat(), raw_id),
                )

    def identity_exists(self, raw_id: str) -> bool:
        return self._generation(raw_id) is not None

    def token_generation(self, raw_id: str) -> int | None:
        """The generation a token must carry to be valid; None if the identity is gone."""
        return self._generation(raw_id)

    def tokens_valid_after(self, raw_id: str) -> datetime | None:
        """When tokens were last revoked (or the identity deleted); None if never."""
        row = self.conn.execute(
            "SELECT tokens_valid_after FROM identities WHERE raw_id = ?", (raw_id,)
        ).fetchone()
        if row is None or row["tokens_valid_after"] is None:
            return None
        return datetime.fromisoformat(row["tokens_valid_after"])
