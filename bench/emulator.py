"""Throughput and latency of the ACS emulator as seen through the official async chat SDK.

    .venv/bin/python bench/emulator.py [--clients 8] [--processes 2] [--duration 10] [--quick]

Starts its own emulator in a temporary data directory, creates one user per client and a thread
they all belong to (seeded with 60 messages), then lets the clients call as fast as they can for
``--duration`` seconds per phase. Each client is its own ``azure.communication.chat.aio``
``ChatClient`` with its own connection; the clients are spread over ``--processes`` processes
(one event loop each), because on a small machine one process cannot drive the SDK fast enough
(azure-core's pipeline costs about as much CPU per call as the emulator's whole request).

Phases, each measured alone:

* ``send_message`` through the SDK, with no event subscription;
* ``send_message`` through the SDK with one Event Grid subscription: a webhook in this process
  receives every ``ChatMessageReceivedInThread`` (the backlog is drained and counted after);
* the first page of ``list_messages(results_per_page=50)`` through the SDK;
* both again with a plain aiohttp client (same requests, tokens and connections, JSON parsed
  but not turned into SDK models): the emulator's own capacity, with a cheap client.

The clients trust the emulator's CA through ``SSL_CERT_FILE`` rather than
``connection_verify=<path>``: azure-core's aiohttp transport builds a new SSL context for every
request when given a path, so aiohttp can reuse no connection and every call pays a full TLS
handshake on both sides (see the README).

Printed: requests/s, p50/p99 latency, the emulator's own request count for the phase (equal to
the calls: no hidden retries) and the CPU used by the emulator and by the clients, next to the
previous emulator's recorded figures (``PREVIOUS``, from ``bench/RESULTS.md``).
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing
import os
import platform
import ssl
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from importlib.metadata import version
from pathlib import Path
from typing import Any

# Runnable as a plain script from the repository root or anywhere else.
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from acs_emulator.process import EmulatorProcess  # noqa: E402
from livesite import cpu_seconds, format_table, percentile  # noqa: E402

LIST_PAGE_SIZE = 50
SEED_MESSAGES = 60
CHAT_API = "api-version=2024-03-07"

# The previous emulator version's run of this benchmark (bench/RESULTS.md, 26 November 2026):
# 8 SDK clients on one event loop in one process, with connection_verify=<ca.pem>.
PREVIOUS = {
    "send_message": (4097, 408.6, 16.6, 60.2),
    f"list_messages ({LIST_PAGE_SIZE}/page)": (1500, 149.6, 48.3, 247.8),
}


@dataclass
class Phase:
    operation: str
    client: str  # "sdk" or "raw"
    operation_id: str
    label: str


PHASES = [
    Phase("send_message", "sdk", "ChatThread_SendChatMessage", "SDK"),
    Phase("send_message", "sdk", "ChatThread_SendChatMessage", "SDK, 1 webhook"),
    Phase(f"list_messages ({LIST_PAGE_SIZE}/page)", "sdk", "ChatThread_ListChatMessages", "SDK"),
    Phase("send_message", "raw", "ChatThread_SendChatMessage", "raw HTTP"),
    Phase(
        f"list_messages ({LIST_PAGE_SIZE}/page)", "raw", "ChatThread_ListChatMessages", "raw HTTP"
    ),
]


# --- the client processes -------------------------------------------------------------------


async def _sdk_call(operation: str, thread: Any, n: int) -> None:
    if operation == "send_message":
        await thread.send_message(f"bench message {n}")
        return
    pages = thread.list_messages(results_per_page=LIST_PAGE_SIZE).by_page()
    async for page in pages:
        async for _message in page:
            pass
        break


async def _raw_call(operation: str, client: tuple[Any, str, dict], n: int) -> None:
    session, base, headers = client
    if operation == "send_message":
        body = {"content": f"bench message {n}", "type": "text"}
        async with session.post(f"{base}?{CHAT_API}", json=body, headers=headers) as response:
            assert response.status == 201, response.status
            await response.read()
        return
    url = f"{base}?maxPageSize={LIST_PAGE_SIZE}&{CHAT_API}"
    async with session.get(url, headers=headers) as response:
        assert response.status == 200, response.status
        assert len((await response.json())["value"]) == LIST_PAGE_SIZE


async def _client_loop(
    call: Any, operation: str, target: Any, deadline: float, latencies: list, errors: list
) -> None:
    n = 0
    while time.perf_counter() < deadline:
        started = time.perf_counter()
        try:
            await call(operation, target, n)
        except Exception as exc:  # a benchmark reports failures, it does not stop at one
            errors.append(repr(exc))
            continue
        latencies.append((time.perf_counter() - started) * 1000)
        n += 1


async def _worker_main(conn: Any, endpoint: str, thread_id: str, tokens: list[str]) -> None:
    import aiohttp
    from azure.communication.chat.aio import ChatThreadClient, CommunicationTokenCredential

    # Trust comes from SSL_CERT_FILE (set by the parent), so no connection_verify here.
    sdk = [ChatThreadClient(endpoint, CommunicationTokenCredential(t), thread_id) for t in tokens]
    base = f"{endpoint}/chat/threads/{thread_id}/messages"
    raw = [(aiohttp.ClientSession(), base, {"Authorization": f"Bearer {t}"}) for t in tokens]
    for thread in sdk:  # open every connection before the clock starts
        await thread.get_properties()
    conn.send("ready")
    while (command := conn.recv()) != "stop":
        operation, client, start_at, duration = command
        await asyncio.sleep(max(0.0, start_at - time.time()))
        deadline = time.perf_counter() + duration
        latencies: list[float] = []
        errors: list[str] = []
        call = _sdk_call if client == "sdk" else _raw_call
        targets = sdk if client == "sdk" else raw
        await asyncio.gather(
            *(_client_loop(call, operation, t, deadline, latencies, errors) for t in targets)
        )
        conn.send((latencies, errors))
    for thread in sdk:
        await thread.close()
    for session, _, _ in raw:
        await session.close()


def _worker(conn: Any, endpoint: str, thread_id: str, tokens: list[str]) -> None:
    asyncio.run(_worker_main(conn, endpoint, thread_id, tokens))


# --- the webhook of the event phase ---------------------------------------------------------


class Webhook:
    """An Event Grid webhook on this process (in a thread of its own) that counts events."""

    def __init__(self) -> None:
        from aiohttp import web

        self.events = 0
        self._ready = threading.Event()
        self._loop = asyncio.new_event_loop()

        async def receive(request: web.Request) -> web.Response:
            body = await request.json()
            if request.headers.get("aeg-event-type") == "SubscriptionValidation":
                return web.json_response({"validationResponse": body[0]["data"]["validationCode"]})
            self.events += len(body)
            return web.Response(status=200)

        async def serve() -> None:
            app = web.Application()
            app.router.add_post("/events", receive)
            self._runner = web.AppRunner(app, access_log=None)
            await self._runner.setup()
            site = web.TCPSite(self._runner, "127.0.0.1", 0)
            await site.start()
            self.url = f"http://127.0.0.1:{self._runner.addresses[0][1]}/events"
            self._ready.set()

        self._thread = threading.Thread(
            target=lambda: (self._loop.run_until_complete(serve()), self._loop.run_forever()),
            daemon=True,
        )
        self._thread.start()
        self._ready.wait(10)

    def close(self) -> None:
        asyncio.run_coroutine_threadsafe(self._runner.cleanup(), self._loop).result(10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)


# --- the run ----------------------------------------------------------------------------------


@dataclass
class Result:
    phase: Phase
    latencies_ms: list[float]
    errors: list[str]
    elapsed_s: float
    server_count: int
    emulator_cpu: float
    clients_cpu: float

    @property
    def requests_per_s(self) -> float:
        return len(self.latencies_ms) / self.elapsed_s


def _setup(emulator: EmulatorProcess, clients: int) -> tuple[str, list[str]]:
    from azure.communication.chat import ChatClient, ChatParticipant, CommunicationTokenCredential
    from azure.communication.identity import CommunicationIdentityClient

    verify = str(emulator.ca_bundle)
    identity = CommunicationIdentityClient.from_connection_string(
        emulator.connection_string, connection_verify=verify
    )
    users = [identity.create_user_and_token(scopes=["chat"]) for _ in range(clients)]
    owner = ChatClient(
        emulator.endpoint, CommunicationTokenCredential(users[0][1].token), connection_verify=verify
    )
    created = owner.create_chat_thread(
        "bench", thread_participants=[ChatParticipant(identifier=u) for u, _ in users[1:]]
    )
    thread_id = created.chat_thread.id
    thread = owner.get_chat_thread_client(thread_id, connection_verify=verify)
    for n in range(SEED_MESSAGES):
        thread.send_message(f"seed message {n}")
    owner.close()
    return thread_id, [token.token for _, token in users]


def _measure(
    phase: Phase,
    workers: list[tuple[Any, Any]],
    emulator: EmulatorProcess,
    duration: float,
) -> Result:
    before = emulator.stats()["operations"].get(phase.operation_id, 0)
    pids = [process.pid for _, process in workers]
    emulator_cpu, clients_cpu = cpu_seconds(emulator.pid), sum(cpu_seconds(p) for p in pids)
    start_at = time.time() + 0.3
    for conn, _ in workers:
        conn.send((phase.operation, phase.client, start_at, duration))
    replies = [conn.recv() for conn, _ in workers]
    emulator_cpu = cpu_seconds(emulator.pid) - emulator_cpu
    clients_cpu = sum(cpu_seconds(p) for p in pids) - clients_cpu
    after = emulator.stats()["operations"].get(phase.operation_id, 0)
    latencies = [value for reply, _ in replies for value in reply]
    errors = [error for _, reply_errors in replies for error in reply_errors]
    if errors:
        print(
            f"{phase.operation} ({phase.label}): {len(errors)} failed, first: {errors[0]}",
            file=sys.stderr,
        )
    # The phase's own window (the workers' clocks start together at start_at).
    return Result(phase, latencies, errors, duration, after - before, emulator_cpu, clients_cpu)


def _run(emulator: EmulatorProcess, clients: int, processes: int, duration: float) -> list[Result]:
    thread_id, tokens = _setup(emulator, clients)
    spawn = multiprocessing.get_context("spawn")
    os.environ["SSL_CERT_FILE"] = str(emulator.ca_bundle)  # inherited by the workers
    workers = []
    for index in range(processes):
        share = tokens[index::processes]
        parent, child = spawn.Pipe()
        process = spawn.Process(
            target=_worker, args=(child, emulator.endpoint, thread_id, share), daemon=True
        )
        process.start()
        workers.append((parent, process))
    for conn, _ in workers:
        assert conn.recv() == "ready"
    results = []
    webhook = None
    try:
        for phase in PHASES:
            subscription = None
            if phase.label.endswith("webhook"):
                webhook = Webhook()
                subscription = emulator.add_event_subscription(
                    webhook.url,
                    includedEventTypes=["Microsoft.Communication.ChatMessageReceivedInThread"],
                )["name"]
                emulator.wait_for_subscription(subscription)
            results.append(_measure(phase, workers, emulator, duration))
            if subscription is not None:
                _report_backlog(emulator, subscription, webhook, results[-1])
                emulator.remove_event_subscription(subscription)
    finally:
        for conn, process in workers:
            conn.send("stop")
            process.join(30)
        if webhook is not None:
            webhook.close()
    return results


def _report_backlog(emulator: EmulatorProcess, name: str, webhook: Webhook, result: Result) -> None:
    """Wait (at most a minute) for every event of the phase, and say how long it took."""
    started = time.perf_counter()
    deadline = started + 60
    while (pending := emulator.stats()["events"]["subscriptions"][name]["pending"]) and (
        time.perf_counter() < deadline
    ):
        time.sleep(0.05)
    counters = emulator.stats()["events"]["subscriptions"][name]
    print(
        f"events: {counters['delivered']} delivered to the webhook for {len(result.latencies_ms)}"
        f" sends ({webhook.events} received), {pending} still pending;"
        f" backlog drained {time.perf_counter() - started:.1f} s after the phase ended",
    )


def _print_environment(clients: int, processes: int, duration: float) -> None:
    print(f"machine: {os.cpu_count()} cores, {platform.machine()}, {platform.system()}")
    print(
        f"python {platform.python_version()}, "
        f"azure-communication-chat {version('azure-communication-chat')}, "
        f"azure-communication-identity {version('azure-communication-identity')}, "
        f"azure-core {version('azure-core')}, aiohttp {version('aiohttp')}, "
        f"OpenSSL {ssl.OPENSSL_VERSION.split()[1]}"
    )
    print(
        f"clients: {clients} (async, each its own connection) in {processes} processes,"
        f" duration: {duration:g} s per phase"
    )
    print()


def _print_table(results: list[Result]) -> None:
    header = (
        "operation",
        "client",
        "calls",
        "errors",
        "server count",
        "req/s",
        "p50 ms",
        "p99 ms",
        "emulator CPU %",
        "clients CPU %",
    )
    rows = []
    for r in results:
        rows.append(
            (
                r.phase.operation,
                r.phase.label,
                str(len(r.latencies_ms)),
                str(len(r.errors)),
                str(r.server_count),
                f"{r.requests_per_s:.1f}",
                f"{percentile(r.latencies_ms, 50):.1f}",
                f"{percentile(r.latencies_ms, 99):.1f}",
                f"{100 * r.emulator_cpu / r.elapsed_s:.0f}",
                f"{100 * r.clients_cpu / r.elapsed_s:.0f}",
            )
        )
    for operation, (calls, rate, p50, p99) in PREVIOUS.items():
        rows.append(
            (
                operation,
                "SDK, previous emulator",
                str(calls),
                "0",
                str(calls),
                f"{rate:.1f}",
                f"{p50:.1f}",
                f"{p99:.1f}",
                "-",
                "-",
            )
        )
    print("\n".join(format_table(header, rows)))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--clients", type=int, default=8, help="concurrent chat clients")
    parser.add_argument("--processes", type=int, default=2, help="client processes")
    parser.add_argument("--duration", type=float, default=10.0, help="seconds per phase")
    parser.add_argument("--port", type=int, default=0, help="emulator port (0: a free one)")
    parser.add_argument(
        "--quick", action="store_true", help="a tiny run (2 clients, 1 s) to check the bench works"
    )
    parser.add_argument("--plot", default="", help="write the latency PNG to this directory")
    args = parser.parse_args(argv)
    clients, processes, duration = args.clients, args.processes, args.duration
    if args.quick:
        clients, processes, duration = 2, 1, 1.0
    if clients < 1 or duration <= 0 or not 1 <= processes <= clients:
        parser.error("--clients at least 1, --processes from 1 to --clients, --duration positive")

    _print_environment(clients, processes, duration)
    with (
        tempfile.TemporaryDirectory(prefix="acs-bench-") as data_dir,
        EmulatorProcess(Path(data_dir), port=args.port) as emulator,
    ):
        results = _run(emulator, clients, processes, duration)
    print()
    _print_table(results)
    if args.plot:
        from bench.plots import latency_plot

        path = latency_plot(
            Path(args.plot) / "emulator.png",
            f"emulator: latency per call ({clients} clients, {processes} processes)",
            {f"{r.phase.operation} ({r.phase.label})": r.latencies_ms for r in results},
            unit=1.0,
            counted="calls",
        )
        print(f"wrote {path}")
    return 1 if any(r.errors for r in results) else 0


if __name__ == "__main__":
    sys.exit(main())
