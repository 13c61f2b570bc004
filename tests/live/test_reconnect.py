"""The reconnect test: a page dropped 50 times during 1,000 messages ends exactly right.

Real processes throughout: the session's ACS emulator, Kwebbel in a Daphne process of its own on
a SQLite file (WAL mode, as the site runs in development), and websocket clients signed in by
session cookie. Three senders write into one thread, each message at random either through
Kwebbel (the websocket ``send`` action on their own connection) or straight to ACS with the
sender's own token (which only the relay's poll can notice), and edit and delete their own
messages the same two ways. Meanwhile a viewer's connection is cut (TCP torn down, no close
frame) or closed cleanly 50 times at random points, seeded, sometimes before its subscription
was even confirmed, and each time it resumes from its last cursor after a short random backoff.

When the stream is over and the relay has caught up, the viewer's page state, rebuilt only from
its snapshot at the start and the events it was sent, must equal the thread as ACS lists it;
every message must have been added exactly once; the cursors it applied must grow strictly and
leave out only the events the per-viewer filter skips (checked against the relay's log).

What the relay cannot see by design is left out on purpose. A change made straight in ACS is
only noticed by a poll, which reads the newest 20 messages, and the deep scan, which re-reads
the newest 200 every RELAY_DEEP_SCAN_EVERY; a message that sinks below the newest 200 before the
deep scan comes round is no longer watched. So edits and deletions straight through ACS pick
among the newest SDK_CHANGE_WINDOW messages, and the senders together send at most RATE messages
a second, which keeps such a message inside the newest 200 until the next deep scan. (That is
still RATE times what ACS allows one thread: 10 sends per 10 s.) Through Kwebbel any of the
sender's messages may be changed: the action publishes the change itself.
"""

from __future__ import annotations

import asyncio
import random
from collections import Counter
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from livesite import (
    ChatSocket,
    Seeded,
    Thread,
    async_thread_client,
    list_all_messages,
    sqlite_database,
)
from tests.live.harness import ThreadView, acs_state, running_site, wait_for

SEED = 20240605
MESSAGES = 1000
DROPS = 50
SENDERS = ("sender1", "sender2", "sender3")
WORKERS_PER_SENDER = 3
EDIT_RATE = 0.08  # after a send, the sender edits one of their messages with this chance
DELETE_RATE = 0.04
# Straight-to-ACS edits and deletions pick among the newest messages (see the module docstring).
SDK_CHANGE_WINDOW = 40
RATE = 40.0  # messages a second, all senders together, at most
SETTINGS = {
    # Quick polls keep the run short; 0.4 s stays inside the relay's own call budget (160 list
    # calls a minute), so polls never pause. With RATE, a message changed straight in ACS while
    # among the newest 40 has at most 40 + 1.4 s x 40 = 96 newer ones at the next deep scan.
    "RELAY_POLL_INTERVAL": "0.4",
    "RELAY_DEEP_SCAN_EVERY": "1",
    "LOG_LEVEL": "WARNING",
}

pytestmark = [pytest.mark.slow, pytest.mark.own_site]


class Stream:
    """The senders: 1,000 messages in total, plus edits and deletions, two ways each."""

    def __init__(self, thread_id: str, seeded: Seeded, emulator: Any, rng: random.Random) -> None:
        self.thread_id = thread_id
        self.rng = rng
        self.emulator = emulator
        self.seeded = seeded
        self.next_index = 0
        self.sent: list[tuple[int, str, str]] = []  # (order sent, sender, message id)
        self.deleted: set[str] = set()
        self.busy: set[str] = set()
        self.counts: Counter[str] = Counter()
        self.errors: list[str] = []
        self.changes: dict[str, list[str]] = {}  # message id -> what was done to it, in order
        self.sockets: dict[str, ChatSocket] = {}
        self.clients: dict[str, Any] = {}
        self.drop_points: list[int] = []
        self.on_index: Any = None  # awaited with each message index before it is sent
        self.started = 0.0

    async def run(self, http: aiohttp.ClientSession, server: Any) -> None:
        for name in SENDERS:
            user = self.seeded.users[name]
            self.sockets[name] = await ChatSocket(
                http, server, user.session, on_frame=lambda frame, at: None
            ).connect()
            # Subscribed, as a sender's open page is (and so the socket keeps its access check).
            ack = await self.sockets[name].request("subscribe", thread=self.thread_id, cursor=None)
            assert ack["ok"], ack
            self.clients[name] = async_thread_client(self.emulator, user.token, self.thread_id)
        self.started = asyncio.get_running_loop().time()
        try:
            await asyncio.gather(
                *(self._worker(name) for name in SENDERS for _ in range(WORKERS_PER_SENDER))
            )
        finally:
            for name in SENDERS:
                await self.sockets[name].close()
                await self.clients[name].close()

    async def _worker(self, sender: str) -> None:
        while self.next_index < MESSAGES:
            index = self.next_index
            self.next_index += 1
            loop = asyncio.get_running_loop()
            await asyncio.sleep(max(0.0, self.started + index / RATE - loop.time()))
            await self.on_index(index)
            message_id = await self._send(sender, index)
            if message_id is None:
                continue
            self.sent.append((len(self.sent), sender, message_id))
            roll = self.rng.random()
            if roll < EDIT_RATE:
                await self._change(sender, "edit", index)
            elif roll < EDIT_RATE + DELETE_RATE:
                await self._change(sender, "delete", index)

    def _through_kwebbel(self) -> bool:
        return self.rng.random() < 0.5

    async def _send(self, sender: str, index: int) -> str | None:
        text = f"message {index} from {sender}"
        try:
            if self._through_kwebbel():
                ack = await self.sockets[sender].request(
                    "send", thread=self.thread_id, content=text, format="text",
                    clientId=f"c{index}",
                )  # fmt: skip
                if not ack["ok"]:
                    self.errors.append(f"send {index}: {ack}")
                    return None
                self.counts["sent through Kwebbel"] += 1
                return str(ack["result"]["id"])
            result = await self.clients[sender].send_message(text)
            self.counts["sent straight to ACS"] += 1
            return str(result.id)
        except Exception as error:  # noqa: BLE001 - reported by the test, with the others
            self.errors.append(f"send {index}: {error!r}")
            return None

    async def _change(self, sender: str, action: str, index: int) -> None:
        kwebbel = self._through_kwebbel()
        newest = len(self.sent) - SDK_CHANGE_WINDOW
        mine = [
            message_id
            for order, who, message_id in self.sent
            if who == sender
            and message_id not in self.deleted
            and message_id not in self.busy
            and (kwebbel or order >= newest)
        ]
        if not mine:
            return
        target = self.rng.choice(mine)
        self.busy.add(target)
        if action == "delete":
            self.deleted.add(target)
        try:
            if kwebbel:
                fields = {"content": f"edited at {index}"} if action == "edit" else {}
                ack = await self.sockets[sender].request(
                    action, thread=self.thread_id, message=target, **fields
                )
                if not ack["ok"]:
                    self.errors.append(f"{action} {target}: {ack}")
                    return
            elif action == "edit":
                await self.clients[sender].update_message(target, content=f"edited at {index}")
            else:
                await self.clients[sender].delete_message(target)
            done = "edited" if action == "edit" else "deleted"
            order = next(o for o, _w, m in self.sent if m == target)
            self.changes.setdefault(target, []).append(
                f"{done} {'K' if kwebbel else 'SDK'} at sent={len(self.sent)} (its order {order})"
            )
            self.counts[f"{done} {'through Kwebbel' if kwebbel else 'straight to ACS'}"] += 1
        except Exception as error:  # noqa: BLE001
            self.errors.append(f"{action} {target}: {error!r}")
        finally:
            self.busy.discard(target)


class Viewer:
    """The page that keeps losing its connection; resumes from its last cursor each time."""

    def __init__(self, view: ThreadView, session: str, rng: random.Random) -> None:
        self.view = view
        self.session = session
        self.rng = rng
        self.drop_requests: asyncio.Queue[int] = asyncio.Queue()
        self.dropped = 0
        self.socket: ChatSocket | None = None
        self.confirmed_before = 0  # `subscribed` frames seen before the current connection

    async def connect(self, http: aiohttp.ClientSession, server: Any) -> None:
        self.socket = await ChatSocket(
            http, server, self.session, on_frame=self.view.frame
        ).connect()
        self.confirmed_before = self.view.subscribed
        # The page's cursor: None only the very first time (it then loads the thread).
        await self.socket.send(
            {"action": "subscribe", "thread": self.view.thread_id, "cursor": self.view.cursor}
        )

    async def run(self, http: aiohttp.ClientSession, server: Any, done: asyncio.Event) -> None:
        """Serve drop requests until ``done``; the last connection stays open."""
        while True:
            getter = asyncio.ensure_future(self.drop_requests.get())
            finished = asyncio.ensure_future(done.wait())
            await asyncio.wait({getter, finished}, return_when=asyncio.FIRST_COMPLETED)
            if not getter.done():
                getter.cancel()
                finished.cancel()
                return
            finished.cancel()
            await self.drop_and_resume(http, server)

    async def drop_and_resume(self, http: aiohttp.ClientSession, server: Any) -> None:
        assert self.socket is not None
        # Sometimes before the (re)subscription is even confirmed: mid-replay.
        if self.rng.random() < 0.7:
            await wait_for(
                lambda: self.view.subscribed > self.confirmed_before, within=30, step=0.01
            )
        else:
            await asyncio.sleep(self.rng.uniform(0, 0.03))
        if self.rng.random() < 0.75:
            await self.socket.drop()
        else:
            await self.socket.close()
        self.dropped += 1
        await asyncio.sleep(self.rng.uniform(0.0, 0.2))  # the page's reconnect backoff
        await self.connect(http, server)


async def test_dropped_viewer_ends_with_exactly_the_threads_state(
    acs_emulator: Any, tmp_path: Path
) -> None:
    rng = random.Random(SEED)
    with running_site(acs_emulator, sqlite_database(tmp_path), tmp_path, settings=SETTINGS) as site:
        seeded = site.seed(
            ["viewer", *SENDERS], [Thread("Reconnect", SENDERS[0], [*SENDERS[1:], "viewer"])]
        )
        thread_id = seeded.threads[0]
        server = site.servers[0]
        view = ThreadView(thread_id)
        viewer = Viewer(view, seeded.users["viewer"].session, random.Random(rng.random()))
        stream = Stream(thread_id, seeded, acs_emulator, random.Random(rng.random()))
        drop_points = sorted(rng.sample(range(10, MESSAGES - 10), DROPS))

        async with (
            aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0)) as http,
            async_thread_client(
                acs_emulator, seeded.users["viewer"].token, thread_id
            ) as viewer_acs,
        ):
            # Subscribe first, then load the thread, as the page does; events apply by id.
            await viewer.connect(http, server)
            assert await wait_for(lambda: view.subscribed == 1, within=30), view.problems
            start_cursor = view.confirmed[0]
            view.load(await list_all_messages(viewer_acs))

            async def on_index(index: int) -> None:
                # The message at a drop point goes out only once the drop was asked for.
                while drop_points and drop_points[0] <= index:
                    drop_points.pop(0)
                    viewer.drop_requests.put_nowait(index)

            stream.on_index = on_index
            done = asyncio.Event()
            viewer_task = asyncio.create_task(viewer.run(http, server, done))
            try:
                await asyncio.wait_for(stream.run(http, server), timeout=300)
                # Every drop asked for during the stream is carried out before it counts as over.
                assert await wait_for(lambda: viewer.drop_requests.empty(), within=30)
                done.set()
                await asyncio.wait_for(viewer_task, timeout=60)
            finally:
                done.set()
                viewer_task.cancel()

            async def final_state() -> dict[str, Any]:
                return {str(m.id): acs_state(m) for m in await list_all_messages(viewer_acs)}

            async def caught_up() -> bool:
                return view.messages == await final_state()

            await wait_for(caught_up)
            final = await final_state()
            await viewer.socket.close()

        log = site.relay_log(thread_id, "viewer")

    print(f"stream: {dict(stream.counts)}; drops: {viewer.dropped}; events applied: "
          f"{len(view.applied)}; subscriptions: {view.subscribed}")  # fmt: skip
    assert stream.errors == []
    assert stream.counts["sent through Kwebbel"] + stream.counts["sent straight to ACS"] == MESSAGES
    assert all(stream.counts[k] for k in ("sent through Kwebbel", "sent straight to ACS"))
    assert viewer.dropped == DROPS
    assert view.problems == []

    # Exactly the thread's final state, as ACS lists it to the viewer.
    assert set(view.messages) == set(final)
    wrong = {
        i: (s, final[i], stream.changes.get(i)) for i, s in view.messages.items() if s != final[i]
    }
    assert wrong == {}
    assert sum(1 for s in final.values() if s[0] == "text" and s[2] and not s[3]) > 0  # edited
    assert sum(1 for s in final.values() if s[0] == "text" and s[3]) > 0  # deleted

    # Each of the 1,000 messages was added exactly once; nothing else was added twice.
    sent_ids = {message_id for _order, _who, message_id in stream.sent}
    assert len(sent_ids) == MESSAGES
    assert {i: n for i, n in view.added.items() if n != 1} == {}
    assert sent_ids <= set(view.added)

    # In order and without gaps: the cursors applied are exactly those after the viewer's first
    # cursor that the viewer filter shows it, strictly increasing.
    assert view.applied == sorted(set(view.applied))
    assert log["first_kept"] <= start_cursor + 1, "the log was pruned: replay could not be checked"
    shown = [e["cursor"] for e in log["events"] if e["cursor"] > start_cursor and e["shown"]]
    assert view.applied == shown
