"""Property-based run of Microsoft's published Chat and Identity specs against the emulator.

Schemathesis generates requests (valid and invalid) for every operation of
`acs_emulator/specs/`; each answer must not be a server error and must match the spec: documented
status code, documented content type, and a body that validates against the response schema.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import schemathesis
from azure.communication.chat import (
    ChatClient,
    ChatParticipant,
    CommunicationTokenCredential,
)
from azure.communication.identity import CommunicationIdentityClient
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

import acs_emulator
from acs_emulator.process import EmulatorProcess

from .schema_hooks import (
    HmacAuth,
    Pool,
    World,
    install_chat_hooks,
    install_identity_hooks,
)

SPECS = Path(acs_emulator.__file__).parent / "specs"
CHAT_SPEC = SPECS / "Chat" / "stable" / "2024-03-07" / "communicationserviceschat.json"
IDENTITY_SPEC = SPECS / "Identity" / "stable" / "2023-10-01" / "CommunicationIdentity.json"

# Enough to reach every operation's main branches in about a minute for both specs together.
MAX_EXAMPLES = 100

CONFIG = schemathesis.Config.from_dict(
    {
        # Valid and invalid requests; the Authorization header comes from the fixture instead.
        "generation": {"mode": "all", "with-security-parameters": False},
        "phases": {
            "examples": {"enabled": False},
            "coverage": {"enabled": False},
            "stateful": {"enabled": False},
        },
    }
)

chat_schema = schemathesis.openapi.from_path(CHAT_SPEC, config=CONFIG)
identity_schema = schemathesis.openapi.from_path(IDENTITY_SPEC, config=CONFIG)
install_chat_hooks(chat_schema)
install_identity_hooks(identity_schema)

HYPOTHESIS_SETTINGS = settings(
    max_examples=MAX_EXAMPLES,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)


def documented_status_code(ctx, response, case):
    """`status_code_conformance`, except that 400 and 404 are always allowed.

    The Chat spec declares only 401/403/429/503 besides the success code, yet the real service
    answers malformed requests with 400 and unknown threads/messages with 404, and the SDK maps
    those to its exceptions; the emulator does the same on purpose. Anything else must be declared.
    """
    if response.status_code in (400, 404):
        return None
    return status_code_conformance(ctx, response, case)


def declared_content_type(ctx, response, case):
    """`content_type_conformance` for responses that have a body.

    Swagger 2 declares `produces` per operation, not per response, so it cannot say that a 204 (or
    the empty 200 of typing notifications and read receipts) carries no body and no Content-Type.
    """
    if not response.content:
        return None
    return content_type_conformance(ctx, response, case)


CHECKS = [
    not_a_server_error,
    documented_status_code,
    declared_content_type,
    response_schema_conformance,
]


@pytest.fixture(scope="module")
def schema_emulator(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EmulatorProcess]:
    # An emulator of its own: the run floods it with junk data and deletes things, which other
    # tests sharing the session emulator should not have to put up with.
    with EmulatorProcess(tmp_path_factory.mktemp("schema-emulator")) as emulator:
        yield emulator


@pytest.fixture(scope="module")
def world(schema_emulator: EmulatorProcess) -> Iterator[World]:
    """Users, threads and messages, created with the official SDKs, for the hooks to refer to."""
    verify = str(schema_emulator.ca_bundle)
    identity = CommunicationIdentityClient.from_connection_string(
        schema_emulator.connection_string, connection_verify=verify
    )
    me, my_token = identity.create_user_and_token(scopes=["chat"])
    stranger, stranger_token = identity.create_user_and_token(scopes=["chat"])
    others = [identity.create_user() for _ in range(4)]

    def chat_client(token: str) -> ChatClient:
        return ChatClient(
            schema_emulator.endpoint,
            CommunicationTokenCredential(token),
            connection_verify=verify,
        )

    def make_thread(client: ChatClient, topic: str, members: list) -> tuple[str, list[str]]:
        participants = [ChatParticipant(identifier=user, display_name="member") for user in members]
        thread_id = client.create_chat_thread(
            topic, thread_participants=participants
        ).chat_thread.id
        thread = client.get_chat_thread_client(thread_id, connection_verify=verify)
        message_ids = [thread.send_message(f"{topic} message {n}").id for n in range(3)]
        return thread_id, message_ids

    mine = chat_client(my_token.token)
    theirs = chat_client(stranger_token.token)
    member_threads = dict(make_thread(mine, f"member {n}", [stranger, *others]) for n in range(3))
    # A message by someone else in one of my threads: editing/deleting it is not allowed.
    first_thread = next(iter(member_threads))
    their_view = theirs.get_chat_thread_client(first_thread, connection_verify=verify)
    member_threads[first_thread].append(their_view.send_message("from the stranger").id)
    foreign_threads = dict([make_thread(theirs, "not mine", others[:2])])
    disposable = [make_thread(mine, f"disposable {n}", [])[0] for n in range(4)]

    Pool.world = World(
        chat_token=my_token.token,
        member_threads=member_threads,
        foreign_threads=foreign_threads,
        disposable_threads=disposable,
        other_users=[u.properties["id"] for u in [stranger, *others]],
        identities=[identity.create_user().properties["id"] for _ in range(4)],
        disposable_identities=[identity.create_user().properties["id"] for _ in range(6)],
    )
    yield Pool.world
    Pool.world = None


@chat_schema.parametrize()
@HYPOTHESIS_SETTINGS
def test_chat_operation_conforms_to_spec(
    case: schemathesis.Case, schema_emulator: EmulatorProcess, world: World
) -> None:
    response = case.call(
        base_url=schema_emulator.endpoint,
        headers={"Authorization": f"Bearer {world.chat_token}"},
        verify=str(schema_emulator.ca_bundle),
        timeout=30,
    )
    case.validate_response(response, checks=CHECKS)


@identity_schema.parametrize()
@HYPOTHESIS_SETTINGS
def test_identity_operation_conforms_to_spec(
    case: schemathesis.Case, schema_emulator: EmulatorProcess, world: World
) -> None:
    response = case.call(
        base_url=schema_emulator.endpoint,
        auth=HmacAuth(schema_emulator.endpoint, schema_emulator.access_key),
        verify=str(schema_emulator.ca_bundle),
        timeout=30,
    )
    case.validate_response(response, checks=CHECKS)
