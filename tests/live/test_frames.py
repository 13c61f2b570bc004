"""The websocket refuses what the protocol does not allow, clearly, and stays usable."""

from __future__ import annotations

import json

import pytest
from channels.testing import WebsocketCommunicator

from chat.consumers import MAX_FRAME_CHARS
from chatsite.asgi import application
from tests.fixtures.outside import sdk_thread
from tests.live.conftest import ORIGIN, run, session_cookie

pytestmark = pytest.mark.django_db(transaction=True)


async def test_a_connection_without_a_session_is_closed_with_4401(live_site):
    communicator = WebsocketCommunicator(
        application, "/ws/chat/", headers=[(b"origin", ORIGIN), (b"host", b"127.0.0.1:8000")]
    )
    connected, _ = await communicator.connect()
    assert connected
    output = await communicator.receive_output(timeout=5)
    assert output == {"type": "websocket.close", "code": 4401}


async def test_a_foreign_origin_is_refused_even_with_a_valid_session(people, live_site):
    cookie = await run(session_cookie, people.alice)
    communicator = WebsocketCommunicator(
        application,
        "/ws/chat/",
        headers=[(b"origin", b"https://evil.example"), (b"host", b"127.0.0.1:8000"),
                 (b"cookie", cookie.encode())],
    )  # fmt: skip
    connected, _ = await communicator.connect()
    assert connected is False


@pytest.mark.parametrize(
    ("frame", "error"),
    [
        ("not json", "The frame is not valid JSON."),
        ("[1, 2]", "A frame must be a JSON object."),
        ('{"action": "shout", "thread": "x"}', "Unknown action."),
        ('{"thread": "x"}', "Unknown action."),
        ('{"action": "subscribe"}', "Missing field: thread."),
        ('{"action": "read", "thread": "19:abc@thread.v2"}', "Missing field: message."),
        ('{"action": "send", "thread": "19:abc@thread.v2", "content": "hi"}', "needs a request id"),
        ('{"action": "subscribe", "thread": "x", "request": {"a": 1}}', "request id must be"),
        ('{"action": "subscribe", "thread": "x", "request": "' + "r" * 65 + '"}', "too long"),
        ("x" * (MAX_FRAME_CHARS + 1), "The frame is too large."),
    ],
)
async def test_malformed_frames_get_an_error_and_the_socket_stays_open(
    people, ws, thread, frame, error
):
    socket = await ws(people.alice)
    await socket.send_text(frame)
    reply = await socket.next("error")
    assert error in reply["error"]
    # Still usable afterwards.
    assert (await socket.subscribe(thread))["thread"] == thread


async def test_binary_frames_are_refused(people, ws):
    socket = await ws(people.alice)
    await socket.communicator.send_to(bytes_data=b"\x00\x01")
    assert (await socket.next("error"))["error"] == "Frames must be JSON text."


async def test_field_errors_come_back_as_acks_when_a_request_id_is_given(people, ws, thread):
    socket = await ws(people.alice)
    base = {"action": "send", "thread": thread, "format": "text"}
    cases = [
        ({**base, "request": 1}, 400, "Missing field: content."),
        ({**base, "request": 2, "content": "x" * 8001}, 400, "longer than 8000"),
        ({**base, "request": 3, "content": "hi", "format": "markdown"}, 400, "Unknown message"),
        ({**base, "request": 4, "content": "hi", "clientId": 7}, 400, "Invalid client id."),
        ({**base, "request": 5, "content": "hi", "clientId": "not ok!"}, 400, "Invalid client"),
        ({**base, "request": 6, "content": "   "}, 400, "cannot be empty"),
        ({**base, "request": 7, "content": "<img src=x>", "format": "html"}, 400, "empty once"),
        ({**base, "request": 8, "content": "hi", "thread": "../etc"}, 404, "No such conversation"),
        (
            {"action": "subscribe", "thread": thread, "cursor": "5", "request": 9},
            400,
            "cursor must be",
        ),
        (
            {"action": "subscribe", "thread": thread, "cursor": -1, "request": 10},
            400,
            "cursor must be",
        ),
        (
            {"action": "edit", "thread": thread, "request": 11, "message": "abc", "content": "x"},
            404,
            "No such message",
        ),
    ]
    for frame, status, error in cases:
        ack = await socket.request(frame)
        assert ack["ok"] is False, frame
        assert ack["status"] == status, (frame, ack)
        assert error in ack["error"], (frame, ack)
    # Nothing was sent to the thread by any of them.

    def user_messages() -> list:
        client = sdk_thread(people.alice, thread)
        return [m for m in client.list_messages() if str(m.type.value) in ("text", "html")]

    assert [m.content.message for m in await run(user_messages)] == []


async def test_a_non_participant_cannot_subscribe_or_act(people, ws, thread):
    carol = await ws(people.carol)
    ack = await carol.request({"action": "subscribe", "thread": thread, "request": "s"})
    assert ack == {
        "type": "ack",
        "request": "s",
        "ok": False,
        "error": "No such conversation.",
        "status": 404,
    }
    for frame in (
        {"action": "send", "thread": thread, "request": "a", "content": "let me in"},
        {"action": "read", "thread": thread, "request": "b", "message": "1"},
        {"action": "typing", "thread": thread, "request": "c"},
    ):
        ack = await carol.request(frame)
        assert (ack["ok"], ack["status"]) == (False, 404), ack
    # Alice's messages never reach her.
    alice = await ws(people.alice)
    await alice.subscribe(thread)
    ack = await alice.request(
        {"action": "send", "thread": thread, "request": "m", "content": "private"}
    )
    assert ack["ok"]
    await alice.event("message.added")
    await carol.nothing(1.5)
    assert not any("private" in json.dumps(f) for f in carol.frames)


@pytest.mark.parametrize(
    ("accept_language", "language_cookie", "expected"),
    [
        (b"nl-NL,nl;q=0.9,en;q=0.5", None, "Het frame is geen geldige JSON."),
        (b"fr, de", None, "The frame is not valid JSON."),
        # The language switcher's cookie wins over the browser's preference, as on pages.
        (b"en", "nl", "Het frame is geen geldige JSON."),
    ],
)
async def test_frames_speak_the_pages_language(
    people, ws, accept_language, language_cookie, expected
):
    alice = await ws(
        people.alice,
        cookies=f"django_language={language_cookie}" if language_cookie else "",
        headers=[(b"accept-language", accept_language)],
    )
    await alice.send_text("not json")
    assert await alice.next("error") == {"type": "error", "error": expected}


async def test_system_messages_arrive_in_the_viewers_language(people, ws, thread):
    from chat.actions.threads import access_thread, do_update_topic

    bob = await ws(people.bob, headers=[(b"accept-language", b"nl")])
    await bob.subscribe(thread)
    access = await run(access_thread, people.alice, thread)
    await run(do_update_topic, access, "Weekend")
    while True:  # bounded: next() fails after its wait
        event = await bob.next("event")
        if event["kind"] == "message.added" and "Weekend" in event["data"]["html"]:
            break
    assert "Alice wijzigde het onderwerp in" in event["data"]["html"]


@pytest.mark.parametrize(
    ("frame", "error"),
    [
        # 10 KB of nesting: deeper than Python's JSON parser recurses.
        ("[" * 5000 + "]" * 5000, "The frame is not valid JSON."),
        ('{"action": ' + "[" * 3000 + "]" * 3000 + "}", "The frame is not valid JSON."),
        ('{"action": "subscribe", "thread": {"$gt": ""}}', "Missing field: thread."),
        ('{"action": ["subscribe"], "thread": "x"}', "Unknown action."),
        ('{"action": "subscribe", "thread": "\\ud800"}', "not valid text"),
        ('{"action": "subscribe", "thread": "19:\\u0000@thread.v2"}', "NUL"),
    ],
)
async def test_hostile_frames_get_an_error_and_the_socket_keeps_working(
    people, ws, thread, frame, error
):
    socket = await ws(people.alice)
    await socket.send_text(frame)
    assert error in (await socket.next("error"))["error"]
    assert (await socket.subscribe(thread))["thread"] == thread


@pytest.mark.parametrize(
    ("content", "error"),
    [("lone \ud800 surrogate", "not valid text"), ("nul \x00 byte", "NUL character")],
)
async def test_text_that_acs_or_the_databases_cannot_store_is_refused_before_acs(
    people, ws, thread, acs_counts, content, error
):
    socket = await ws(people.alice)
    await socket.subscribe(thread)
    sent_before = acs_counts()["ChatThread_SendChatMessage"]
    ack = await socket.request(
        {"action": "send", "thread": thread, "request": "bad", "content": content}
    )
    assert (ack["ok"], ack["status"]) == (False, 400)
    assert error in ack["error"]
    assert acs_counts()["ChatThread_SendChatMessage"] == sent_before
    # The socket still sends.
    ok = await socket.request(
        {"action": "send", "thread": thread, "request": "good", "content": "fine"}
    )
    assert ok["ok"], ok


async def test_a_consumer_that_fails_releases_its_subscriptions_and_the_poller(
    people, ws, thread, monkeypatch
):
    from channels.layers import get_channel_layer

    from chat.consumers import ChatConsumer
    from chat.relay.log import group_name
    from chat.relay.relay import get_relay

    socket = await ws(people.alice)
    await socket.subscribe(thread)
    relay = get_relay()
    assert relay.viewers(thread) == 1

    async def crash(self, message):
        raise RuntimeError("a bug")

    # A failure outside the guarded action path ends the consumer; it must clean up anyway.
    monkeypatch.setattr(ChatConsumer, "relay_typing", crash)
    await get_channel_layer().group_send(
        group_name(thread), {"type": "relay.typing", "thread": thread, "user": "x"}
    )
    with pytest.raises(RuntimeError, match="a bug"):
        await socket.communicator.wait(timeout=5)
    assert relay.viewers(thread) == 0
    assert not relay.polling(thread)


async def test_a_connection_that_keeps_sending_malformed_frames_is_closed(people, ws):
    from chat.consumers import MAX_BAD_FRAMES

    socket = await ws(people.alice)
    for _ in range(MAX_BAD_FRAMES):
        await socket.send_text("not json")
        assert (await socket.next("error"))["error"] == "The frame is not valid JSON."
    await socket.send_text("not json")
    closed = {"type": "websocket.close", "code": 4400}
    assert await socket.communicator.receive_output(timeout=5) == closed
    # For a while that session gets no new socket; other sessions are unaffected.
    communicator = WebsocketCommunicator(
        application, "/ws/chat/", headers=[(b"origin", ORIGIN), (b"host", b"127.0.0.1:8000"),
                                           (b"cookie", socket.cookie.encode())],
    )  # fmt: skip
    connected, _ = await communicator.connect()
    assert connected is False
    bob = await ws(people.bob)
    await bob.send_text("[]")
    assert (await bob.next("error"))["error"] == "A frame must be a JSON object."
