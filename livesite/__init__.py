"""A live Kwebbel for benchmarks and end-to-end tests: real processes, real websockets.

    with EmulatorProcess(tmp / "acs") as acs, LiveSite(acs, sqlite_database(tmp), tmp) as site:
        seeded = site.seed(["alice", "bob"], [Thread("t", "alice", ["bob"])])
        async with aiohttp.ClientSession() as http:
            socket = await ChatSocket(http, site.servers[0], seeded.users["bob"].session).connect()
            await socket.request("subscribe", thread=seeded.threads[0], cursor=None)

* :class:`LiveSite` migrates a database of its own and starts one or more Daphne processes
  serving ``chatsite.asgi`` on it, pointed at a running emulator (optionally with ``REDIS_URL``
  and any ``RELAY_*`` setting). Django-side setup runs in child processes (``livesite/seed.py``),
  so the caller never sets Django up: pytest runs and plain scripts use this alike.
* :class:`ChatSocket` is one ``ws/chat/`` connection signed in by session cookie (aiohttp's
  websocket client), with request/ack matching; other frames go to a queue or a callback.
* Small helpers: async SDK clients acting with a user's own token, percentiles, tables.

Nothing here asserts anything: tests and benchmarks decide what the numbers must be.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import itertools
import json
import math
import os
import platform
import socket
import ssl
import subprocess
import sys
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from importlib.metadata import version
from pathlib import Path
from types import TracebackType
from typing import Any

import aiohttp

from acs_emulator.process import terminate

REPO = Path(__file__).resolve().parent.parent
SESSION_COOKIE = "sessionid"  # Django's default SESSION_COOKIE_NAME, which Kwebbel keeps
WS_PATH = "/ws/chat/"


class HarnessError(RuntimeError):
    """A process of the live site did not start or a setup step failed (with its log)."""


def free_port(host: str = "127.0.0.1") -> int:
    """A port nothing listens on right now (the OS picks it)."""
    with socket.socket() as probe:
        probe.bind((host, 0))
        return probe.getsockname()[1]


def _tail(path: Path, lines: int = 40) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no log)"


# --- Databases -----------------------------------------------------------------------------------


@dataclass
class Database:
    """A database the site's processes share, given to them as ``DATABASE_URL``."""

    url: str
    engine: str
    _drop: Callable[[], None] | None = field(default=None, repr=False)

    def close(self) -> None:
        drop, self._drop = self._drop, None
        if drop is not None:
            drop()


def sqlite_database(directory: Path) -> Database:
    """A new SQLite file; the site opens it in WAL mode, so several processes share it."""
    path = Path(directory).resolve() / f"kwebbel-{uuid.uuid4().hex[:8]}.sqlite3"
    return Database(f"sqlite:///{path}", "sqlite")


def postgres_database(server_url: str) -> Database:
    """A new, empty PostgreSQL database on the server of ``server_url``; dropped on close."""
    import psycopg
    from psycopg import sql

    name = f"kwebbel_live_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(server_url, autocommit=True) as admin:
        admin.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    base, _slash, _old = server_url.rstrip("/").rpartition("/")

    def drop() -> None:
        with psycopg.connect(server_url, autocommit=True) as admin:
            admin.execute(
                sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
            )

    return Database(f"{base}/{name}", "postgresql", drop)


# --- Processes -----------------------------------------------------------------------------------


def site_env(
    emulator: Any,
    database_url: str,
    *,
    redis_url: str = "",
    settings: Mapping[str, str] | None = None,
    log_level: str = "INFO",
    production: bool = False,
    static_root: Path | None = None,
) -> dict[str, str]:
    """The environment of the site's processes: Kwebbel's settings are all read from it.

    ``production`` runs the site as it runs in production (``DEBUG=false``: no query log,
    compressed static files from ``static_root``), over plain HTTP on loopback.
    """
    env = {
        key: value
        for key, value in os.environ.items()
        # The caller's own site settings must not leak into the site under test.
        if not key.startswith(("ACS_", "RELAY_", "DJANGO_"))
        and key not in ("DATABASE_URL", "REDIS_URL")
    }
    env.update(
        {
            "DJANGO_SETTINGS_MODULE": "chatsite.settings",
            "DATABASE_URL": database_url,
            "REDIS_URL": redis_url,
            "ACS_CONNECTION_STRING": emulator.connection_string,
            "ACS_CA_BUNDLE": str(emulator.ca_bundle),
            "DEBUG": "false" if production else "true",
            "LOG_LEVEL": log_level,
            "PYTHONUNBUFFERED": "1",
            "PYTHONPATH": os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")])),
        }
    )
    if production:
        env.update(
            {
                "SECRET_KEY": uuid.uuid4().hex * 2,
                "SECURE_SSL_REDIRECT": "false",
                "SECURE_HSTS_SECONDS": "0",
                "STATIC_ROOT": str(static_root or REPO / "staticfiles"),
            }
        )
    env.update(settings or {})
    return env


def django_command(
    env: Mapping[str, str], command: str, payload: Any = None, *, timeout: float = 600
) -> Any:
    """Run ``livesite/seed.py COMMAND`` in a child with ``env``; its JSON answer."""
    done = subprocess.run(
        [sys.executable, "-m", "livesite.seed", command],
        input=json.dumps(payload or {}),
        capture_output=True,
        text=True,
        cwd=REPO,
        env=dict(env),
        timeout=timeout,
    )
    if done.returncode != 0:
        raise HarnessError(
            f"livesite.seed {command} failed ({done.returncode}):\n{done.stderr[-4000:]}"
        )
    return json.loads(done.stdout.strip().splitlines()[-1])


class DaphneServer:
    """One Daphne process serving Kwebbel; its output goes to ``log_path``."""

    def __init__(
        self, env: Mapping[str, str], log_path: Path, *, host: str = "127.0.0.1", port: int = 0
    ) -> None:
        self.env = dict(env)
        self.log_path = Path(log_path)
        self.host = host
        self.port = port
        self._process: subprocess.Popen[bytes] | None = None

    @property
    def pid(self) -> int:
        assert self._process is not None, "not started"
        return self._process.pid

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    @property
    def ws_url(self) -> str:
        return f"ws://{self.host}:{self.port}{WS_PATH}"

    def start(self, timeout: float = 60) -> DaphneServer:
        self.port = self.port or free_port(self.host)
        args = [sys.executable, "-m", "daphne", "--bind", self.host, "--port", str(self.port)]
        args += ["--verbosity", "0", "chatsite.asgi:application"]
        with open(self.log_path, "ab") as log:
            self._process = subprocess.Popen(
                args, cwd=REPO, env=self.env, stdout=log, stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
            )  # fmt: skip
        deadline = time.monotonic() + timeout
        while True:
            if self._process.poll() is not None:
                raise HarnessError(
                    f"Daphne exited with {self._process.returncode}:\n{_tail(self.log_path)}"
                )
            try:
                with urllib.request.urlopen(self.url + "/accounts/login/", timeout=5) as answer:
                    if answer.status == 200:
                        return self
            except (urllib.error.URLError, OSError):
                pass
            if time.monotonic() > deadline:
                self.stop()
                raise HarnessError(
                    f"Daphne did not answer within {timeout}s:\n{_tail(self.log_path)}"
                )
            time.sleep(0.1)

    def stop(self, timeout: float = 15) -> None:
        process, self._process = self._process, None
        if process is not None:
            terminate(process, timeout)

    @property
    def running(self) -> bool:
        return self._process is not None and self._process.poll() is None

    def rss_bytes(self) -> int:
        """Resident memory of the server process now (Linux /proc)."""
        for line in Path(f"/proc/{self.pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
        raise HarnessError("no VmRSS in /proc status")

    def log_text(self) -> str:
        try:
            return self.log_path.read_text(errors="replace")
        except OSError:
            return ""


@dataclass(frozen=True)
class Thread:
    """A thread to create: its creator and members (by user name) all see the whole history."""

    topic: str
    creator: str
    members: Sequence[str]


@dataclass(frozen=True)
class SeededUser:
    name: str
    id: int
    raw_id: str
    session: str
    token: str  # the user's own ACS chat token (at least 10 minutes left when seeded)


@dataclass(frozen=True)
class Seeded:
    users: dict[str, SeededUser]
    threads: list[str]
    service: str  # the raw id of Kwebbel's service identity


class LiveSite:
    """A migrated database and ``servers`` Daphne processes on it, pointed at ``emulator``."""

    def __init__(
        self,
        emulator: Any,
        database: Database,
        work_dir: Path,
        *,
        servers: int = 1,
        redis_url: str = "",
        settings: Mapping[str, str] | None = None,
        log_level: str = "INFO",
        production: bool = False,
    ) -> None:
        self.emulator = emulator
        self.database = database
        self.work_dir = Path(work_dir)
        self.env = site_env(
            emulator,
            database.url,
            redis_url=redis_url,
            settings=settings,
            log_level=log_level,
            production=production,
            static_root=self.work_dir / "static",
        )
        # Uploaded files stay in the site's own folder (settings may name another storage).
        self.env.setdefault("ATTACHMENTS_ROOT", str(self.work_dir / "attachments"))
        self.servers = [
            DaphneServer(self.env, self.work_dir / f"daphne-{n}.log") for n in range(servers)
        ]

    def start(self) -> LiveSite:
        self.work_dir.mkdir(parents=True, exist_ok=True)
        django_command(self.env, "migrate")
        try:
            for server in self.servers:
                server.start()
        except BaseException:
            self.stop()
            raise
        return self

    def stop(self) -> None:
        for server in self.servers:
            server.stop()

    def seed(self, users: Iterable[str], threads: Iterable[Thread] = ()) -> Seeded:
        answer = django_command(
            self.env,
            "seed",
            {
                "users": list(users),
                "threads": [
                    {"topic": t.topic, "creator": t.creator, "members": list(t.members)}
                    for t in threads
                ],
            },
        )
        return Seeded(
            users={name: SeededUser(name=name, **u) for name, u in answer["users"].items()},
            threads=answer["threads"],
            service=answer["service"],
        )

    def sessions(self, user: str, count: int) -> list[str]:
        """``count`` more signed-in sessions of one user (for many connections)."""
        return django_command(self.env, "sessions", {"user": user, "count": count})["sessions"]

    def relay_log(self, thread_id: str, viewer: str) -> dict[str, Any]:
        """The thread's relay log, each event marked with whether ``viewer`` is shown it."""
        return django_command(self.env, "events", {"thread": thread_id, "viewer": viewer})

    def __enter__(self) -> LiveSite:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()


# --- Websocket clients ---------------------------------------------------------------------------

_requests = itertools.count(1)


class SocketClosed(ConnectionError):
    """The websocket closed before the answer came."""


class ChatSocket:
    """One ``ws/chat/`` connection, signed in by session cookie, as a browser page holds it.

    ``request(action, **fields)`` sends a frame with a fresh request id and returns its ack.
    Every other frame (and acks nobody waits for) goes to ``on_frame(frame, received_at)`` when
    given, else to the ``frames`` queue; ``received_at`` is ``time.perf_counter()`` on arrival.
    """

    def __init__(
        self,
        http: aiohttp.ClientSession,
        server: DaphneServer,
        session: str,
        *,
        on_frame: Callable[[dict[str, Any], float], None] | None = None,
    ) -> None:
        self.http = http
        self.server = server
        self.session = session
        self.on_frame = on_frame
        self.frames: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
        self._ws: aiohttp.ClientWebSocketResponse | None = None
        self._reader: asyncio.Task[None] | None = None
        self._pending: dict[str, asyncio.Future[dict[str, Any]]] = {}
        self.closed = asyncio.Event()
        self.close_code: int | None = None

    async def connect(self) -> ChatSocket:
        self.closed.clear()
        self._ws = await self.http.ws_connect(
            self.server.ws_url,
            headers={
                "Cookie": f"{SESSION_COOKIE}={self.session}",
                # The site checks the Origin against ALLOWED_HOSTS, as for a browser.
                "Origin": self.server.url,
            },
            timeout=aiohttp.ClientWSTimeout(ws_receive=None, ws_close=5),
            autoping=True,
            heartbeat=None,
            max_msg_size=0,
        )
        self._reader = asyncio.create_task(self._read(self._ws))
        return self

    async def _read(self, ws: aiohttp.ClientWebSocketResponse) -> None:
        try:
            async for message in ws:
                if message.type != aiohttp.WSMsgType.TEXT:
                    continue
                received = time.perf_counter()
                frame = json.loads(message.data)
                waiter = (
                    self._pending.pop(str(frame.get("request")), None)
                    if frame.get("type") == "ack"
                    else None
                )
                if waiter is not None:
                    if not waiter.done():
                        waiter.set_result(frame)
                elif self.on_frame is not None:
                    self.on_frame(frame, received)
                else:
                    self.frames.put_nowait(frame)
        except (aiohttp.ClientError, ConnectionError):
            pass
        finally:
            self.close_code = ws.close_code
            for waiter in self._pending.values():
                if not waiter.done():
                    waiter.set_exception(SocketClosed(f"closed ({ws.close_code})"))
            self._pending.clear()
            self.closed.set()

    @property
    def is_open(self) -> bool:
        return self._ws is not None and not self.closed.is_set()

    async def send(self, frame: dict[str, Any]) -> None:
        if self._ws is None or self.closed.is_set():
            raise SocketClosed("not connected")
        await self._ws.send_str(json.dumps(frame))

    async def send_text(self, text: str) -> None:
        """Send a text frame as it is (JSON or not)."""
        if self._ws is None or self.closed.is_set():
            raise SocketClosed("not connected")
        await self._ws.send_str(text)

    async def request(self, action: str, *, within: float = 60, **fields: Any) -> dict[str, Any]:
        """Send an action with a new request id; the server's ack (``ok`` true or false)."""
        request = f"r{next(_requests)}"
        waiter: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
        self._pending[request] = waiter
        try:
            await self.send({"action": action, "request": request, **fields})
            return await asyncio.wait_for(waiter, within)
        finally:
            self._pending.pop(request, None)

    async def next_frame(self, within: float = 30) -> dict[str, Any]:
        """The next frame not taken by a waiting request; SocketClosed if the socket closes
        (with nothing left to read) before one comes."""
        if not self.frames.empty() or not self.closed.is_set():
            getting = asyncio.ensure_future(self.frames.get())
            closing = asyncio.ensure_future(self.closed.wait())
            try:
                done, _ = await asyncio.wait(
                    {getting, closing}, timeout=within, return_when=asyncio.FIRST_COMPLETED
                )
            finally:
                closing.cancel()
                if not getting.done():
                    getting.cancel()
            if getting in done:
                return getting.result()
            if not done:
                raise TimeoutError(f"no frame within {within} s")
        raise SocketClosed(f"closed ({self.close_code})")

    async def close(self) -> None:
        """A clean close (close frame and handshake), as when a page is left."""
        if self._ws is not None:
            await self._ws.close()
        await self._wait_reader()

    async def drop(self) -> None:
        """Cut the TCP connection without a close frame, as a lost network does."""
        if self._ws is not None:
            sock = self._ws.get_extra_info("socket")
            if sock is not None:
                with contextlib.suppress(OSError):
                    sock.shutdown(socket.SHUT_RDWR)
            # aiohttp has no public abort; closing the transport frees the socket at once.
            transport = self._ws.get_extra_info("transport") or getattr(
                getattr(self._ws, "_conn", None), "transport", None
            )
            if transport is not None:
                transport.abort()
        await self._wait_reader()

    async def _wait_reader(self) -> None:
        if self._reader is not None:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await asyncio.wait_for(self._reader, 10)
        self.closed.set()


# --- ACS straight through the SDK ----------------------------------------------------------------


@functools.cache
def _ssl_context(ca_bundle: str) -> ssl.SSLContext:
    return ssl.create_default_context(cafile=ca_bundle)


def async_thread_client(emulator: Any, token: str, thread_id: str) -> Any:
    """An aio ``ChatThreadClient`` acting with a user's own token (close it, or ``async with``).

    Call it from a coroutine. It trusts the emulator's CA through its own HTTP session rather than
    ``connection_verify=<path>``, with which azure-core builds an SSL context per request and so
    opens a new TLS connection for every call: that would make the clients, not what they talk
    to, the slow part.
    """
    from azure.communication.chat.aio import ChatThreadClient, CommunicationTokenCredential
    from azure.core.pipeline.transport import AioHttpTransport

    session = aiohttp.ClientSession(
        connector=aiohttp.TCPConnector(ssl=_ssl_context(str(emulator.ca_bundle)))
    )
    return ChatThreadClient(
        emulator.endpoint,
        CommunicationTokenCredential(token),
        thread_id,
        transport=AioHttpTransport(session=session, session_owner=True),
    )


async def list_all_messages(client: Any) -> list[Any]:
    """Every message of the thread visible to the client's user (all pages, newest first)."""
    return [message async for message in client.list_messages(results_per_page=200)]


# --- Reporting -----------------------------------------------------------------------------------


def percentile(values: Sequence[float], p: float) -> float:
    """Nearest-rank percentile (0 for no values)."""
    if not values:
        return 0.0
    ordered = sorted(values)
    return ordered[max(0, math.ceil(p / 100 * len(ordered)) - 1)]


def cpu_seconds(pid: int) -> float:
    """CPU time (user + system) a process has used so far (Linux /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    # After the command name: utime and stime are the 12th and 13th fields, in clock ticks.
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def environment_lines() -> list[str]:
    memory = ""
    with contextlib.suppress(OSError):
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                memory = f", {int(line.split()[1]) / 1024 / 1024:.1f} GiB memory"
    return [
        f"machine: {os.cpu_count()} cores{memory}, {platform.machine()}, {platform.system()}",
        f"python {platform.python_version()}, "
        + ", ".join(
            f"{name} {version(name)}"
            for name in (
                "Django",
                "channels",
                "daphne",
                "channels-redis",
                "azure-communication-chat",
                "aiohttp",
            )
        ),
    ]


def format_table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> list[str]:
    """A Markdown table: the first column left-aligned, numbers right-aligned."""
    widths = [max(len(str(row[i])) for row in [header, *rows]) for i in range(len(header))]

    def line(cells: Sequence[str]) -> str:
        first = str(cells[0]).ljust(widths[0])
        rest = (str(c).rjust(w) for c, w in zip(cells[1:], widths[1:], strict=True))
        return "| " + " | ".join([first, *rest]) + " |"

    return [line(header), "|" + "|".join("-" * (w + 2) for w in widths) + "|"] + [
        line(row) for row in rows
    ]
