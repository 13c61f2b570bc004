"""Who is calling: HMAC-signed requests (Identity) and bearer access tokens (Chat)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Principal:
    """The authenticated caller of one request.

    ``raw_id`` is the ACS user (``8:acs:<resource>_<user>``) for bearer tokens and ``None`` for a
    request signed with the access key, which acts for the resource itself.
    """

    raw_id: str | None
    scopes: frozenset[str] = frozenset()

    @property
    def is_resource(self) -> bool:
        return self.raw_id is None
