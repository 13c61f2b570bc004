"""Resuming from a cursor: exactly the missed events, or `resync` when the log is too short."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.django_db(transaction=True)


async def send(socket, thread: str, content: str, request: str) -> str:
    ack = await socket.request(
        {"action": "send", "thread": thread, "request": request, "content": content}
    )
    assert ack["ok"], ack
    return ack["result"]["id"]


async def test_a_reconnect_with_the_cursor_gets_exactly_the_missed_events(people, ws, thread):
    alice = await ws(people.alice)
    await alice.subscribe(thread)
    bob = await ws(people.bob)
    await bob.subscribe(thread)
    first = await send(alice, thread, "first", "1")
    await bob.message("message.added", first)
    await bob.drain(1.0)
    cursor = max(f["cursor"] for f in bob.events())
    seen_before = len(bob.events())
    await bob.close()

    # While Bob is away: a new message, an edit, a deletion.
    second = await send(alice, thread, "second", "2")
    await alice.request(
        {"action": "edit", "thread": thread, "request": "3", "message": first, "content": "1st"}
    )
    await alice.request({"action": "delete", "thread": thread, "request": "4", "message": second})
    await alice.message("message.deleted", second)

    bob = await ws(people.bob)
    subscribed = await bob.subscribe(thread, cursor=cursor)
    replayed = bob.events()
    assert [f["cursor"] for f in replayed] == list(range(cursor + 1, subscribed["cursor"] + 1))
    mine = [
        (f["kind"], f["data"]["id"]) for f in replayed if f["data"].get("id") in (first, second)
    ]
    assert mine == [
        ("message.added", second),
        ("message.edited", first),
        ("message.deleted", second),
    ]
    assert (
        next(f for f in replayed if f["kind"] == "message.edited")["data"]["html"] == "<p>1st</p>"
    )
    assert seen_before >= 1
    # Live events continue after the replay without a gap or a repeat.
    third = await send(alice, thread, "third", "5")
    live = await bob.message("message.added", third)
    assert live["cursor"] > subscribed["cursor"]
    cursors = [f["cursor"] for f in bob.events()]
    assert cursors == sorted(set(cursors))


async def test_a_cursor_older_than_the_log_gets_resync(people, ws, thread, settings):
    settings.RELAY_LOG_KEEP = 2
    alice = await ws(people.alice)
    start = (await alice.subscribe(thread))["cursor"]
    for n in range(5):
        await send(alice, thread, f"m{n}", str(n))
    bob = await ws(people.bob)
    await bob.send({"action": "subscribe", "thread": thread, "cursor": start})
    assert await bob.next("resync") == {"type": "resync", "thread": thread}
    subscribed = await bob.next("subscribed")
    assert subscribed["cursor"] >= start + 5
    assert bob.events() == []  # nothing replayed across the hole


async def test_a_cursor_this_log_never_gave_out_gets_resync(people, ws, thread):
    bob = await ws(people.bob)
    await bob.send({"action": "subscribe", "thread": thread, "cursor": 10_000})
    assert await bob.next("resync") == {"type": "resync", "thread": thread}
