"""Throughput and latency of the ACS emulator as seen through the official async chat SDK.

    .venv/bin/python bench/emulator.py [--clients 8] [--duration 10] [--port 0] [--quick]

Starts its own emulator in a temporary data directory, creates one user per client and a thread
they all belong to, then lets the clients (each its own `azure.communication.chat.aio.ChatClient`,
all on one event loop) call as fast as they can for `--duration` seconds per operation:

* send_message: `ChatThreadClient.send_message`
* list_messages: the first page of `ChatThreadClient.list_messages(results_per_page=50)`

and prints requests/s and p50/p99 latency per operation, plus how many calls the emulator itself
counted (a check that every SDK call was exactly one HTTP request, without retries).
"""

from __future__ import annotations

import argparse
import asyncio
import math
import os
import platform
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from importlib.metadata import version
from pathlib import Path

# Runnable as a plain script from the repository root or anywhere else.
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from azure.communication.chat import ChatParticipant  # noqa: E402
from azure.communication.chat.aio import (  # noqa: E402
    ChatClient,
    ChatThreadClient,
    CommunicationTokenCredential,
)
from azure.communication.identity import CommunicationIdentityClient  # noqa: E402

from acs_emulator.process import EmulatorProcess  # noqa: E402

LIST_PAGE_SIZE = 50


@dataclass
class Result:
    operation: str
    latencies_ms: list[float]
    errors: int
    elapsed_s: float
    server_count: int

    @property
    def requests_per_s(self) -> float:
        return len(self.latencies_ms) / self.elapsed_s if self.elapsed_s else 0.0

    def percentile(self, p: float) -> float:
        """Nearest-rank percentile; small samples (the --quick run) are fine."""
        if not self.latencies_ms:
            return 0.0
        ordered = sorted(self.latencies_ms)
        return ordered[max(0, math.ceil(p / 100 * len(ordered)) - 1)]


async def _send(thread: ChatThreadClient, n: int) -> None:
    await thread.send_message(f"bench message {n}")


async def _list_first_page(thread: ChatThreadClient, n: int) -> None:
    pages = thread.list_messages(results_per_page=LIST_PAGE_SIZE).by_page()
    async for page in pages:
        async for _message in page:
            pass
        break


async def _client_loop(
    call: Callable[[ChatThreadClient, int], Awaitable[None]],
    thread: ChatThreadClient,
    deadline: float,
    latencies: list[float],
    errors: list[BaseException],
) -> None:
    n = 0
    while time.perf_counter() < deadline:
        started = time.perf_counter()
        try:
            await call(thread, n)
        except Exception as exc:  # a benchmark reports failures instead of stopping at the first
            errors.append(exc)
            continue
        latencies.append((time.perf_counter() - started) * 1000)
        n += 1


async def _measure(
    name: str,
    operation_id: str,
    call: Callable[[ChatThreadClient, int], Awaitable[None]],
    threads: list[ChatThreadClient],
    duration: float,
    emulator: EmulatorProcess,
) -> Result:
    before = emulator.stats()["operations"].get(operation_id, 0)
    latencies: list[float] = []
    errors: list[BaseException] = []
    started = time.perf_counter()
    deadline = started + duration
    await asyncio.gather(*(_client_loop(call, t, deadline, latencies, errors) for t in threads))
    elapsed = time.perf_counter() - started
    after = emulator.stats()["operations"].get(operation_id, 0)
    if errors:
        print(f"{name}: {len(errors)} failed calls, first: {errors[0]!r}", file=sys.stderr)
    return Result(name, latencies, len(errors), elapsed, after - before)


async def _run(emulator: EmulatorProcess, clients: int, duration: float, seed: int) -> list[Result]:
    verify = str(emulator.ca_bundle)
    identity = CommunicationIdentityClient.from_connection_string(
        emulator.connection_string, connection_verify=verify
    )
    users = [identity.create_user_and_token(scopes=["chat"]) for _ in range(clients)]
    chat_clients = [
        ChatClient(
            emulator.endpoint, CommunicationTokenCredential(token.token), connection_verify=verify
        )
        for _user, token in users
    ]
    owner = chat_clients[0]
    created = await owner.create_chat_thread(
        "bench",
        thread_participants=[ChatParticipant(identifier=user) for user, _token in users[1:]],
    )
    thread_id = created.chat_thread.id
    # connection_verify is not inherited by get_chat_thread_client, so it is passed again.
    threads = [c.get_chat_thread_client(thread_id, connection_verify=verify) for c in chat_clients]
    for n in range(seed):
        await threads[0].send_message(f"seed message {n}")
    try:
        return [
            await _measure(
                "send_message", "ChatThread_SendChatMessage", _send, threads, duration, emulator
            ),
            await _measure(
                f"list_messages ({LIST_PAGE_SIZE}/page)",
                "ChatThread_ListChatMessages",
                _list_first_page,
                threads,
                duration,
                emulator,
            ),
        ]
    finally:
        for thread in threads:
            await thread.close()
        for client in chat_clients:
            await client.close()


def _print_environment(clients: int, duration: float) -> None:
    print(f"machine: {os.cpu_count()} cores, {platform.machine()}, {platform.system()}")
    print(
        f"python {platform.python_version()}, "
        f"azure-communication-chat {version('azure-communication-chat')}, "
        f"azure-communication-identity {version('azure-communication-identity')}, "
        f"azure-core {version('azure-core')}, aiohttp {version('aiohttp')}"
    )
    print(f"clients: {clients} (async, one event loop), duration: {duration:g} s per operation")
    print()


def _print_table(results: list[Result]) -> None:
    header = ("operation", "calls", "errors", "server count", "req/s", "p50 ms", "p99 ms")
    rows = [
        (
            r.operation,
            str(len(r.latencies_ms)),
            str(r.errors),
            str(r.server_count),
            f"{r.requests_per_s:.1f}",
            f"{r.percentile(50):.1f}",
            f"{r.percentile(99):.1f}",
        )
        for r in results
    ]
    widths = [max(len(row[i]) for row in [header, *rows]) for i in range(len(header))]

    def line(cells: tuple[str, ...]) -> str:
        first = cells[0].ljust(widths[0])
        rest = (cell.rjust(width) for cell, width in zip(cells[1:], widths[1:], strict=True))
        return "| " + " | ".join([first, *rest]) + " |"

    print(line(header))
    print("|" + "|".join("-" * (w + 2) for w in widths) + "|")
    for row in rows:
        print(line(row))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--clients", type=int, default=8, help="concurrent chat clients")
    parser.add_argument("--duration", type=float, default=10.0, help="seconds per operation")
    parser.add_argument("--port", type=int, default=0, help="emulator port (0: a free one)")
    parser.add_argument(
        "--quick", action="store_true", help="a tiny run (2 clients, 1 s) to check the bench works"
    )
    args = parser.parse_args(argv)
    clients, duration, seed = args.clients, args.duration, 60
    if args.quick:
        clients, duration, seed = 2, 1.0, 5
    if clients < 1 or duration <= 0:
        parser.error("--clients must be at least 1 and --duration positive")

    _print_environment(clients, duration)
    with (
        tempfile.TemporaryDirectory(prefix="acs-bench-") as data_dir,
        EmulatorProcess(Path(data_dir), port=args.port) as emulator,
    ):
        results = asyncio.run(_run(emulator, clients, duration, seed))
    _print_table(results)
    return 1 if any(r.errors for r in results) else 0


if __name__ == "__main__":
    sys.exit(main())
