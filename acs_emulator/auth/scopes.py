"""Which credential each operation takes, and which token scopes may call each chat operation.

Routes are named after the spec's operationIds; everything here is keyed on those names.
Scope rules (ACS docs, "Identity model"): ``chat`` can do everything; ``chat.join`` cannot
create, update or delete threads; ``chat.join.limited`` additionally cannot add or remove
participants. ``voip`` and ``voip.join`` grant nothing on chat.
"""

from __future__ import annotations

from enum import Enum

TOKEN_SCOPES = frozenset({"chat", "voip", "chat.join", "chat.join.limited", "voip.join"})

IDENTITY_OPERATIONS = frozenset(
    {
        "CommunicationIdentity_Create",
        "CommunicationIdentity_Delete",
        "CommunicationIdentity_IssueAccessToken",
        "CommunicationIdentity_RevokeAccessTokens",
        "CommunicationIdentity_ExchangeTeamsUserAccessToken",
    }
)

_FULL = frozenset({"chat"})
_JOIN = frozenset({"chat", "chat.join"})
_ANY_CHAT = frozenset({"chat", "chat.join", "chat.join.limited"})

# operationId -> the scopes, any one of which allows the call.
CHAT_OPERATION_SCOPES: dict[str, frozenset[str]] = {
    "Chat_CreateChatThread": _FULL,
    "Chat_DeleteChatThread": _FULL,
    "ChatThread_UpdateChatThreadProperties": _FULL,
    "ChatThread_AddChatParticipants": _JOIN,
    "ChatThread_RemoveChatParticipant": _JOIN,
    "Chat_ListChatThreads": _ANY_CHAT,
    "ChatThread_GetChatThreadProperties": _ANY_CHAT,
    "ChatThread_SendChatMessage": _ANY_CHAT,
    "ChatThread_ListChatMessages": _ANY_CHAT,
    "ChatThread_GetChatMessage": _ANY_CHAT,
    "ChatThread_UpdateChatMessage": _ANY_CHAT,
    "ChatThread_DeleteChatMessage": _ANY_CHAT,
    "ChatThread_ListChatParticipants": _ANY_CHAT,
    "ChatThread_SendTypingNotification": _ANY_CHAT,
    "ChatThread_SendChatReadReceipt": _ANY_CHAT,
    "ChatThread_ListChatReadReceipts": _ANY_CHAT,
}

# Any route named like a chat operation needs a token, even one missing from the table above
# (it then needs the full "chat" scope), so a new route can never be reached unauthenticated.
CHAT_PREFIXES = ("Chat_", "ChatThread_")

# Emulator control routes; health needs no credential.
CONTROL_OPERATIONS = frozenset(
    {
        "Emulator_GetStats",
        "Emulator_ResetStats",
        "Emulator_ListEventSubscriptions",
        "Emulator_PutEventSubscription",
        "Emulator_GetEventSubscription",
        "Emulator_DeleteEventSubscription",
    }
)
# The validation link of a manual Event Grid handshake carries its own secret code.
PUBLIC_OPERATIONS = frozenset({"Emulator_Health", "Emulator_ValidateEventSubscription"})


class AuthKind(Enum):
    NONE = "none"
    HMAC = "hmac"  # signed with the access key (identity)
    BEARER = "bearer"  # a user access token (chat)
    ACCESS_KEY = "access-key"  # HMAC or the x-emulator-key header (control routes)


def auth_kind(operation_id: str | None) -> AuthKind:
    if operation_id in IDENTITY_OPERATIONS:
        return AuthKind.HMAC
    if operation_id is not None and operation_id.startswith(CHAT_PREFIXES):
        return AuthKind.BEARER
    if operation_id in CONTROL_OPERATIONS:
        return AuthKind.ACCESS_KEY
    return AuthKind.NONE


def is_acs_operation(operation_id: str | None) -> bool:
    """True for the 21 ACS operations (not the emulator's own control routes)."""
    return operation_id is not None and (
        operation_id in IDENTITY_OPERATIONS or operation_id.startswith(CHAT_PREFIXES)
    )


def scopes_allow(operation_id: str, scopes: frozenset[str]) -> bool:
    """Whether a token with ``scopes`` may call the chat operation ``operation_id``."""
    return not CHAT_OPERATION_SCOPES.get(operation_id, _FULL).isdisjoint(scopes)
