"""Fixtures for the live websocket tests: the ASGI app on the emulator, signed-in sockets.

* ``live_site``: the site on the session's emulator, a fresh relay, a fast poll interval.
* ``people``: alice, bob and carol as site users; ``thread`` one alice created with bob in it.
* ``ws(user)``: a connected ``Socket`` (a ``WebsocketCommunicator`` with that user's session
  cookie and an allowed Origin) with helpers to wait for frames of a given type.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass
from typing import Any

import pytest
from channels.db import database_sync_to_async
from channels.testing import WebsocketCommunicator

ORIGIN = b"http://127.0.0.1:8000"
# How long a test waits for a frame; polls run every POLL seconds here.
WAIT = 10.0
POLL = 0.2


@pytest.fixture
async def live_site(acs_settings: Any, settings: Any, transactional_db: None) -> AsyncIterator[Any]:
    from django.core.cache import cache

    from chat import gateway
    from chat.relay.relay import reset_relay

    # The cache holds per-user state (send reservations in flight, bad-frame penalties) and
    # user ids repeat between tests.
    await database_sync_to_async(cache.clear)()
    settings.RELAY_POLL_INTERVAL = POLL
    settings.CHANNEL_LAYERS = {"default": {"BACKEND": "chat.layers.InProcessChannelLayer"}}
    gateway.reset()
    await reset_relay()
    yield settings
    await reset_relay()
    await gateway.aclose()
    gateway.reset()


@dataclass
class People:
    alice: Any
    bob: Any
    carol: Any


@pytest.fixture
async def people(live_site: Any, django_user_model: Any) -> People:
    def make() -> People:
        users = []
        for name in ("alice", "bob", "carol"):
            users.append(
                django_user_model.objects.create_user(name, password="x", first_name=name.title())
            )
        return People(*users)

    return await database_sync_to_async(make)()


@pytest.fixture
async def thread(people: People) -> str:
    """A thread alice created with bob (who sees all history)."""
    from chat.actions.threads import EPOCH, ParticipantChoice, do_create_thread

    def create() -> str:
        created = do_create_thread(
            people.alice, "Live", [ParticipantChoice(people.bob, EPOCH)], "live-thread"
        )
        return created.thread_id

    return await database_sync_to_async(create)()


def signed_in_client(user: Any) -> Any:
    """A Django test Client with a session for `user` in the database."""
    from django.test import Client

    client = Client()
    client.force_login(user)
    return client


def cookie_of(client: Any) -> str:
    """The Cookie header value that carries a test Client's session."""
    from django.conf import settings

    return f"{settings.SESSION_COOKIE_NAME}={client.cookies[settings.SESSION_COOKIE_NAME].value}"


def session_cookie(user: Any) -> str:
    """A session for `user` in the database, as the Cookie header value."""
    return cookie_of(signed_in_client(user))


class Socket:
    """A connected test socket; `next(type)` waits for the next frame of that type."""

    def __init__(self, communicator: WebsocketCommunicator) -> None:
        self.communicator = communicator
        self.cookie = ""  # the Cookie header it was opened with
        self.frames: list[dict] = []  # every frame received, in order
        self.unread: list[dict] = []  # received but not yet taken by `next`

    async def send(self, frame: Any) -> None:
        await self.communicator.send_json_to(frame)

    async def send_text(self, text: str) -> None:
        await self.communicator.send_to(text_data=text)

    async def receive(self, within: float = WAIT) -> dict:
        frame = json.loads(await self.communicator.receive_from(timeout=within))
        self.frames.append(frame)
        return frame

    async def next(self, frame_type: str, within: float = WAIT, **match: Any) -> dict:
        """The first not yet taken frame of a type (and matching `match`), waiting for it.

        Frames passed over stay available to later calls, so the order in which a test asks
        for an ack and an event does not matter.
        """

        def matches(frame: dict) -> bool:
            return frame.get("type") == frame_type and all(
                frame.get(k) == v for k, v in match.items()
            )

        for frame in self.unread:
            if matches(frame):
                self.unread.remove(frame)
                return frame
        loop = asyncio.get_running_loop()
        deadline = loop.time() + within
        while True:
            left = deadline - loop.time()
            if left <= 0:
                raise AssertionError(
                    f"no {frame_type} frame {match} within {within} s: {self.frames}"
                )
            frame = await self.receive(within=left)
            if matches(frame):
                return frame
            self.unread.append(frame)

    async def event(self, kind: str, within: float = WAIT) -> dict:
        """The next event frame of an event kind (message.added, receipt, ...)."""
        return await self.next("event", within=within, kind=kind)

    async def message(self, kind: str, message_id: str, within: float = WAIT) -> dict:
        """The next `kind` event about one message (others, e.g. system messages, are skipped)."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + within
        for frame in self.unread:
            if frame.get("kind") == kind and frame["data"].get("id") == message_id:
                self.unread.remove(frame)
                return frame
        while True:
            left = deadline - loop.time()
            if left <= 0:
                raise AssertionError(f"no {kind} for {message_id} within {within} s: {self.frames}")
            frame = await self.receive(within=left)
            if (
                frame.get("type") == "event"
                and frame.get("kind") == kind
                and frame["data"].get("id") == message_id
            ):
                return frame
            self.unread.append(frame)

    def events(self) -> list[dict]:
        return [f for f in self.frames if f.get("type") == "event"]

    async def drain(self, quiet: float = 1.0) -> list[dict]:
        """Receive until nothing arrives for `quiet` seconds; return what came."""
        got = []
        while not await self.communicator.receive_nothing(timeout=quiet):
            got.append(await self.receive())
        return got

    async def nothing(self, within: float = 1.0) -> None:
        assert await self.communicator.receive_nothing(timeout=within), self.frames

    async def request(self, frame: dict, within: float = WAIT) -> dict:
        """Send an action frame and return its ack."""
        await self.send(frame)
        return await self.next("ack", within=within, request=frame["request"])

    async def subscribe(self, thread_id: str, cursor: int | None = None) -> dict:
        await self.send({"action": "subscribe", "thread": thread_id, "cursor": cursor})
        return await self.next("subscribed", thread=thread_id)

    async def close(self) -> None:
        await self.communicator.disconnect()


@pytest.fixture
async def ws(live_site: Any) -> AsyncIterator[Callable[..., Any]]:
    """``await ws(user)`` -> a connected :class:`Socket` (closed after the test)."""
    from chatsite.asgi import application

    opened: list[Socket] = []

    async def connect(
        user: Any,
        origin: bytes = ORIGIN,
        *,
        cookies: str = "",
        headers: Sequence[tuple[bytes, bytes]] = (),
        session: Any = None,
    ) -> Socket:
        """Sign in as ``user`` (with a new session, or that of the test Client ``session``);
        ``cookies`` are added to the session cookie (``"a=1; b=2"``)."""
        if session is not None:
            cookie = cookie_of(session)
        else:
            cookie = await database_sync_to_async(session_cookie)(user)
        if cookies:
            cookie = f"{cookie}; {cookies}"
        communicator = WebsocketCommunicator(
            application,
            "/ws/chat/",
            headers=[
                (b"origin", origin),
                (b"cookie", cookie.encode()),
                (b"host", b"127.0.0.1:8000"),
                *headers,
            ],
        )
        connected, _ = await communicator.connect()
        assert connected
        socket = Socket(communicator)
        socket.cookie = cookie
        opened.append(socket)
        return socket

    yield connect
    for socket in opened:
        # Some were closed already, by the test or by the server; a receive that timed out
        # has cancelled the application, whose CancelledError must not fail the teardown (and
        # with it every test after).
        with contextlib.suppress(Exception, asyncio.CancelledError):
            await socket.close()


def run(function: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    """Await a blocking call (ORM, sync SDK) from a test."""
    return database_sync_to_async(function)(*args, **kwargs)


async def a_later_second() -> None:
    """Wait until the wall clock (shared with the emulator) is in a later second than now: ACS
    reports times to the second, so things done after this are after everything done before."""
    from datetime import UTC, datetime

    from tests.relay.conftest import wait_for

    now = datetime.now(UTC).replace(microsecond=0)
    await wait_for(lambda: datetime.now(UTC).replace(microsecond=0) > now, "a later second")
