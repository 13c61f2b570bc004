"""Start and stop an emulator in a child process, for tests, benchmarks and scripts.

    with EmulatorProcess(tmp_path / "acs") as acs:
        client = CommunicationIdentityClient.from_connection_string(
            acs.connection_string, connection_verify=acs.ca_bundle
        )

The child's stderr (its request log) goes to ``<data_dir>/emulator.log`` rather than a pipe, so a
chatty emulator can never block on a full pipe, and the log is there to read when a test fails.
"""

from __future__ import annotations

import json
import os
import queue
import signal
import ssl
import subprocess
import sys
import threading
import time
import urllib.parse
import urllib.request
from collections.abc import Mapping, Sequence
from pathlib import Path
from types import TracebackType

CONNECTION_PREFIX = "ACS_CONNECTION_STRING="
CA_PREFIX = "ACS_CA_BUNDLE="
LOG_NAME = "emulator.log"


class EmulatorError(RuntimeError):
    """The emulator did not start, or a control request failed."""


class EmulatorProcess:
    def __init__(
        self,
        data_dir: str | os.PathLike[str],
        *,
        port: int = 0,
        host: str = "127.0.0.1",
        access_key: str | None = None,
        extra_args: Sequence[str] = (),
        env: Mapping[str, str] | None = None,
    ) -> None:
        self.data_dir = Path(data_dir).resolve()
        self.port = port
        self.host = host
        self.access_key = access_key
        # Only a key the caller chose is passed on; otherwise the data dir's own key is used.
        self._access_key_arg = access_key
        self.extra_args = tuple(extra_args)
        self.env = dict(env) if env is not None else None
        self.connection_string = ""
        self.endpoint = ""
        self.ca_bundle = ""
        self._process: subprocess.Popen[str] | None = None

    @property
    def log_path(self) -> Path:
        return self.data_dir / LOG_NAME

    @property
    def pid(self) -> int | None:
        return self._process.pid if self._process else None

    def start(self, timeout: float = 30) -> EmulatorProcess:
        """Spawn ``python -m acs_emulator`` and wait for its two ready lines."""
        if self._process is not None and self._process.poll() is None:
            raise EmulatorError("the emulator is already running")
        self.data_dir.mkdir(parents=True, exist_ok=True)
        args = [sys.executable, "-m", "acs_emulator", "--host", self.host]
        args += ["--port", str(self.port), "--data-dir", str(self.data_dir)]
        if self._access_key_arg:
            args += ["--access-key", self._access_key_arg]
        args += list(self.extra_args)
        env = dict(os.environ if self.env is None else self.env)
        env.setdefault("PYTHONUNBUFFERED", "1")
        with open(self.log_path, "a") as log:
            self._process = subprocess.Popen(
                args,
                stdout=subprocess.PIPE,
                stderr=log,
                stdin=subprocess.DEVNULL,
                text=True,
                env=env,
            )
        self._read_ready_lines(timeout)
        return self

    def _read_ready_lines(self, timeout: float) -> None:
        assert self._process is not None and self._process.stdout is not None
        lines: queue.Queue[str | None] = queue.Queue()
        stdout = self._process.stdout

        def pump() -> None:
            # Keep draining stdout for the life of the child, so it can never block on it.
            for line in stdout:
                lines.put(line.rstrip("\n"))
            lines.put(None)

        threading.Thread(target=pump, name="acs-emulator-stdout", daemon=True).start()
        deadline = time.monotonic() + timeout
        found: dict[str, str] = {}
        while len(found) < 2:
            remaining = deadline - time.monotonic()
            try:
                line = lines.get(timeout=max(remaining, 0.01))
            except queue.Empty:
                self.kill()
                raise EmulatorError(
                    f"no ready lines within {timeout}s; {self._log_tail()}"
                ) from None
            if line is None:
                self._process.wait()
                raise EmulatorError(
                    f"the emulator exited with {self._process.returncode}; {self._log_tail()}"
                )
            for prefix in (CONNECTION_PREFIX, CA_PREFIX):
                if line.startswith(prefix):
                    found[prefix] = line[len(prefix) :]
        self.connection_string = found[CONNECTION_PREFIX]
        self.ca_bundle = found[CA_PREFIX]
        parts = dict(p.split("=", 1) for p in self.connection_string.split(";") if "=" in p)
        self.endpoint = parts["endpoint"].rstrip("/")
        self.access_key = parts["accesskey"]
        self.port = urllib.parse.urlsplit(self.endpoint).port or 443

    def _log_tail(self, lines: int = 20) -> str:
        try:
            tail = self.log_path.read_text().splitlines()[-lines:]
        except OSError:
            return "no log"
        return "log tail:\n" + "\n".join(tail)

    def stop(self, timeout: float = 15) -> None:
        """SIGTERM and wait for a clean exit (SIGKILL if it does not come)."""
        process, self._process = self._process, None
        if process is not None:
            terminate(process, timeout)

    def kill(self) -> None:
        """SIGKILL, as in a crash: nothing gets a chance to clean up."""
        process, self._process = self._process, None
        if process is not None and process.poll() is None:
            process.kill()
            process.wait()

    def restart(self, timeout: float = 30) -> EmulatorProcess:
        """Stop (if running) and start again on the same port and data dir."""
        self.stop()
        return self.start(timeout)

    @property
    def running(self) -> bool:
        return self._process is not None and self._process.poll() is None

    def control(self, method: str, path: str, body: object = None) -> object:
        """Call a control route with the access key; the JSON answer (None when empty)."""
        context = ssl.create_default_context(cafile=self.ca_bundle)
        headers = {"x-emulator-key": self.access_key or ""}
        data = None
        if body is not None:
            data = json.dumps(body).encode()
            headers["Content-Type"] = "application/json"
        request = urllib.request.Request(
            self.endpoint + path, method=method, headers=headers, data=data
        )
        try:
            with urllib.request.urlopen(request, context=context, timeout=10) as response:
                answer = response.read()
        except OSError as exc:
            detail = exc.read().decode(errors="replace") if hasattr(exc, "read") else ""
            raise EmulatorError(f"{method} {path} failed: {exc} {detail}".rstrip()) from exc
        return json.loads(answer) if answer else None

    def stats(self, thread: str | None = None) -> dict:
        """Request counts per operationId (optionally for one chat thread) since the last reset.

        Without ``thread`` it also holds ``"events"``: delivery counters per subscription.
        """
        query = "?" + urllib.parse.urlencode({"thread": thread}) if thread else ""
        return self.control("GET", "/_emulator/stats" + query)  # type: ignore[return-value]

    def reset_stats(self) -> None:
        self.control("POST", "/_emulator/stats/reset")

    def add_event_subscription(self, url: str, **fields: object) -> dict:
        """Subscribe ``url`` to the chat events (fields as the control route takes them)."""
        return self.control(  # type: ignore[return-value]
            "POST", "/_emulator/events/subscriptions", {"url": url, **fields}
        )

    def event_subscriptions(self) -> list[dict]:
        return self.control("GET", "/_emulator/events/subscriptions")["value"]  # type: ignore[index]

    def event_subscription(self, name: str) -> dict:
        path = "/_emulator/events/subscriptions/" + urllib.parse.quote(name)
        return self.control("GET", path)  # type: ignore[return-value]

    def remove_event_subscription(self, name: str) -> None:
        self.control("DELETE", "/_emulator/events/subscriptions/" + urllib.parse.quote(name))

    def wait_for_subscription(self, name: str, timeout: float = 15) -> dict:
        """Poll until the subscription's handshake is over (any state but ``Creating``)."""
        deadline = time.monotonic() + timeout
        while (subscription := self.event_subscription(name))["provisioningState"] == "Creating":
            if time.monotonic() > deadline:
                raise EmulatorError(f"subscription {name} still Creating after {timeout}s")
            time.sleep(0.02)
        return subscription

    def __enter__(self) -> EmulatorProcess:
        if not self.running:
            self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()


def terminate(process: subprocess.Popen, timeout: float = 15) -> None:
    """SIGTERM a child process and wait for it; SIGKILL if it has not exited within ``timeout``."""
    if process.poll() is not None:
        return
    process.send_signal(signal.SIGTERM)
    try:
        process.wait(timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()
