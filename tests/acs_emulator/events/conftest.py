"""Fixtures for the Event Grid tests: webhook receivers and an emulator that retries quickly.

* ``events_emulator``: one emulator process for these tests, with Event Grid's retry schedule
  scaled by 0.01 (10 s -> 100 ms) and seeded faults. Tests add their own subscriptions to it,
  through the control route, and remove them afterwards.
* ``receiver(**options)``: a new :class:`WebhookReceiver`, closed after the test.
* ``subscribe(receiver, **fields)``: a subscription to that receiver, validated, removed after.
* ``chat``: official-SDK helpers on ``events_emulator`` (users, a thread with members).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from azure.communication.chat import ChatClient, ChatParticipant, ChatThreadClient
from azure.communication.identity import CommunicationIdentityClient

from acs_emulator.process import EmulatorProcess
from tests.fixtures.emulator import AcsUser, chat_client_for, new_user

from .receiver import WebhookReceiver

FAST = ["--events-retry-scale", "0.01", "--fault-seed", "7"]


@pytest.fixture(scope="session")
def events_emulator(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EmulatorProcess]:
    with EmulatorProcess(tmp_path_factory.mktemp("acs-events"), extra_args=FAST) as emulator:
        yield emulator


@pytest.fixture
def receiver() -> Iterator[Callable[..., WebhookReceiver]]:
    made: list[WebhookReceiver] = []

    def make(**options: object) -> WebhookReceiver:
        made.append(WebhookReceiver(**options))  # type: ignore[arg-type]
        return made[-1]

    yield make
    for receiver in made:
        receiver.close()


@pytest.fixture
def subscribe(events_emulator: EmulatorProcess) -> Iterator[Callable[..., dict]]:
    names: list[str] = []

    def add(target: WebhookReceiver, *, wait: bool = True, **fields: object) -> dict:
        subscription = events_emulator.add_event_subscription(target.url, **fields)
        names.append(subscription["name"])
        if wait:
            subscription = events_emulator.wait_for_subscription(subscription["name"])
        return subscription

    yield add
    for name in names:
        if any(s["name"] == name for s in events_emulator.event_subscriptions()):
            events_emulator.remove_event_subscription(name)


@dataclass
class Member:
    user: AcsUser
    client: ChatClient


class Chat:
    """Users and threads on one emulator through the official sync SDK."""

    def __init__(self, emulator: EmulatorProcess) -> None:
        self.emulator = emulator
        self.identity = CommunicationIdentityClient.from_connection_string(
            emulator.connection_string, connection_verify=emulator.ca_bundle
        )
        self._clients: list[ChatClient] = []

    def member(self) -> Member:
        user = new_user(self.identity)
        client = chat_client_for(self.emulator, user.token)
        self._clients.append(client)
        return Member(user, client)

    def thread(self, owner: Member, *members: Member, topic: str = "Events") -> ChatThreadClient:
        participants = [
            ChatParticipant(identifier=m.user.identifier, display_name=f"member {i}")
            for i, m in enumerate(members)
        ]
        created = owner.client.create_chat_thread(topic, thread_participants=participants)
        return self.open(owner, created.chat_thread.id)

    def open(self, member: Member, thread_id: str) -> ChatThreadClient:
        return member.client.get_chat_thread_client(
            thread_id, connection_verify=self.emulator.ca_bundle
        )

    def close(self) -> None:
        for client in self._clients:
            client.close()


@pytest.fixture
def chat(events_emulator: EmulatorProcess) -> Iterator[Chat]:
    helper = Chat(events_emulator)
    yield helper
    helper.close()


def own_emulator(path: Path, *args: str, env: dict[str, str] | None = None) -> EmulatorProcess:
    """An emulator of the test's own, for command-line options; use it in ``with``."""
    return EmulatorProcess(path, extra_args=[*FAST, *args], env=env)
