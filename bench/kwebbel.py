"""Kwebbel's live relay under load, against the pattern it replaces; one subcommand each.

    .venv/bin/python bench/kwebbel.py fanout   [--viewers 500 --threads 50 --senders 10 ...]
    .venv/bin/python bench/kwebbel.py outside  [same options]
    .venv/bin/python bench/kwebbel.py capacity [--connections 1000,5000]

Each run starts its own ACS emulator (rate limits NOT enforced, so the baseline is not cut short
by 429s; the tables say where it would exceed ACS's limits), migrates a SQLite database of its
own in a temporary directory, creates the users and threads through Kwebbel's own code and
serves Kwebbel from one Daphne process (``--servers 2 --redis URL`` for two). Clients are
aiohttp websockets signed in by session cookie, all on this process's event loop.

* ``fanout``: V viewers spread over T threads, each subscribed over a websocket; S senders send
  through Kwebbel (the websocket ``send`` action), each ``--rate`` messages a second to the
  threads in turn, for ``--duration`` seconds. Then, in the same run, the baseline: Microsoft's
  quickstart pattern, where each viewer polls ``list_messages`` with its own token every
  ``--interval`` seconds (the relay's poll interval too) and senders send straight to ACS.
  Prints send-to-delivery latency (p50/p95/p99 over every viewer and message), deliveries a
  second, ACS calls a minute by operation, and Kwebbel/baseline ratios. ``--events`` (also for
  ``hostile``) runs Kwebbel with Event Grid's events on, so its watched threads are polled
  rarely.
* ``outside``: the same viewers on Kwebbel, but the senders send straight to ACS with their own
  tokens, so only the relay's poll can notice: time until the viewers have each message,
  against the poll interval.
  With ``--push`` the run is made twice, polling alone and then with Event Grid's events on
  (``RELAY_EVENTS``, the emulator subscribed to the webhook), printed side by side: delivery
  times and the relay's ACS calls a minute per watched thread, while sending and while idle.
* ``capacity``: idle signed-in websocket connections one Daphne process holds, and its resident
  memory per connection, at each ``--connections`` level.

Nothing is asserted about time: the numbers are printed, ``bench/RESULTS.md`` records a run.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import random
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

# Runnable as a plain script from the repository root or anywhere else.
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import aiohttp  # noqa: E402

from acs_emulator.process import EmulatorProcess  # noqa: E402
from livesite import (  # noqa: E402
    ChatSocket,
    LiveSite,
    Seeded,
    SocketClosed,
    Thread,
    async_thread_client,
    cpu_seconds,
    environment_lines,
    format_table,
    percentile,
    postgres_database,
    sqlite_database,
)

LIST = "ChatThread_ListChatMessages"
# What the relay's poller calls (the emulator's operationIds).
RELAY_READS = (
    LIST,
    "ChatThread_ListChatReadReceipts",
    "ChatThread_ListChatParticipants",
    "ChatThread_GetChatThreadProperties",
    "ChatThread_GetChatMessage",
)
EVENTS_SECRET = "bench-" + os.urandom(8).hex()
# ACS's limit on list-messages calls per thread and minute (the quickstart pattern's ceiling).
ACS_LIST_PER_THREAD_MINUTE = 400
CONNECT_AT_ONCE = 50  # websocket handshakes in flight at a time while connecting viewers
SETTLE = 3.0  # seconds after subscribing, so every watched thread's poller has started
GRACE = 3.0  # seconds after the last send for deliveries still on their way


@dataclass
class Phase:
    """What one mode (Kwebbel or the baseline) measured."""

    name: str
    latencies: list[float] = field(default_factory=list)  # seconds, per (viewer, message)
    acks: list[float] = field(default_factory=list)  # seconds from send to its ack (Kwebbel)
    hostile_frames: int = 0  # malformed frames the hostile sockets had answered
    hostile_closed: int = 0  # times the server closed a hostile socket
    sent: int = 0
    expected: int = 0  # deliveries due: each message times the viewers of its thread
    errors: int = 0
    elapsed: float = 0.0  # seconds between the two emulator snapshots
    sending: float = 0.0  # seconds the senders sent for
    calls: Counter[str] = field(default_factory=Counter)  # ACS calls in the window
    watched_threads: int = 0
    cpu: dict[str, float] = field(default_factory=dict)  # CPU seconds per process, in the window
    idle_calls: Counter[str] = field(default_factory=Counter)  # ACS calls while nobody sends
    idle_elapsed: float = 0.0

    @property
    def delivered(self) -> int:
        return len(self.latencies)

    def per_minute(self, count: float) -> float:
        return count * 60 / self.elapsed if self.elapsed else 0.0

    def ms(self, p: float) -> float:
        return percentile(self.latencies, p) * 1000

    def ack_ms(self, p: float) -> float:
        return percentile(self.acks, p) * 1000

    def relay_calls_per_thread_minute(self, *, idle: bool = False) -> float:
        """The relay's reads of ACS (not the senders' sends) a minute per watched thread."""
        calls, elapsed = (
            (self.idle_calls, self.idle_elapsed) if idle else (self.calls, self.elapsed)
        )
        reads = sum(calls[operation] for operation in RELAY_READS)
        return reads * 60 / elapsed / max(1, self.watched_threads) if elapsed else 0.0


# --- Setup -----------------------------------------------------------------------------------


@dataclass
class Plan:
    viewers: list[str]
    senders: list[str]
    threads: list[Thread]
    viewer_thread: dict[str, int]  # viewer -> index of the thread they watch

    @classmethod
    def make(cls, viewers: int, threads: int, senders: int) -> Plan:
        names = [f"viewer{n}" for n in range(viewers)]
        sender_names = [f"sender{n}" for n in range(senders)]
        watch = {name: n % threads for n, name in enumerate(names)}
        specs = [
            Thread(
                f"Bench {t}",
                sender_names[0],
                [*sender_names[1:], *(v for v in names if watch[v] == t)],
            )
            for t in range(threads)
        ]
        return cls(names, sender_names, specs, watch)

    def viewers_of(self, thread: int) -> int:
        return sum(1 for t in self.viewer_thread.values() if t == thread)


def _stats(emulator: EmulatorProcess) -> Counter[str]:
    return Counter(emulator.stats()["operations"])


def _processes(site: LiveSite) -> dict[str, int]:
    """The processes whose CPU use is reported: who was busy limits the figures."""
    found = {f"Daphne {n}" if len(site.servers) > 1 else "Daphne": s.pid
             for n, s in enumerate(site.servers)}  # fmt: skip
    found["emulator"] = site.emulator.pid
    found["bench clients"] = os.getpid()
    return found


class CpuWindow:
    """CPU seconds each process used between ``start()`` and ``stop()``."""

    def __init__(self, site: LiveSite) -> None:
        self.pids = _processes(site)
        self.before: dict[str, float] = {}

    def start(self) -> None:
        self.before = {name: cpu_seconds(pid) for name, pid in self.pids.items()}

    def stop(self) -> dict[str, float]:
        return {name: cpu_seconds(pid) - self.before[name] for name, pid in self.pids.items()}


async def _limited(jobs: Iterable[Callable[[], Awaitable[Any]]], at_once: int) -> list[Any]:
    """Run coroutine factories with at most ``at_once`` in flight; results in order."""
    gate = asyncio.Semaphore(at_once)

    async def run(job: Callable[[], Awaitable[Any]]) -> Any:
        async with gate:
            return await job()

    return await asyncio.gather(*(run(job) for job in jobs))


async def _subscribed_viewers(
    http: aiohttp.ClientSession,
    site: LiveSite,
    seeded: Seeded,
    plan: Plan,
    on_frame: Callable[[dict[str, Any], float], None],
) -> list[ChatSocket]:
    async def connect(n: int, name: str) -> ChatSocket:
        server = site.servers[n % len(site.servers)]
        socket = await ChatSocket(
            http, server, seeded.users[name].session, on_frame=on_frame
        ).connect()
        ack = await socket.request(
            "subscribe", thread=seeded.threads[plan.viewer_thread[name]], cursor=None
        )
        if not ack.get("ok"):
            raise RuntimeError(f"{name} could not subscribe: {ack}")
        return socket

    return await _limited(
        [lambda n=n, name=name: connect(n, name) for n, name in enumerate(plan.viewers)],
        CONNECT_AT_ONCE,
    )


async def _paced(
    senders: list[str],
    threads: int,
    rate: float,
    duration: float,
    send: Callable[[int, str, int, str], Awaitable[None]],
) -> int:
    """Each sender sends ``rate`` a second for ``duration`` s, to the threads in turn."""
    loop = asyncio.get_running_loop()
    start = loop.time()
    tasks: list[asyncio.Task[None]] = []
    per_sender = int(duration * rate)
    for n in range(per_sender):
        for s, sender in enumerate(senders):
            # Senders are spread over each interval, not all at its start.
            due = start + (n + s / len(senders)) / rate
            await asyncio.sleep(max(0.0, due - loop.time()))
            thread = (s + n * len(senders)) % threads
            tasks.append(asyncio.create_task(send(s, sender, thread, f"b{s}x{n}")))
    await asyncio.gather(*tasks)
    return len(tasks)


# --- Kwebbel ---------------------------------------------------------------------------------


async def _measure(
    site: LiveSite,
    plan: Plan,
    args: argparse.Namespace,
    phase: Phase,
    send: Callable[[int, str, int, str], Awaitable[None]],
) -> None:
    """The measured window, the same for Kwebbel and the baseline: let pollers start, send at
    the planned pace, wait for late deliveries; CPU and the emulator's counters over it all."""
    await asyncio.sleep(SETTLE)
    cpu = CpuWindow(site)
    before = _stats(site.emulator)
    cpu.start()
    started = time.perf_counter()
    phase.sent = await _paced(plan.senders, len(plan.threads), args.rate, args.duration, send)
    phase.sending = time.perf_counter() - started
    await asyncio.sleep(GRACE)
    phase.cpu = cpu.stop()
    phase.calls = _stats(site.emulator) - before
    phase.elapsed = time.perf_counter() - started


# Frames a hostile neighbour sends, in turn: each gets an error or a failed ack, never an ACS
# call, and must not slow anyone else down.
HOSTILE_FRAMES = [
    "[" * 5000 + "]" * 5000,  # 10 KB of nesting, deeper than the JSON parser recurses
    "x" * 60_000,  # over Kwebbel's frame limit (below Daphne's 1 MiB)
    '{"action": "send", "thread": "19:a@thread.v2", "request": 1, "content": "\\ud800"}',
    '{"action": "send", "thread": "19:a@thread.v2", "request": 2, "content": "a\\u0000b"}',
    '{"action": ["send"], "thread": {"$ne": 1}}',
    '{"action": "subscribe", "thread": "../../etc/passwd", "request": 3}',
    "not json at all",
]


async def _hostile(socket: ChatSocket, phase: Phase, stop: asyncio.Event) -> None:
    """Send malformed frames back to back, each as soon as the last was answered; when the
    server closes the connection for it, connect again and go on."""
    n = 0
    while not stop.is_set():
        try:
            await socket.send_text(HOSTILE_FRAMES[n % len(HOSTILE_FRAMES)])
            await socket.next_frame(within=30)  # the error (or failed ack) it earns
            phase.hostile_frames += 1
        except (SocketClosed, TimeoutError):
            phase.hostile_closed += 1
            # Back again a second later, as a page that reconnects would; the server refuses
            # the session for a while (a connection flood is for a proxy's rate limits).
            await asyncio.sleep(1)
            with contextlib.suppress(aiohttp.WSServerHandshakeError):
                await socket.connect()
        n += 1


async def run_kwebbel(
    site: LiveSite,
    seeded: Seeded,
    plan: Plan,
    args: argparse.Namespace,
    *,
    outside: bool,
    hostile: int = 0,
    idle: float = 0.0,
    name: str = "",
) -> Phase:
    """Viewers on websockets; senders through Kwebbel, or straight to ACS when ``outside``;
    ``hostile`` more sockets sending malformed frames all the while; then, with ``idle``, that
    many seconds of nobody sending, the viewers still watching (the ACS calls it costs)."""
    emulator = site.emulator
    name = name or ("straight to ACS" if outside else "Kwebbel")
    phase = Phase(f"{name}, {hostile} hostile sockets" if hostile else name)
    sent_at: dict[str, float] = {}

    def on_frame(frame: dict[str, Any], received: float) -> None:
        if frame.get("type") != "event" or frame.get("kind") != "message.added":
            return
        data = frame["data"]
        key = data.get("clientId") or data.get("source")
        if key in sent_at:
            phase.latencies.append(received - sent_at[key])

    connector = aiohttp.TCPConnector(limit=0)
    async with aiohttp.ClientSession(connector=connector) as http:
        viewers = await _subscribed_viewers(http, site, seeded, plan, on_frame)
        phase.watched_threads = len({plan.viewer_thread[v] for v in plan.viewers})
        sockets: dict[str, ChatSocket] = {}
        clients: dict[tuple[str, int], Any] = {}
        for n, sender in enumerate(plan.senders):
            server = site.servers[n % len(site.servers)]
            sockets[sender] = await ChatSocket(
                http, server, seeded.users[sender].session, on_frame=lambda f, t: None
            ).connect()

        async def send(s: int, sender: str, thread: int, key: str) -> None:
            phase.expected += plan.viewers_of(thread)
            # Keys are client ids too: a second run must not reuse the first run's.
            key = f"h{key}" if hostile else key
            try:
                if outside:
                    client = clients.get((sender, thread))
                    if client is None:
                        client = clients[(sender, thread)] = async_thread_client(
                            emulator, seeded.users[sender].token, seeded.threads[thread]
                        )
                    sent_at[key] = time.perf_counter()
                    await client.send_message(key)
                else:
                    sent_at[key] = time.perf_counter()
                    ack = await sockets[sender].request(
                        "send", thread=seeded.threads[thread], content=key, clientId=key,
                        format="text",
                    )  # fmt: skip
                    phase.acks.append(time.perf_counter() - sent_at[key])
                    if not ack.get("ok"):
                        raise RuntimeError(ack)
            except Exception as error:  # noqa: BLE001 - counted and reported, the run goes on
                phase.errors += 1
                print(f"send failed: {error!r}", file=sys.stderr)

        stop = asyncio.Event()
        hostiles = [
            await ChatSocket(http, site.servers[0], seeded.users[f"hostile{n}"].session).connect()
            for n in range(hostile)
        ]
        attacks = [asyncio.create_task(_hostile(h, phase, stop)) for h in hostiles]
        await _measure(site, plan, args, phase, send)
        if idle:
            before = _stats(emulator)
            started = time.perf_counter()
            await asyncio.sleep(idle)
            phase.idle_calls = _stats(emulator) - before
            phase.idle_elapsed = time.perf_counter() - started
        stop.set()
        await asyncio.gather(*attacks, return_exceptions=True)
        for socket in [*viewers, *sockets.values(), *hostiles]:
            await socket.close()
        for client in clients.values():
            await client.close()
    return phase


# --- Baseline: every viewer polls ACS itself ---------------------------------------------------


async def run_baseline(
    site: LiveSite, seeded: Seeded, plan: Plan, args: argparse.Namespace
) -> Phase:
    """Microsoft's quickstart pattern: each viewer polls list_messages with its own token."""
    emulator = site.emulator
    phase = Phase("baseline")
    phase.watched_threads = len({plan.viewer_thread[v] for v in plan.viewers})
    sent_at: dict[str, float] = {}
    rng = random.Random(1)
    since = datetime.now(UTC) - timedelta(seconds=1)
    stop = asyncio.Event()

    async def poll(viewer: str) -> None:
        thread_id = seeded.threads[plan.viewer_thread[viewer]]
        seen: set[str] = set()
        loop = asyncio.get_running_loop()
        async with async_thread_client(emulator, seeded.users[viewer].token, thread_id) as client:
            due = loop.time() + rng.uniform(0, args.interval)  # viewers open pages at any time
            while not stop.is_set():
                await asyncio.sleep(max(0.0, due - loop.time()))
                # Like a browser's setInterval: the next poll is due one interval later, or at
                # once when this one took longer than that.
                due = max(due + args.interval, loop.time())
                try:
                    pages = client.list_messages(results_per_page=50, start_time=since).by_page()
                    async for page in pages:
                        async for message in page:
                            key = message.content.message if message.content else None
                            if key in sent_at and key not in seen:
                                seen.add(key)
                                phase.latencies.append(time.perf_counter() - sent_at[key])
                        break
                except Exception as error:  # noqa: BLE001
                    phase.errors += 1
                    print(f"baseline poll failed: {error!r}", file=sys.stderr)

    clients: dict[tuple[str, int], Any] = {}

    async def send(s: int, sender: str, thread: int, key: str) -> None:
        phase.expected += plan.viewers_of(thread)
        client = clients.get((sender, thread))
        if client is None:
            client = clients[(sender, thread)] = async_thread_client(
                emulator, seeded.users[sender].token, seeded.threads[thread]
            )
        try:
            sent_at[key] = time.perf_counter()
            await client.send_message(key)
        except Exception as error:  # noqa: BLE001
            phase.errors += 1
            print(f"baseline send failed: {error!r}", file=sys.stderr)

    pollers = [asyncio.create_task(poll(v)) for v in plan.viewers]
    try:
        await _measure(site, plan, args, phase, send)
    finally:
        stop.set()
        await asyncio.gather(*pollers, return_exceptions=True)
        for client in clients.values():
            await client.close()
    return phase


# --- Capacity ----------------------------------------------------------------------------------


@dataclass
class Level:
    connections: int
    held: int
    rss: int
    baseline_rss: int
    round_trips: list[float]

    @property
    def per_connection(self) -> float:
        return (self.rss - self.baseline_rss) / self.connections if self.connections else 0.0


async def run_capacity(site: LiveSite, sessions: list[str], levels: list[int]) -> list[Level]:
    server = site.servers[0]
    results = []
    connector = aiohttp.TCPConnector(limit=0)
    async with aiohttp.ClientSession(connector=connector) as http:
        # Warm up (code paths loaded, database connections open), then measure from here.
        warm = [await ChatSocket(http, server, sessions[n]).connect() for n in range(10)]
        for socket in warm:
            await socket.request("nothing")
            await socket.close()
        await asyncio.sleep(1)
        baseline_rss = server.rss_bytes()
        sockets: list[ChatSocket] = []

        async def connect(n: int) -> ChatSocket:
            return await ChatSocket(http, server, sessions[n % len(sessions)]).connect()

        for level in levels:
            more = range(len(sockets), level)
            sockets += await _limited([lambda n=n: connect(n) for n in more], CONNECT_AT_ONCE)
            await asyncio.sleep(2)
            held = sum(1 for s in sockets if s.is_open)
            # Still served: a sample of connections gets an answer to a frame.
            round_trips = []
            for socket in random.Random(level).sample(sockets, min(50, len(sockets))):
                started = time.perf_counter()
                ack = await socket.request("nothing")
                if ack.get("type") == "ack":
                    round_trips.append(time.perf_counter() - started)
            results.append(Level(level, held, server.rss_bytes(), baseline_rss, round_trips))
        for socket in sockets:
            await socket.close()
    return results


# --- Reporting ---------------------------------------------------------------------------------


def _ratio(a: float, b: float) -> str:
    return f"{a / b:.3f}" if b else "-"


def _n(value: float, digits: int = 1) -> str:
    return f"{value:.{digits}f}"


def fanout_table(kwebbel: Phase, baseline: Phase) -> list[str]:
    rows = []

    def row(name: str, a: float, b: float, digits: int = 1) -> None:
        rows.append((name, _n(a, digits), _n(b, digits), _ratio(a, b)))

    for p in (50, 95, 99):
        row(f"send-to-delivery p{p} ms", kwebbel.ms(p), baseline.ms(p))
    row("deliveries/s", kwebbel.delivered / kwebbel.sending, baseline.delivered / baseline.sending)
    row("messages sent", kwebbel.sent, baseline.sent, 0)
    row("deliveries due", kwebbel.expected, baseline.expected, 0)
    row("deliveries missed", kwebbel.expected - kwebbel.delivered,
        baseline.expected - baseline.delivered, 0)  # fmt: skip
    row("errors", kwebbel.errors, baseline.errors, 0)
    k_calls, b_calls = sum(kwebbel.calls.values()), sum(baseline.calls.values())
    row("ACS calls/min, all", kwebbel.per_minute(k_calls), baseline.per_minute(b_calls))
    row(
        "ListChatMessages/min per watched thread",
        kwebbel.per_minute(kwebbel.calls[LIST]) / max(1, kwebbel.watched_threads),
        baseline.per_minute(baseline.calls[LIST]) / max(1, baseline.watched_threads),
    )
    return format_table(("figure", kwebbel.name, baseline.name, "ratio"), rows)


def kwebbel_summary(phase: Phase) -> list[str]:
    rows = [(f"send-to-delivery p{p} ms", _n(phase.ms(p))) for p in (50, 95, 99)]
    rows += [(f"send-to-ack p{p} ms", _n(phase.ack_ms(p))) for p in (50, 99)]
    rows += [
        ("deliveries/s", _n(phase.delivered / phase.sending)),
        ("deliveries due", str(phase.expected)),
        ("deliveries missed", str(phase.expected - phase.delivered)),
        ("errors", str(phase.errors)),
        ("watched threads", str(phase.watched_threads)),
        ("ACS calls/min per watched thread",
         _n(phase.per_minute(sum(phase.calls.values())) / max(1, phase.watched_threads))),
        ("ListChatMessages/min per watched thread",
         _n(phase.per_minute(phase.calls[LIST]) / max(1, phase.watched_threads))),
    ]  # fmt: skip
    return ["", *format_table(("figure", phase.name), rows)]


def hostile_table(clean: Phase, hostile: Phase) -> list[str]:
    rows = []
    for name, pick in (("send-to-ack", Phase.ack_ms), ("send-to-delivery", Phase.ms)):
        for p in (50, 95, 99):
            a, b = pick(clean, p), pick(hostile, p)
            rows.append((f"{name} p{p} ms", _n(a), _n(b), _ratio(b, a)))
    rows.append(("deliveries missed", str(clean.expected - clean.delivered),
                 str(hostile.expected - hostile.delivered), "-"))  # fmt: skip
    rows.append(("errors", str(clean.errors), str(hostile.errors), "-"))
    rows.append(("malformed frames answered/s", "0",
                 _n(hostile.hostile_frames / hostile.elapsed), "-"))  # fmt: skip
    rows.append(("hostile sockets closed by the server", "0", str(hostile.hostile_closed), "-"))
    return format_table(("figure", clean.name, hostile.name, "hostile/clean"), rows)


def operations_table(phases: list[Phase]) -> list[str]:
    operations = sorted({op for p in phases for op in p.calls})
    rows = [(op, *(_n(p.per_minute(p.calls[op])) for p in phases)) for op in operations]
    if len(phases) == 2:
        rows = [(*r, _ratio(float(r[1]), float(r[2]))) for r in rows]
    header = ("ACS calls/min by operation", *(p.name for p in phases))
    return format_table((*header, "ratio") if len(phases) == 2 else header, rows)


def cpu_table(phases: list[Phase]) -> list[str]:
    """Each process's CPU use in the window, in % of one core (the machine has os.cpu_count())."""
    names = list(phases[0].cpu)
    rows = [(name, *(_n(100 * p.cpu.get(name, 0.0) / p.elapsed) for p in phases)) for name in names]
    rows.append(("all", *(_n(100 * sum(p.cpu.values()) / p.elapsed) for p in phases)))
    return format_table(("CPU % of one core", *(p.name for p in phases)), rows)


def outside_table(phase: Phase, interval: float) -> list[str]:
    rows = [
        ("poll interval ms", _n(interval * 1000)),
        *((f"sent-to-viewer p{p} ms", _n(phase.ms(p))) for p in (50, 95, 99)),
        ("aim: p99 within interval + 100 ms", _n(interval * 1000 + 100)),
        ("max ms", _n(max(phase.latencies, default=0) * 1000)),
        ("messages sent", str(phase.sent)),
        ("deliveries due", str(phase.expected)),
        ("deliveries missed", str(phase.expected - phase.delivered)),
        ("errors", str(phase.errors)),
        (
            "ListChatMessages/min per watched thread",
            _n(phase.per_minute(phase.calls[LIST]) / max(1, phase.watched_threads)),
        ),
    ]
    return format_table(("figure", "messages straight to ACS"), rows)


def push_table(polling: Phase, pushed: Phase, interval: float) -> list[str]:
    """Messages straight to ACS, the relay polling alone and with Event Grid's events."""
    phases = (polling, pushed)

    def row(name: str, figure: Callable[[Phase], str]) -> tuple[str, ...]:
        return (name, *(figure(p) for p in phases))

    rows = [
        row("poll interval ms", lambda p: _n(interval * 1000)),
        *(row(f"sent-to-viewer p{q} ms", lambda p, q=q: _n(p.ms(q))) for q in (50, 95, 99)),
        row("max ms", lambda p: _n(max(p.latencies, default=0) * 1000)),
        row("messages sent", lambda p: str(p.sent)),
        row("deliveries due", lambda p: str(p.expected)),
        row("deliveries missed", lambda p: str(p.expected - p.delivered)),
        row("errors", lambda p: str(p.errors)),
        row(
            "ACS calls/min per watched thread, busy",
            lambda p: _n(p.relay_calls_per_thread_minute()),
        ),
        row(
            "ACS calls/min per watched thread, idle",
            lambda p: _n(p.relay_calls_per_thread_minute(idle=True)),
        ),
        row("idle window s", lambda p: _n(p.idle_elapsed)),
    ]
    return format_table(("figure", *(p.name for p in phases)), rows)


def capacity_table(levels: list[Level]) -> list[str]:
    rows = [
        (
            str(level.connections),
            str(level.held),
            _n(level.baseline_rss / 2**20),
            _n(level.rss / 2**20),
            _n(level.per_connection / 1024),
            _n(percentile(level.round_trips, 50) * 1000),
            _n(percentile(level.round_trips, 99) * 1000),
        )
        for level in levels
    ]
    header = ("connections", "held", "RSS idle MiB", "RSS MiB", "KiB/connection",
              "frame p50 ms", "frame p99 ms")  # fmt: skip
    return format_table(header, rows)


# --- Main --------------------------------------------------------------------------------------


@contextlib.contextmanager
def _site(args: argparse.Namespace, work: Path, *, push: bool = False) -> Any:
    """The emulator and the site; with ``push``, events on and the emulator subscribed to the
    site's webhook (the first server's; hints reach the others through Redis)."""
    settings = {"RELAY_POLL_INTERVAL": str(args.interval), "LOG_LEVEL": "WARNING"}
    if push:
        settings.update(RELAY_EVENTS="true", ACS_EVENTS_SECRET=EVENTS_SECRET)
    with (
        EmulatorProcess(work / "acs", extra_args=["--log-level", "WARNING"]) as emulator,
        LiveSite(
            emulator,
            postgres_database(args.postgres) if args.postgres else sqlite_database(work),
            work,
            servers=args.servers,
            redis_url=args.redis or "",
            settings=settings,
            production=True,
        ) as site,
    ):
        if push:
            url = f"{site.servers[0].url}/events/acs/?secret={EVENTS_SECRET}"
            emulator.add_event_subscription(url, name="bench")
            state = emulator.wait_for_subscription("bench")["provisioningState"]
            if state != "Succeeded":
                raise RuntimeError(f"the webhook's subscription is {state}")
        yield site


def _print(lines: Iterable[str]) -> None:
    for line in lines:
        print(line)
    sys.stdout.flush()


def _plot(
    args: argparse.Namespace,
    name: str,
    figure: str,
    series: dict[str, list[float]],
    counted: str = "deliveries",
) -> None:
    """Write a latency picture when ``--plot DIR`` was given (see bench/plots.py)."""
    if not args.plot:
        return
    from bench.plots import latency_plot

    size = f"V={args.viewers}, T={args.threads}, S={args.senders}, servers={args.servers}"
    path = Path(args.plot) / f"{name}-{args.viewers}v{args.servers}s.png"
    latency_plot(path, f"{args.command}: {figure} latency ({size})", series, counted=counted)
    print(f"wrote {path}")


def push_compare(args: argparse.Namespace, work: Path) -> int:
    """``outside --push``: the same run twice, polling alone then with events, side by side."""
    plan = Plan.make(args.viewers, args.threads, args.senders)
    phases = []
    for push, name in ((False, "polling"), (True, "events + polling")):
        (work / name[:7]).mkdir()
        with _site(args, work / name[:7], push=push) as site:
            seeded = site.seed([*plan.senders, *plan.viewers], plan.threads)
            phase = asyncio.run(
                run_kwebbel(site, seeded, plan, args, outside=True, idle=args.idle, name=name)
            )
            phases.append(phase)
            print(f"{name}: done")
    polling, pushed = phases
    _plot(args, "outside-push", "sent-to-viewer", {p.name: p.latencies for p in phases})
    print()
    _print(push_table(polling, pushed, args.interval))
    print()
    _print(operations_table(phases))
    print()
    _print(cpu_table(phases))
    return 1 if polling.errors or pushed.errors else 0


def fanout(args: argparse.Namespace, work: Path, *, outside: bool) -> int:
    if outside and getattr(args, "push", False):
        return push_compare(args, work)
    plan = Plan.make(args.viewers, args.threads, args.senders)
    with _site(args, work, push=getattr(args, "events", False)) as site:
        started = time.perf_counter()
        # Hostile neighbours are users of their own, in no thread.
        hostile = [f"hostile{n}" for n in range(getattr(args, "hostile", 0))]
        seeded = site.seed([*plan.senders, *plan.viewers, *hostile], plan.threads)
        print(f"seeded {len(seeded.users)} users and {len(seeded.threads)} threads "
              f"in {time.perf_counter() - started:.1f} s")  # fmt: skip
        if outside:
            phase = asyncio.run(run_kwebbel(site, seeded, plan, args, outside=True))
            _plot(args, "outside", "sent-to-viewer", {phase.name: phase.latencies})
            print()
            _print(outside_table(phase, args.interval))
            print()
            _print(operations_table([phase]))
            print()
            _print(cpu_table([phase]))
            return 1 if phase.errors else 0
        kwebbel = asyncio.run(run_kwebbel(site, seeded, plan, args, outside=False))
        if args.command == "hostile":
            attacked = asyncio.run(
                run_kwebbel(site, seeded, plan, args, outside=False, hostile=args.hostile)
            )
            _plot(
                args,
                "hostile",
                "send-to-delivery",
                {kwebbel.name: kwebbel.latencies, attacked.name: attacked.latencies},
            )
            _plot(
                args,
                "hostile-acks",
                "send-to-ack",
                {kwebbel.name: kwebbel.acks, attacked.name: attacked.acks},
            )
            print()
            _print(hostile_table(kwebbel, attacked))
            print()
            _print(cpu_table([kwebbel, attacked]))
            return 1 if kwebbel.errors or attacked.errors else 0
        if args.skip_baseline:
            _plot(args, "fanout", "send-to-delivery", {kwebbel.name: kwebbel.latencies})
            print()
            _print(operations_table([kwebbel]))
            print()
            _print(cpu_table([kwebbel]))
            _print(kwebbel_summary(kwebbel))
            return 1 if kwebbel.errors else 0
        baseline = asyncio.run(run_baseline(site, seeded, plan, args))
    _plot(args, "fanout", "send-to-delivery", {kwebbel.name: kwebbel.latencies,
                                                baseline.name: baseline.latencies})  # fmt: skip
    print()
    _print(fanout_table(kwebbel, baseline))
    print()
    _print(operations_table([kwebbel, baseline]))
    print()
    _print(cpu_table([kwebbel, baseline]))
    worst = baseline.per_minute(baseline.calls[LIST]) / max(1, baseline.watched_threads)
    if worst > ACS_LIST_PER_THREAD_MINUTE:
        print(f"\nThe baseline makes {worst:.0f} list calls a minute per thread: over ACS's "
              f"{ACS_LIST_PER_THREAD_MINUTE}, so real ACS would answer it with 429s.")  # fmt: skip
    return 1 if kwebbel.errors or baseline.errors else 0


def capacity(args: argparse.Namespace, work: Path) -> int:
    levels = sorted(int(n) for n in args.connections.split(","))
    with _site(args, work) as site:
        users = [f"idle{n}" for n in range(10)]
        seeded = site.seed(users)
        sessions = [seeded.users[name].session for name in users]
        results = asyncio.run(run_capacity(site, sessions, levels))
    print()
    _print(capacity_table(results))
    return 0 if all(level.held == level.connections for level in results) else 1


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)
    for name in ("fanout", "outside", "hostile"):
        sub = commands.add_parser(name)
        sub.add_argument("--viewers", type=int, default=500)
        sub.add_argument("--threads", type=int, default=50)
        sub.add_argument("--senders", type=int, default=10)
        sub.add_argument("--duration", type=float, default=60.0, help="seconds of sending")
        sub.add_argument("--rate", type=float, default=1.0, help="messages/s per sender")
        sub.add_argument("--interval", type=float, default=1.0, help="poll interval, seconds")
        sub.add_argument("--quick", action="store_true", help="a tiny run to check it works")
        if name == "hostile":
            sub.add_argument("--hostile", type=int, default=3, help="sockets sending bad frames")
        if name in ("fanout", "hostile"):
            sub.add_argument(
                "--events",
                action="store_true",
                help="Event Grid's events on (RELAY_EVENTS): watched threads polled rarely",
            )
        if name == "outside":
            sub.add_argument(
                "--push",
                action="store_true",
                help="also with Event Grid's events on (RELAY_EVENTS), side by side",
            )
            sub.add_argument(
                "--idle", type=float, default=90.0, help="seconds watched with nobody sending"
            )
    sub = commands.add_parser("capacity")
    sub.add_argument("--connections", default="1000,5000", help="levels, comma-separated")
    sub.add_argument("--interval", type=float, default=1.0, help=argparse.SUPPRESS)
    sub.add_argument("--quick", action="store_true", help="a tiny run to check it works")
    for sub in commands.choices.values():
        sub.add_argument(
            "--servers", type=int, default=1, help="Daphne processes (2 needs --redis)"
        )
        sub.add_argument("--redis", default="", help="REDIS_URL for the servers (a spare db!)")
        sub.add_argument(
            "--postgres", default="", help="a PostgreSQL server URL: a fresh database on it"
        )
        sub.add_argument("--skip-baseline", action="store_true", help="Kwebbel only")
        sub.add_argument("--plot", default="", help="write latency PNGs to this directory")
    args = parser.parse_args(argv)
    if args.servers > 1 and not args.redis:
        parser.error("--servers 2 needs --redis (the processes share the channel layer)")
    if args.quick and args.command == "capacity":
        args.connections = "20,50"
    elif args.quick:
        args.viewers, args.threads, args.senders = 4, 2, 2
        args.duration, args.rate, args.interval = 3.0, 2.0, 0.5
        args.idle = 3.0
    if args.command != "capacity" and min(args.viewers, args.threads, args.senders) < 1:
        parser.error("--viewers, --threads and --senders must be at least 1")

    _print(environment_lines())
    print(f"command: {' '.join(sys.argv[1:]) if argv is None else ' '.join(argv)}")
    print(f"parameters: {vars(args)}")
    with tempfile.TemporaryDirectory(prefix="kwebbel-bench-") as work:
        if args.command == "capacity":
            return capacity(args, Path(work))
        return fanout(args, Path(work), outside=args.command == "outside")


if __name__ == "__main__":
    sys.exit(main())
