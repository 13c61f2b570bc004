"""CommunicationIdentifierModel in and out of the chat API.

Requests carry ``{"rawId"?, "communicationUser": {"id"}}`` (the Python SDK never sends ``kind``);
responses carry ``rawId`` and the matching sub-object, and the SDK rebuilds identifiers from
``rawId``. Only ACS users can ever be participants here: phone numbers and Teams identities are
well-formed but never exist in the emulator's identity store, so they end up in
``invalidParticipants`` like unknown ACS users do on the real service.
"""

from __future__ import annotations

import re
from typing import Any

from ..errors import AcsError, bad_request

# ACS users: `8:acs:<resource GUID>_<user part>`; sovereign-cloud and spool variants share the
# shape. A raw id outside these patterns (e.g. `8:acs:fakeid===`) makes the whole request fail with
# "Identifier format is invalid", as the real service does.
_ACS_USER = re.compile(r"8:(?:acs|spool|dod-acs|gcch-acs):[0-9A-Za-z-]{1,64}_[0-9A-Za-z-]{1,128}")
_GUID = r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}"
_OTHER_KINDS = re.compile(
    rf"4:\+?[0-9]{{1,15}}|8:(?:orgid|dod|gcch|teamsvisitor):{_GUID}|28:(?:orgid|dod|gcch):{_GUID}"
)


def is_valid_raw_id(raw_id: str) -> bool:
    """True when ``raw_id`` has the form of an identifier ACS accepts."""
    return bool(_ACS_USER.fullmatch(raw_id) or _OTHER_KINDS.fullmatch(raw_id))


def invalid_identifier(raw_id: str) -> AcsError:
    return bad_request(f"Identifier format is invalid ({raw_id}).", target=raw_id)


def parse_identifier(value: Any, *, field: str) -> str:
    """The raw id named by a CommunicationIdentifierModel, or a 400 naming ``field``.

    ``rawId`` wins; without it the ``communicationUser.id`` is used. When both are present they
    must agree, since the SDK reports partial failures by ``communicationUser.id``.
    """
    if not isinstance(value, dict):
        raise bad_request(f"'{field}' must be a communication identifier object.", target=field)
    raw_id = value.get("rawId")
    if raw_id is not None and not isinstance(raw_id, str):
        raise bad_request(f"'{field}.rawId' must be a string.", target=field)
    user = value.get("communicationUser")
    user_id = None
    if user is not None:
        if not isinstance(user, dict) or not isinstance(user.get("id"), str):
            raise bad_request(
                f"'{field}.communicationUser' must be an object with a string 'id'.", target=field
            )
        user_id = user["id"]
    if raw_id is None and user_id is None:
        raise bad_request(
            f"'{field}' must carry a 'rawId' or a 'communicationUser.id'.", target=field
        )
    if raw_id is not None and user_id is not None and raw_id != user_id:
        raise bad_request(
            f"'{field}.rawId' ({raw_id}) does not match 'communicationUser.id' ({user_id}).",
            target=field,
        )
    result = raw_id if raw_id is not None else user_id
    assert result is not None
    if not is_valid_raw_id(result):
        raise invalid_identifier(result)
    return result


def identifier_model(raw_id: str) -> dict[str, Any]:
    """The response form of a participant's identifier (only ACS users can be participants).

    Without ``kind``, as recordings of the real 2024-03-07 service show (the spec makes it
    optional, and the SDK rebuilds identifiers from ``rawId``).
    """
    return {"rawId": raw_id, "communicationUser": {"id": raw_id}}
