"""Fixtures for the chat service tests.

Store tests use a ``ChatStore`` on a fresh SQLite file with a hand-driven clock; SDK tests use the
session emulator from ``tests/fixtures/emulator.py``.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from acs_emulator.chat import ChatStore
from acs_emulator.chat.models import ParticipantSpec
from acs_emulator.db import open_database

from .helpers import RawChat

RESOURCE = "2dee53b4-368b-45b4-ab52-8493fb117652"


class Clock:
    """A clock that only moves when told to, so history and ordering rules are exact."""

    def __init__(self) -> None:
        self.now = datetime(2024, 5, 1, 12, 0, 0, tzinfo=UTC)

    def tick(self, seconds: float = 1.0) -> datetime:
        self.now += timedelta(seconds=seconds)
        return self.now


class Users:
    """Identities known to the store (``identity_exists``)."""

    def __init__(self) -> None:
        self.known: set[str] = set()

    def new(self) -> str:
        raw_id = f"8:acs:{RESOURCE}_{uuid.uuid4()}"
        self.known.add(raw_id)
        return raw_id

    @staticmethod
    def unknown() -> str:
        return f"8:acs:{RESOURCE}_{uuid.uuid4()}"


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def users() -> Users:
    return Users()


@pytest.fixture
def store(tmp_path: Path, users: Users) -> Iterator[ChatStore]:
    conn = open_database(tmp_path / "emulator.sqlite3")
    yield ChatStore(conn, identity_exists=users.known.__contains__)
    conn.close()


@pytest.fixture
def thread(store: ChatStore, clock: Clock, users: Users) -> tuple[str, str, str]:
    """A store thread created by alice with bob: (thread id, alice, bob)."""
    alice, bob = users.new(), users.new()
    result = store.create_chat_thread(
        alice,
        topic="t",
        participants=[ParticipantSpec(bob)],
        repeatability_request_id=None,
        now=clock.tick(),
    )
    return result.thread.id, alice, bob


@pytest.fixture
def raw_chat(acs_emulator) -> Iterator[RawChat]:
    client = RawChat(acs_emulator.endpoint, str(acs_emulator.ca_bundle))
    yield client
    client.session.close()
