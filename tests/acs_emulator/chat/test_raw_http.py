"""Wire-level behaviour: hostile bodies and queries (400, nothing stored), headers, nextLinks."""

from __future__ import annotations

import json
import re
from urllib.parse import parse_qs, quote, urlsplit

import pytest

from .helpers import unknown_user_id


@pytest.fixture
def owner(make_user):
    return make_user()


@pytest.fixture
def thread_id(raw_chat, owner) -> str:
    response = raw_chat.call("POST", "/chat/threads", owner.token, body={"topic": "Raw"})
    assert response.status_code == 201
    return response.json()["chatThread"]["id"]


def path(thread_id: str, suffix: str = "") -> str:
    return f"/chat/threads/{quote(thread_id, safe='')}{suffix}"


def assert_bad_request(response) -> None:
    assert response.status_code == 400, response.text
    error = response.json()["error"]
    assert error["code"] == "BadRequest" and error["message"]
    assert "Retry-After" not in response.headers


def identifier(raw_id: str) -> dict:
    return {"rawId": raw_id, "communicationUser": {"id": raw_id}}


GOOD_ID = "8:acs:2dee53b4-368b-45b4-ab52-8493fb117652_00000005-14a2-493b-8a72-5a3a0d000081"

CREATE_BODIES = [
    b"not json",
    b"[]",
    b'"topic"',
    b"null",
    b'{"topic": null}',
    b'{"topic": 5}',
    b'{"topic": ["a"]}',
    b'{"topic": "x", "participants": {}}',
    b'{"topic": "x", "participants": [5]}',
    b'{"topic": "x", "participants": [{"communicationIdentifier": null}]}',
    b'{"topic": "x", "participants": [{"communicationIdentifier": {"rawId": 5}}]}',
    b'{"topic": "x", "participants": [{"communicationIdentifier": {}}]}',
    b'{"topic": "x", "participants": [{"communicationIdentifier": {"communicationUser": {}}}]}',
    b'{"topic": "x", "participants": [{"communicationIdentifier": {"rawId": "8:acs:fakeid==="}}]}',
    json.dumps(
        {
            "topic": "x",
            "participants": [
                {"communicationIdentifier": {"rawId": GOOD_ID, "communicationUser": {"id": "x"}}}
            ],
        }
    ).encode(),
    json.dumps(
        {
            "topic": "x",
            "participants": [
                {"communicationIdentifier": {"rawId": GOOD_ID}, "shareHistoryTime": "yesterday"}
            ],
        }
    ).encode(),
    json.dumps(
        {
            "topic": "x",
            "participants": [{"communicationIdentifier": {"rawId": GOOD_ID}, "displayName": 7}],
        }
    ).encode(),
]


@pytest.mark.parametrize("body", CREATE_BODIES)
def test_hostile_create_thread_bodies(raw_chat, owner, body):
    assert_bad_request(raw_chat.call("POST", "/chat/threads", owner.token, data=body))
    listed = raw_chat.call("GET", "/chat/threads", owner.token)
    assert listed.status_code == 200 and listed.json()["value"] == []


def test_too_many_participants_in_one_create(raw_chat, owner):
    participants = [
        {"communicationIdentifier": identifier(unknown_user_id(owner.raw_id))} for _ in range(201)
    ]
    body = {"topic": "Crowd", "participants": participants}
    assert_bad_request(raw_chat.call("POST", "/chat/threads", owner.token, body=body))
    assert raw_chat.call("GET", "/chat/threads", owner.token).json()["value"] == []


MESSAGE_BODIES = [
    b"{}",
    b"[]",
    b'{"content": null}',
    b'{"content": 5}',
    b'{"content": ""}',
    b'{"content": "x", "type": "video"}',
    b'{"content": "x", "type": "participantAdded"}',
    b'{"content": "x", "type": 1}',
    b'{"content": "x", "metadata": {"a": 1}}',
    b'{"content": "x", "metadata": {"a": null}}',
    b'{"content": "x", "metadata": []}',
    b'{"content": "x", "senderDisplayName": {}}',
]


@pytest.mark.parametrize("body", MESSAGE_BODIES)
def test_hostile_send_message_bodies(raw_chat, owner, thread_id, body):
    url = path(thread_id, "/messages")
    assert_bad_request(raw_chat.call("POST", url, owner.token, data=body))
    assert len(raw_chat.call("GET", url, owner.token).json()["value"]) == 2


OTHER_BODIES = [
    ("PATCH", "", b"[]"),
    ("PATCH", "", b'{"topic": null}'),
    ("PATCH", "", b'{"topic": 3}'),
    ("PATCH", "", b'{"topic": ""}'),
    ("POST", "/participants/:add", b"{}"),
    ("POST", "/participants/:add", b'{"participants": null}'),
    ("POST", "/participants/:add", b'{"participants": "x"}'),
    ("POST", "/participants/:add", b'{"participants": []}'),
    ("POST", "/participants/:add", b'{"participants": [{}]}'),
    ("POST", "/participants/:remove", b"{}"),
    ("POST", "/participants/:remove", b"[]"),
    ("POST", "/participants/:remove", b'{"rawId": 3}'),
    ("POST", "/participants/:remove", b'{"communicationUser": {}}'),
    ("POST", "/participants/:remove", b'{"rawId": "8:acs:fakeid==="}'),
    ("POST", "/readReceipts", b"{}"),
    ("POST", "/readReceipts", b'{"chatMessageId": 5}'),
    ("POST", "/readReceipts", b'{"chatMessageId": ""}'),
    ("POST", "/typing", b'{"senderDisplayName": 5}'),
    ("POST", "/typing", b"[1]"),
]


@pytest.mark.parametrize(("method", "suffix", "body"), OTHER_BODIES)
def test_hostile_thread_operation_bodies(raw_chat, owner, thread_id, method, suffix, body):
    assert_bad_request(raw_chat.call(method, path(thread_id, suffix), owner.token, data=body))
    properties = raw_chat.call("GET", path(thread_id), owner.token).json()
    assert properties["topic"] == "Raw"
    messages = raw_chat.call("GET", path(thread_id, "/messages"), owner.token).json()["value"]
    participants = raw_chat.call("GET", path(thread_id, "/participants"), owner.token).json()
    receipts = raw_chat.call("GET", path(thread_id, "/readReceipts"), owner.token).json()
    assert len(messages) == 2
    assert [p["communicationIdentifier"]["rawId"] for p in participants["value"]] == [owner.raw_id]
    assert receipts["value"] == []


@pytest.mark.parametrize(
    "body", [b'{"content": null}', b'{"content": 1}', b'{"metadata": {"a": null}}', b"[]"]
)
def test_hostile_update_message_bodies(raw_chat, owner, thread_id, body):
    sent = raw_chat.call(
        "POST", path(thread_id, "/messages"), owner.token, body={"content": "keep"}
    )
    message_path = path(thread_id, f"/messages/{sent.json()['id']}")
    assert_bad_request(raw_chat.call("PATCH", message_path, owner.token, data=body))
    message = raw_chat.call("GET", message_path, owner.token).json()
    assert message["content"]["message"] == "keep" and "editedOn" not in message


@pytest.mark.parametrize(
    ("suffix", "query"),
    [
        ("/messages", {"maxPageSize": "0"}),
        ("/messages", {"maxPageSize": "201"}),
        ("/messages", {"maxPageSize": "many"}),
        ("/messages", {"startTime": "last tuesday"}),
        ("/messages", {"syncState": "!!!"}),
        ("/messages", {"syncState": "eyJiZWZvcmUiOiAieCJ9"}),  # {"before": "x"}
        ("/participants", {"skip": "-1"}),
        ("/readReceipts", {"maxPageSize": "1e3"}),
    ],
)
def test_hostile_queries(raw_chat, owner, thread_id, suffix, query):
    assert_bad_request(raw_chat.call("GET", path(thread_id, suffix), owner.token, query=query))


def test_hostile_thread_list_queries(raw_chat, owner):
    for query in ({"maxPageSize": "-5"}, {"startTime": "soon"}, {"syncState": "e30"}):
        assert_bad_request(raw_chat.call("GET", "/chat/threads", owner.token, query=query))


def test_create_response_headers_and_shapes(raw_chat, owner, acs_emulator):
    response = raw_chat.call("POST", "/chat/threads", owner.token, body={"topic": "Shapes"})
    assert response.status_code == 201
    thread = response.json()["chatThread"]
    assert "invalidParticipants" not in response.json()
    assert response.headers["Location"] == (
        f"{acs_emulator.endpoint}/chat/threads/{quote(thread['id'], safe='@')}"
    )
    assert thread["createdByCommunicationIdentifier"] == {
        "rawId": owner.raw_id,
        "communicationUser": {"id": owner.raw_id},
    }
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", thread["createdOn"])


def test_percent_encoded_and_raw_thread_ids_both_work(raw_chat, owner, thread_id):
    encoded = raw_chat.call("GET", path(thread_id), owner.token)
    plain = raw_chat.call("GET", f"/chat/threads/{thread_id}", owner.token)
    assert encoded.status_code == plain.status_code == 200
    assert encoded.json() == plain.json()


def test_message_wire_shapes(raw_chat, owner, thread_id, acs_emulator):
    sent = raw_chat.call("POST", path(thread_id, "/messages"), owner.token, body={"content": "hi"})
    assert sent.status_code == 201
    message_id = sent.json()["id"]
    assert sent.json() == {"id": message_id}
    assert sent.headers["Location"].startswith(acs_emulator.endpoint + "/chat/threads/")
    assert sent.headers["Location"].endswith(f"/messages/{message_id}")
    messages = raw_chat.call("GET", path(thread_id, "/messages"), owner.token).json()["value"]
    user, topic, added = messages
    assert user["senderDisplayName"] == "" and user["content"] == {"message": "hi"}
    for system in (topic, added):
        assert "senderCommunicationIdentifier" not in system
        assert "senderDisplayName" not in system
    assert topic["content"]["topic"] == "Raw"
    assert added["content"]["participants"][0]["shareHistoryTime"] == "1970-01-01T00:00:00Z"


def test_bodiless_successes(raw_chat, owner, thread_id, make_user):
    typing = raw_chat.call("POST", path(thread_id, "/typing"), owner.token)
    assert (typing.status_code, typing.content) == (200, b"")
    message_id = raw_chat.call(
        "POST", path(thread_id, "/messages"), owner.token, body={"content": "x"}
    ).json()["id"]
    receipt = raw_chat.call(
        "POST", path(thread_id, "/readReceipts"), owner.token, body={"chatMessageId": message_id}
    )
    assert (receipt.status_code, receipt.content) == (200, b"")
    bob = make_user()
    added = raw_chat.call(
        "POST",
        path(thread_id, "/participants/:add"),
        owner.token,
        body={"participants": [{"communicationIdentifier": identifier(bob.raw_id)}]},
    )
    assert (added.status_code, added.json()) == (201, {})


def test_next_links_are_absolute_url_safe_and_complete(raw_chat, owner, thread_id, acs_emulator):
    for i in range(5):
        raw_chat.call("POST", path(thread_id, "/messages"), owner.token, body={"content": f"{i}"})
    first = raw_chat.call(
        "GET",
        path(thread_id, "/messages"),
        owner.token,
        query={"maxPageSize": "3", "startTime": "2000-01-01T00:00:00.000Z"},
    ).json()
    link = first["nextLink"]
    parts = urlsplit(link)
    assert f"{parts.scheme}://{parts.netloc}" == acs_emulator.endpoint
    query = parse_qs(parts.query)
    assert re.fullmatch(r"[A-Za-z0-9_-]+", query["syncState"][0])
    assert query["api-version"] == ["2024-03-07"]
    # The link alone carries page size and filter: the SDK resends nothing else.
    second = raw_chat.get_url(link, owner.token).json()
    third = raw_chat.get_url(second["nextLink"], owner.token).json()
    assert [len(page["value"]) for page in (first, second, third)] == [3, 3, 1]
    assert "nextLink" not in third
    sequences = [m["sequenceId"] for page in (first, second, third) for m in page["value"]]
    assert sequences == [str(n) for n in range(7, 0, -1)]

    people = raw_chat.call(
        "GET", path(thread_id, "/participants"), owner.token, query={"maxPageSize": "1"}
    ).json()
    assert "nextLink" not in people  # one participant, one page


def test_deeply_nested_json_is_a_bad_request(raw_chat, owner, thread_id):
    nested = b"[" * 100_000 + b"]" * 100_000
    assert_bad_request(raw_chat.call("POST", "/chat/threads", owner.token, data=nested))
    body = b'{"content": ' + nested + b"}"
    assert_bad_request(raw_chat.call("POST", path(thread_id, "/messages"), owner.token, data=body))
    assert len(raw_chat.call("GET", path(thread_id, "/messages"), owner.token).json()["value"]) == 2
