"""Where the emulator's SDK tests run: the emulator, and optionally a real ACS resource.

Tests marked ``acs_live`` run twice, the way moto reruns its ``aws_verified`` tests on AWS:
once against the session emulator (``[emulator]``) and once against the real resource named by
``ACS_LIVE_CONNECTION_STRING`` (``[live]``), which is skipped, with the reason, when the variable
is not set. The fixtures below replace the ones of ``tests/fixtures/emulator.py`` of the same
names for the tests in this folder, so a test reaches whichever resource ``acs_target`` names
through the official SDKs alone. Only tests that hold for the real service are marked: no
control routes, faults or counters, and nothing that depends on the emulator's deviations.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass

import pytest
from azure.communication.chat import ChatClient, ChatThreadClient
from azure.communication.chat.aio import ChatClient as AsyncChatClient
from azure.communication.chat.aio import CommunicationTokenCredential as AsyncTokenCredential
from azure.communication.identity import CommunicationIdentityClient

from tests.fixtures.emulator import AcsUser, ChatUser, chat_client_for, new_user

LIVE_ENV = "ACS_LIVE_CONNECTION_STRING"


@dataclass(frozen=True)
class AcsTarget:
    """An ACS resource as the SDKs need it; ``ca_bundle`` is their ``connection_verify``."""

    name: str
    connection_string: str
    endpoint: str
    ca_bundle: str | bool


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if metafunc.definition.get_closest_marker("acs_live") and "acs_target" in (
        metafunc.fixturenames
    ):
        metafunc.parametrize("acs_target", ["emulator", "live"], indirect=True)


def _endpoint(connection_string: str) -> str:
    parts = dict(part.split("=", 1) for part in connection_string.split(";") if "=" in part)
    endpoint = {k.lower(): v for k, v in parts.items()}.get("endpoint", "")
    if not endpoint.startswith("https://"):
        raise pytest.UsageError(f"{LIVE_ENV} must hold endpoint=https://...;accesskey=...")
    return endpoint.rstrip("/")


@pytest.fixture
def acs_target(request: pytest.FixtureRequest) -> AcsTarget:
    """The session emulator, or (for the ``[live]`` variant of ``acs_live`` tests) real ACS."""
    if getattr(request, "param", "emulator") == "live":
        connection_string = os.environ.get(LIVE_ENV, "")
        if not connection_string:
            pytest.skip(f"{LIVE_ENV} is not set, so this test does not run on a real resource")
        return AcsTarget("live", connection_string, _endpoint(connection_string), True)
    emulator = request.getfixturevalue("acs_emulator")
    return AcsTarget(
        "emulator", emulator.connection_string, emulator.endpoint, str(emulator.ca_bundle)
    )


@pytest.fixture
def identity_client(acs_target: AcsTarget) -> CommunicationIdentityClient:
    return CommunicationIdentityClient.from_connection_string(
        acs_target.connection_string, connection_verify=acs_target.ca_bundle
    )


@pytest.fixture
def make_user(
    identity_client: CommunicationIdentityClient, acs_target: AcsTarget
) -> Iterator[Callable[..., AcsUser]]:
    """``make_user(scopes=("chat",))`` -> a fresh :class:`AcsUser` (deleted after, on live)."""
    made: list[AcsUser] = []

    def make(scopes: Sequence[str] = ("chat",)) -> AcsUser:
        made.append(new_user(identity_client, scopes))
        return made[-1]

    yield make
    if acs_target.name == "live":  # leave a real resource as it was found
        for user in made:
            with contextlib.suppress(Exception):
                identity_client.delete_user(user.identifier)


@pytest.fixture
def make_chat_client(
    acs_target: AcsTarget, make_user: Callable[..., AcsUser]
) -> Iterator[Callable[..., ChatUser]]:
    clients: list[ChatClient] = []

    def make(scopes: Sequence[str] = ("chat",)) -> ChatUser:
        user = make_user(scopes)
        clients.append(chat_client_for(acs_target, user.token))  # type: ignore[arg-type]
        return ChatUser(user, clients[-1])

    yield make
    for client in clients:
        client.close()


@pytest.fixture
def thread_client(acs_target: AcsTarget) -> Callable[[ChatClient, str], ChatThreadClient]:
    def open_thread(client: ChatClient, thread_id: str) -> ChatThreadClient:
        return client.get_chat_thread_client(thread_id, connection_verify=acs_target.ca_bundle)

    return open_thread


@pytest.fixture
def make_async_chat_client(
    acs_target: AcsTarget, make_user: Callable[..., AcsUser]
) -> Callable[..., tuple[AcsUser, AsyncChatClient]]:
    def make(scopes: Sequence[str] = ("chat",)) -> tuple[AcsUser, AsyncChatClient]:
        user = make_user(scopes)
        client = AsyncChatClient(
            acs_target.endpoint,
            AsyncTokenCredential(user.token),
            connection_verify=acs_target.ca_bundle,
        )
        return user, client

    return make
