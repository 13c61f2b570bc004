"""Reactions: toggled by each participant over the socket, stored in Kwebbel's database,
published whole as ``message.reactions``, and refused clearly when they cannot be."""

from __future__ import annotations

import asyncio

import pytest
from django.utils import timezone

from chat.actions.participants import do_add_participants
from chat.actions.threads import ParticipantChoice, access_thread
from chat.models import Reaction
from chat.people import raw_id_of
from chat.relay.api import current_cursor
from tests.fixtures.outside import sdk_thread
from tests.live.conftest import a_later_second, run, signed_in_client

pytestmark = pytest.mark.django_db(transaction=True)


async def _send(socket, thread: str, content: str, request: str = "s") -> str:
    ack = await socket.request(
        {"action": "send", "thread": thread, "request": request, "content": content}
    )
    assert ack["ok"], ack
    return ack["result"]["id"]


def _react(thread: str, message: str, emoji: str, on: bool, request: str) -> dict:
    return {"action": "react", "thread": thread, "request": request, "message": message,
            "emoji": emoji, "on": on}  # fmt: skip


def _counts(frame: dict) -> dict[str, int]:
    return {r["emoji"]: r["count"] for r in frame["data"]["reactions"]}


async def test_two_people_reacting_at_once_are_both_counted_live(people, ws, thread):
    alice, bob, bob_tab = await ws(people.alice), await ws(people.bob), await ws(people.bob)
    watcher = await ws(people.bob)
    for socket in (alice, bob, bob_tab, watcher):
        await socket.subscribe(thread)
    message_id = await _send(alice, thread, "lunch?")
    # One request per socket (a test socket has one reader), all at the same moment.
    acks = await asyncio.gather(
        alice.request(_react(thread, message_id, "👍", True, "a")),
        bob.request(_react(thread, message_id, "👍", True, "b")),
        bob_tab.request(_react(thread, message_id, "🎉", True, "c")),
    )
    assert [a["ok"] for a in acks] == [True, True, True], acks
    assert acks[0]["result"] == {"id": message_id, "emoji": "👍", "on": True}
    last = await run(current_cursor, thread)

    # Each event carries the whole state: whatever order they were published in, the last one
    # the watcher gets (the thread's newest cursor) counts everything.
    async def reached_last() -> bool:
        while not any(f.get("cursor") == last for f in watcher.events()):
            await watcher.receive()
        return True

    await asyncio.wait_for(reached_last(), 10)
    reactions = [f for f in watcher.events() if f["kind"] == "message.reactions"]
    final = reactions[-1]
    assert final["cursor"] == last and final["data"]["messageId"] == message_id
    assert _counts(final) == {"👍": 2, "🎉": 1}
    thumbs = next(r for r in final["data"]["reactions"] if r["emoji"] == "👍")
    assert set(thumbs["users"]) == {
        await run(raw_id_of, people.alice),
        await run(raw_id_of, people.bob),
    }
    assert sorted(thumbs["names"]) == ["Alice", "Bob"]
    assert "Alice" in thumbs["label"] and "Bob" in thumbs["label"]
    assert 'data-emoji="👍"' in final["data"]["markup"]
    assert await run(Reaction.objects.filter(message_id=message_id).count) == 3

    # Reacting again is harmless (nothing changes, nothing is published), and off takes it away:
    # the first reactions event after `last` is the one for "off" (other kinds may come between).
    again = await bob.request(_react(thread, message_id, "👍", True, "d"))
    assert again["ok"] and again["result"]["on"] is True
    off = await bob.request(_react(thread, message_id, "👍", False, "e"))
    assert off["result"]["on"] is False

    def reactions_after(cursor: int) -> list[dict]:
        return [
            f for f in watcher.events() if f["kind"] == "message.reactions" and f["cursor"] > cursor
        ]

    async def a_reaction_after_last() -> list[dict]:
        while not reactions_after(last):
            await watcher.receive()
        return reactions_after(last)

    later = await asyncio.wait_for(a_reaction_after_last(), 10)
    assert _counts(min(later, key=lambda f: f["cursor"])) == {"👍": 1, "🎉": 1}


async def test_reactions_are_kept_and_shown_on_the_page(people, ws, thread):
    alice = await ws(people.alice)
    await alice.subscribe(thread)
    message_id = await _send(alice, thread, "kept")
    assert (await alice.request(_react(thread, message_id, "❤️", True, "r")))["ok"]
    # A fresh page (as after a restart: the state comes from the database) shows it.
    page = await run(lambda: signed_in_client(people.bob).get(f"/chat/t/{thread}/"))
    html = page.content.decode()
    assert 'data-emoji="❤️"' in html and "Alice" in html.split('data-emoji="❤️"')[1][:300]


async def test_refused_reactions_say_why_and_store_nothing(people, ws, thread):
    alice, carol = await ws(people.alice), await ws(people.carol)
    await alice.subscribe(thread)
    message_id = await _send(alice, thread, "react to me")
    await alice.message("message.added", message_id)
    wrong = {
        "emoji": (_react(thread, message_id, "🍕", True, "1"), 400, "Unknown reaction"),
        "long emoji": (_react(thread, message_id, "👍" * 40, True, "2"), 400, "longer than"),
        "no on": (
            {**_react(thread, message_id, "👍", True, "3"), "on": "yes"},
            400,
            "true or false",
        ),
        "unknown message": (_react(thread, "1234567", "👍", True, "4"), 404, "No such message"),
        "bad id": (_react(thread, "<script>", "👍", True, "5"), 404, "No such message"),
        "bad thread": (_react("nope", message_id, "👍", True, "6"), 404, ""),
    }
    for name, (frame, status, words) in wrong.items():
        ack = await alice.request(frame)
        assert (ack["ok"], ack["status"]) == (False, status), name
        assert words in ack["error"], (name, ack)
    # ACS's own messages (the thread's creation announced the members) take no reactions.
    listed = await run(lambda: list(sdk_thread(people.alice, thread).list_messages()))
    system = next(str(m.id) for m in listed if str(getattr(m.type, "value", m.type)) != "text")
    ack = await alice.request(_react(thread, system, "👍", True, "s"))
    assert (ack["ok"], ack["status"]) == (False, 400)
    assert ack["error"] == "You cannot react to this message."
    # Carol is not in the thread: to her it does not exist.
    ack = await carol.request(_react(thread, message_id, "👍", True, "7"))
    assert (ack["ok"], ack["status"], ack["error"]) == (False, 404, "No such conversation.")
    # Nor through the no-script form.
    no_page = await run(lambda: signed_in_client(people.carol).post(
        f"/chat/t/{thread}/m/{message_id}/react/", {"emoji": "👍"}
    ))  # fmt: skip
    assert no_page.status_code == 404
    assert await run(Reaction.objects.count) == 0
    # The socket still works, and the only reactions event is the one that was allowed.
    assert (await alice.request(_react(thread, message_id, "😮", True, "8")))["ok"]
    frame = await alice.event("message.reactions")
    assert _counts(frame) == {"😮": 1}
    assert [f for f in alice.events() if f["kind"] == "message.reactions"] == [frame]


async def test_no_script_form_toggles_and_refuses_unknown_emoji(people, ws, thread):
    bob = await ws(people.bob)
    await bob.subscribe(thread)
    message_id = await _send(bob, thread, "form")
    client = await run(signed_in_client, people.alice)
    url = f"/chat/t/{thread}/m/{message_id}/react/"
    refused = await run(client.post, url, {"emoji": "<b>"})
    assert refused.status_code == 400 and "Unknown reaction" in refused.content.decode()
    done = await run(client.post, url, {"emoji": "😂"})
    assert done.status_code == 302 and done["Location"].endswith(f"#m-{message_id}")
    assert _counts(await bob.event("message.reactions")) == {"😂": 1}
    await run(client.post, url, {"emoji": "😂"})  # the same button again: off
    assert _counts(await bob.event("message.reactions")) == {}
    assert await run(Reaction.objects.count) == 0


async def test_a_viewer_whose_history_starts_later_never_hears_of_older_reactions(
    people, ws, thread
):
    alice = await ws(people.alice)
    await alice.subscribe(thread)
    old = await _send(alice, thread, "before carol", "1")
    await alice.message("message.added", old)
    await a_later_second()
    access = await run(access_thread, people.alice, thread)
    await run(do_add_participants, access, [ParticipantChoice(people.carol, timezone.now())])
    carol = await ws(people.carol)
    await carol.subscribe(thread, cursor=0)
    # Carol may not react to what she cannot see either.
    refused = await carol.request(_react(thread, old, "👍", True, "c"))
    assert (refused["ok"], refused["status"]) == (False, 404)
    assert (await alice.request(_react(thread, old, "👍", True, "2")))["ok"]
    new = await _send(alice, thread, "after carol", "3")
    assert (await alice.request(_react(thread, new, "🎉", True, "4")))["ok"]
    frame = await carol.event("message.reactions")
    assert frame["data"]["messageId"] == new
    # The reaction to the older message was published first: had it reached her, it would be here.
    assert all(
        f["data"].get("messageId") != old
        for f in carol.events()
        if f["kind"] == "message.reactions"
    )
