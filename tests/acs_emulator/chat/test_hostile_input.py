"""Text that is not text, and times the API cannot carry: a 400 naming the field, nothing stored.

Python's json (the SDK's and the server's) accepts lone surrogates such as ``"\\ud800"``; they are
not Unicode text and used to end in a 500, which azure-core retries for seconds. Years below 1000
used to be written without padding, which the SDK cannot read back. Every case is checked for its
status, its error body, and that nothing the caller can see changed.
"""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime, timedelta, timezone
from urllib.parse import quote

import pytest
from azure.communication.chat import ChatMessageType, ChatParticipant
from azure.core.exceptions import HttpResponseError

from .helpers import create_thread

LONE = "\ud800"
YEAR_ONE = datetime(1, 1, 1, tzinfo=UTC)


def assert_400(exc: pytest.ExceptionInfo[HttpResponseError], target: str) -> None:
    assert exc.value.status_code == 400
    error = exc.value.error
    assert error is not None and error.code == "BadRequest", exc.value
    assert error.target == target, error
    assert error.message


def assert_raw_400(response, target: str) -> dict:
    assert response.status_code == 400, response.text
    error = response.json()["error"]
    assert error["code"] == "BadRequest" and error["message"]
    assert error["target"] == target, error
    return error


def messages_of(thread) -> list[tuple[str, str | None]]:
    return [(m.id, m.content.message if m.content else None) for m in thread.list_messages()]


def path(thread_id: str, suffix: str = "") -> str:
    return f"/chat/threads/{quote(thread_id, safe='')}{suffix}"


@pytest.fixture
def pair(make_chat_client, thread_client):
    """(alice, bob, alice's thread client) in a thread alice created with bob."""
    alice, bob = make_chat_client(), make_chat_client()
    thread_id = create_thread(alice, bob)
    return alice, bob, thread_client(alice.client, thread_id)


# -- Lone surrogates through the sync SDK ---------------------------------------------------------


@pytest.mark.parametrize(
    ("kwargs", "target"),
    [
        ({"content": LONE}, "content"),
        ({"content": "ok " + LONE + " ok"}, "content"),
        ({"content": "ok", "sender_display_name": LONE}, "senderDisplayName"),
        ({"content": "ok", "metadata": {"k": LONE}}, "metadata.k"),
        ({"content": "ok", "metadata": {LONE: "v"}}, "metadata"),
    ],
)
def test_send_message_with_a_lone_surrogate_is_a_400(pair, acs_emulator, kwargs, target) -> None:
    _, _, thread = pair
    before = messages_of(thread)
    with pytest.raises(HttpResponseError) as exc:
        thread.send_message(**kwargs)
    assert_400(exc, target)
    assert messages_of(thread) == before
    # One request: a 400 is not retried (a 500 was, for about five seconds).
    sends = acs_emulator.stats(thread=thread.thread_id)["operations"]
    assert "ChatThread_SendChatMessage" not in sends or sends["ChatThread_SendChatMessage"] == 1


def test_create_thread_with_a_lone_surrogate_stores_nothing(make_chat_client) -> None:
    alice, bob = make_chat_client(), make_chat_client()
    with pytest.raises(HttpResponseError) as exc:
        alice.client.create_chat_thread(LONE)
    assert_400(exc, "topic")
    participant = ChatParticipant(identifier=bob.user.identifier, display_name="Bob" + LONE)
    with pytest.raises(HttpResponseError) as exc:
        alice.client.create_chat_thread("fine", thread_participants=[participant])
    assert_400(exc, "participants[0].displayName")
    assert list(alice.client.list_chat_threads()) == []
    assert list(bob.client.list_chat_threads()) == []


def test_topic_edit_and_participants_with_a_lone_surrogate_change_nothing(
    pair, make_chat_client
) -> None:
    alice, _, thread = pair
    sent = thread.send_message("original").id
    before = messages_of(thread)
    with pytest.raises(HttpResponseError) as exc:
        thread.update_topic(LONE)
    assert_400(exc, "topic")
    with pytest.raises(HttpResponseError) as exc:
        thread.update_message(sent, content="edited" + LONE)
    assert_400(exc, "content")
    carol = make_chat_client()
    with pytest.raises(HttpResponseError) as exc:
        thread.add_participants(
            [ChatParticipant(identifier=carol.user.identifier, display_name=LONE)]
        )
    assert_400(exc, "participants[0].displayName")
    assert thread.get_properties().topic == "Topic"
    assert messages_of(thread) == before
    assert thread.get_message(sent).edited_on is None
    assert len(list(thread.list_participants())) == 2


# -- ... through the async SDK --------------------------------------------------------------------


async def test_async_sdk_gets_the_same_400(make_async_chat_client, acs_emulator) -> None:
    _, client = make_async_chat_client()
    async with client:
        created = await client.create_chat_thread("async")
        thread = client.get_chat_thread_client(
            created.chat_thread.id, connection_verify=acs_emulator.ca_bundle
        )
        async with thread:
            with pytest.raises(HttpResponseError) as exc:
                await thread.send_message(LONE, metadata={"fine": "yes"})
            assert_400(exc, "content")
            with pytest.raises(HttpResponseError) as exc:
                await client.create_chat_thread("t" + LONE)
            assert_400(exc, "topic")
            texts = [m.content.message async for m in thread.list_messages() if m.type == "text"]
            assert texts == []
            assert [t.id async for t in client.list_chat_threads()] == [created.chat_thread.id]
    counted = acs_emulator.stats(thread=created.chat_thread.id)["operations"]
    assert counted["ChatThread_SendChatMessage"] == 1


# -- NUL is text -------------------------------------------------------------------------------


def test_nul_characters_round_trip_through_the_sync_sdk(pair) -> None:
    _, _, thread = pair
    content = "before\x00after\x00"
    message_id = thread.send_message(content, metadata={"k\x00": "v\x00"}).id
    message = thread.get_message(message_id)
    assert message.content.message == content
    assert message.metadata == {"k\x00": "v\x00"}
    thread.update_message(message_id, content="\x00edited")
    assert thread.get_message(message_id).content.message == "\x00edited"


async def test_nul_characters_round_trip_through_the_async_sdk(
    make_async_chat_client, acs_emulator
) -> None:
    _, client = make_async_chat_client()
    async with client:
        created = await client.create_chat_thread("nul\x00topic")
        thread = client.get_chat_thread_client(
            created.chat_thread.id, connection_verify=acs_emulator.ca_bundle
        )
        async with thread:
            sent = await thread.send_message("\x00", chat_message_type=ChatMessageType.TEXT)
            assert (await thread.get_message(sent.id)).content.message == "\x00"
            assert (await thread.get_properties()).topic == "nul\x00topic"


# -- Raw HTTP: what the SDK cannot send ----------------------------------------------------------


@pytest.mark.parametrize(
    ("body", "target"),
    [
        (b'{"topic": "\\udfff"}', "topic"),
        (
            b'{"topic": "ok", "participants": [{"communicationIdentifier": {"rawId": "\\ud800"}}]}',
            "participants[0].communicationIdentifier.rawId",
        ),
        (b'{"topic": "ok", "\\ud83d": 1}', None),
    ],
)
def test_raw_create_with_lone_surrogates(raw_chat, make_user, body, target) -> None:
    user = make_user()
    response = raw_chat.call("POST", "/chat/threads", user.token, data=body)
    assert response.status_code == 400, response.text
    error = response.json()["error"]
    assert error["code"] == "BadRequest" and "surrogate" in error["message"]
    assert error.get("target") == target
    listed = raw_chat.call("GET", "/chat/threads", user.token)
    assert listed.json()["value"] == []


def test_a_surrogate_pair_is_text(raw_chat, make_user) -> None:
    user = make_user()
    response = raw_chat.call(
        "POST", "/chat/threads", user.token, data=b'{"topic": "\\ud83d\\ude00"}'
    )
    assert response.status_code == 201, response.text
    assert response.json()["chatThread"]["topic"] == "\U0001f600"


def test_headers_that_are_not_utf8_are_a_400(raw_chat, make_user) -> None:
    user = make_user()
    response = raw_chat.session.post(
        raw_chat.endpoint + "/chat/threads?api-version=2024-03-07",
        data=b'{"topic": "x"}',
        headers={
            "Authorization": f"Bearer {user.token}",
            "Content-Type": "application/json",
            "repeatability-request-id": b"\xff\xfe",
        },
        verify=raw_chat.ca_bundle,
        timeout=30,
    )
    assert_raw_400(response, "repeatability-request-id")
    bad_token = raw_chat.session.get(
        raw_chat.endpoint + "/chat/threads?api-version=2024-03-07",
        headers={"Authorization": b"Bearer " + user.token.encode() + b"\xc3"},
        verify=raw_chat.ca_bundle,
        timeout=30,
    )
    assert_raw_400(bad_token, "Authorization")
    assert raw_chat.call("GET", "/chat/threads", user.token).json()["value"] == []


def test_control_routes_refuse_a_key_that_is_not_text(acs_emulator, raw_chat) -> None:
    response = raw_chat.session.get(
        acs_emulator.endpoint + "/_emulator/stats",
        headers={"x-emulator-key": b"\xff" + acs_emulator.access_key.encode()},
        verify=raw_chat.ca_bundle,
        timeout=30,
    )
    assert_raw_400(response, "x-emulator-key")


def test_identity_bodies_are_checked_too(acs_emulator, raw_chat) -> None:
    from tests.fixtures.emulator import hmac_headers

    body = b'{"createTokenWithScopes": ["chat\\udc80"]}'
    target = "/identities?api-version=2023-10-01"
    host = acs_emulator.endpoint.removeprefix("https://")
    response = raw_chat.session.post(
        acs_emulator.endpoint + target,
        data=body,
        headers=hmac_headers(acs_emulator.access_key, "POST", target, host, body),
        verify=raw_chat.ca_bundle,
        timeout=30,
    )
    assert_raw_400(response, "createTokenWithScopes[0]")


# -- Times ---------------------------------------------------------------------------------------


def test_year_one_share_history_time_round_trips_through_the_sdk(pair, make_chat_client) -> None:
    _, _, thread = pair
    carol = make_chat_client()
    assert (
        thread.add_participants(
            [ChatParticipant(identifier=carol.user.identifier, share_history_time=YEAR_ONE)]
        )
        == []
    )
    shares = {p.identifier.raw_id: p.share_history_time for p in thread.list_participants()}
    assert shares[carol.user.raw_id] == YEAR_ONE
    # The system message lists it too, in the same four-digit form.
    added = next(m for m in thread.list_messages() if m.type == ChatMessageType.PARTICIPANT_ADDED)
    assert added.content.participants[0].share_history_time == YEAR_ONE


def test_year_one_and_year_9999_start_times_list_through_the_sdk(pair) -> None:
    alice, _, thread = pair
    thread.send_message("kept")
    assert any(m.content.message == "kept" for m in thread.list_messages(start_time=YEAR_ONE))
    assert [t.id for t in alice.client.list_chat_threads(start_time=YEAR_ONE)] == [thread.thread_id]
    late = datetime(9999, 12, 31, 23, 59, 59, tzinfo=UTC)
    assert list(thread.list_messages(start_time=late)) == []


async def test_year_one_share_history_time_through_the_async_sdk(
    make_async_chat_client, make_user, acs_emulator
) -> None:
    _, client = make_async_chat_client()
    other = make_user()
    async with client:
        created = await client.create_chat_thread(
            "old history",
            thread_participants=[
                ChatParticipant(identifier=other.identifier, share_history_time=YEAR_ONE)
            ],
        )
        thread = client.get_chat_thread_client(
            created.chat_thread.id, connection_verify=acs_emulator.ca_bundle
        )
        async with thread:
            shares = {
                p.identifier.raw_id: p.share_history_time async for p in thread.list_participants()
            }
    assert shares[other.raw_id] == YEAR_ONE


BAD_TIMES = [
    "2024-05-01",  # a date alone
    "2024-05-01T12:00:00",  # no offset
    "20240501T120000Z",  # ISO 8601 basic form
    "2024-05-01 12:00:00Z",  # a space is a readability note in RFC 3339, not the format
    " 2024-05-01T12:00:00Z",
    "2024-02-30T00:00:00Z",
    "2024-05-01T12:00:60Z",  # a leap second: RFC 3339, but nothing can hold it
    "2024-05-01T24:00:00Z",
    "2024-05-01T12:00:00+24:00",
    "0000-01-01T00:00:00Z",
    "10000-01-01T00:00:00Z",
    "0001-01-01T00:00:00+00:01",  # year 0 in UTC
    "9999-12-31T23:59:59-00:01",  # year 10000 in UTC
    "2024-05-01T12:00:00.Z",
    "\u0662\u0660\u0662\u0664-05-01T12:00:00Z",  # Arabic-Indic digits
]


@pytest.mark.parametrize("value", BAD_TIMES)
def test_share_history_times_outside_rfc_3339_are_a_400(raw_chat, make_user, value) -> None:
    alice, bob = make_user(), make_user()
    member = {"communicationIdentifier": {"rawId": bob.raw_id}, "shareHistoryTime": value}
    created = raw_chat.call(
        "POST", "/chat/threads", alice.token, body={"topic": "t", "participants": [member]}
    )
    assert_raw_400(created, "participants[0].shareHistoryTime")
    assert raw_chat.call("GET", "/chat/threads", alice.token).json()["value"] == []

    thread_id = raw_chat.call("POST", "/chat/threads", alice.token, body={"topic": "t"}).json()[
        "chatThread"
    ]["id"]
    added = raw_chat.call(
        "POST", path(thread_id, "/participants/:add"), alice.token, body={"participants": [member]}
    )
    assert_raw_400(added, "participants[0].shareHistoryTime")
    listed = raw_chat.call("GET", path(thread_id, "/participants"), alice.token).json()["value"]
    assert [p["communicationIdentifier"]["rawId"] for p in listed] == [alice.raw_id]


@pytest.mark.parametrize("value", BAD_TIMES)
def test_start_times_outside_rfc_3339_are_a_400(raw_chat, make_user, value) -> None:
    user = make_user()
    thread_id = raw_chat.call("POST", "/chat/threads", user.token, body={"topic": "t"}).json()[
        "chatThread"
    ]["id"]
    for target_path in ("/chat/threads", path(thread_id, "/messages")):
        response = raw_chat.call("GET", target_path, user.token, query={"startTime": value})
        assert_raw_400(response, "startTime")


@pytest.mark.parametrize(
    "value",
    ["2024-05-01T12:00:00.123456789Z", "2024-05-01t12:00:00z", "2024-05-01T14:00:00+02:00"],
)
def test_every_rfc_3339_form_is_accepted(raw_chat, make_user, value) -> None:
    alice, bob = make_user(), make_user()
    member = {"communicationIdentifier": {"rawId": bob.raw_id}, "shareHistoryTime": value}
    created = raw_chat.call(
        "POST", "/chat/threads", alice.token, body={"topic": "t", "participants": [member]}
    )
    assert created.status_code == 201, created.text
    thread_id = created.json()["chatThread"]["id"]
    listed = raw_chat.call("GET", path(thread_id, "/participants"), alice.token).json()["value"]
    assert listed[1]["shareHistoryTime"] == "2024-05-01T12:00:00Z"


def test_a_forged_paging_cursor_out_of_range_is_a_400(raw_chat, make_user) -> None:
    user = make_user()
    thread_id = raw_chat.call("POST", "/chat/threads", user.token, body={"topic": "t"}).json()[
        "chatThread"
    ]["id"]
    far = 253_402_300_800_000  # 10000-01-01T00:00:00Z in epoch ms
    for target_path, state in (
        (path(thread_id, "/messages"), {"maxPageSize": 1, "startTime": far, "before": 5}),
        ("/chat/threads", {"maxPageSize": 1, "startTime": 10**20, "before": 5}),
    ):
        cursor = base64.urlsafe_b64encode(json.dumps(state).encode()).decode().rstrip("=")
        response = raw_chat.call("GET", target_path, user.token, query={"syncState": cursor})
        assert_raw_400(response, "syncState")


def test_year_one_start_time_keeps_paging(raw_chat, make_user) -> None:
    # The cursor must carry a start before 1970 as well, or the second page would be refused.
    user = make_user()
    for n in range(3):
        raw_chat.call("POST", "/chat/threads", user.token, body={"topic": f"t{n}"})
    first = raw_chat.call(
        "GET",
        "/chat/threads",
        user.token,
        query={"maxPageSize": "2", "startTime": "0001-01-01T00:00:00Z"},
    )
    assert first.status_code == 200, first.text
    second = raw_chat.get_url(first.json()["nextLink"], user.token)
    assert second.status_code == 200, second.text
    assert len(first.json()["value"]) + len(second.json()["value"]) == 3


def test_offsets_are_converted_to_utc(raw_chat, make_user) -> None:
    alice, bob = make_user(), make_user()
    moment = datetime(2024, 5, 1, 12, 0, tzinfo=timezone(timedelta(hours=-8)))
    member = {
        "communicationIdentifier": {"rawId": bob.raw_id},
        "shareHistoryTime": moment.isoformat(),
    }
    created = raw_chat.call(
        "POST", "/chat/threads", alice.token, body={"topic": "t", "participants": [member]}
    )
    thread_id = created.json()["chatThread"]["id"]
    listed = raw_chat.call("GET", path(thread_id, "/participants"), alice.token).json()["value"]
    assert listed[1]["shareHistoryTime"] == "2024-05-01T20:00:00Z"
