"""A small webhook for the event tests: records every request and answers as it is told.

It listens on plain HTTP at 127.0.0.1 (as Kwebbel's development server does), or HTTPS with a
given server context, in a thread of its own. By default it passes both handshakes (it echoes
the Event Grid validation code, and grants the CloudEvents origin) and answers 200 to every
delivery; ``statuses`` lists other answers to give to the first deliveries, ``handshake`` other
ways to treat the handshake.
"""

from __future__ import annotations

import json
import ssl
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass(frozen=True)
class Received:
    method: str
    path: str
    headers: dict[str, str]  # lower-case names
    body: bytes
    at: float  # time.monotonic()

    @property
    def kind(self) -> str:
        return self.headers.get("aeg-event-type", "")

    def json(self) -> Any:
        return json.loads(self.body)


class WebhookReceiver:
    def __init__(
        self,
        *,
        handshake: str = "answer",  # or "refuse", "manual", "wrong-code", "no-origin"
        statuses: list[int] | None = None,
        handshake_delay_s: float = 0.0,
        tls: ssl.SSLContext | None = None,
    ) -> None:
        self.handshake = handshake
        self.statuses = list(statuses or [])
        # Holding the handshake lets a test queue several events before the first delivery.
        self.handshake_delay_s = handshake_delay_s
        self.requests: list[Received] = []
        self._lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: object) -> None:
                pass

            def _handle(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                received = Received(
                    self.command,
                    self.path,
                    {k.lower(): v for k, v in self.headers.items()},
                    self.rfile.read(length),
                    time.monotonic(),
                )
                with receiver._lock:
                    receiver.requests.append(received)
                status, headers, body = receiver._answer(received)
                self.send_response(status)
                for name, value in headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            do_POST = do_OPTIONS = do_GET = _handle

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.scheme = "http"
        if tls is not None:
            self._server.socket = tls.wrap_socket(self._server.socket, server_side=True)
            self.scheme = "https"
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()

    @property
    def url(self) -> str:
        """The webhook URL, with a query-string secret as Event Grid webhooks carry one."""
        return f"{self.scheme}://127.0.0.1:{self._server.server_port}/hook?code=s3cret"

    def _answer(self, received: Received) -> tuple[int, dict[str, str], bytes]:
        if received.method == "OPTIONS" or received.kind == "SubscriptionValidation":
            time.sleep(self.handshake_delay_s)
        if received.method == "OPTIONS":
            if self.handshake in ("refuse", "no-origin"):
                return 405 if self.handshake == "refuse" else 200, {}, b""
            origin = received.headers.get("webhook-request-origin", "")
            return 200, {"WebHook-Allowed-Origin": origin, "Allow": "POST"}, b""
        if received.kind == "SubscriptionValidation":
            code = received.json()[0]["data"]["validationCode"]
            if self.handshake == "refuse":
                return 500, {}, b""
            if self.handshake == "manual":
                return 200, {}, b""
            if self.handshake == "wrong-code":
                code = "not-" + code
            return (
                200,
                {"Content-Type": "application/json"},
                json.dumps({"validationResponse": code}).encode(),
            )
        with self._lock:
            status = self.statuses.pop(0) if self.statuses else 200
        return status, {}, b""

    # -- reading what arrived --------------------------------------------------------------------

    def snapshot(self) -> list[Received]:
        with self._lock:
            return list(self.requests)

    def notifications(self) -> list[Received]:
        return [r for r in self.snapshot() if r.kind == "Notification"]

    def events(self) -> list[dict[str, Any]]:
        """Every delivered event, in arrival order (an Event Grid array or CloudEvents object)."""
        events: list[dict[str, Any]] = []
        for request in self.notifications():
            body = request.json()
            events.extend(body if isinstance(body, list) else [body])
        return events

    def wait_for(self, condition: Callable[[WebhookReceiver], Any], timeout: float = 15.0) -> Any:
        """Poll ``condition(self)`` until it is truthy (and return it); fail after ``timeout``."""
        deadline = time.monotonic() + timeout
        while not (result := condition(self)):
            if time.monotonic() > deadline:
                raise AssertionError(f"gave up after {timeout}s; received: {self.snapshot()}")
            time.sleep(0.01)
        return result

    def wait_for_events(self, count: int, timeout: float = 15.0) -> list[dict[str, Any]]:
        """At least ``count`` delivered events (all of them), or fail after ``timeout``."""
        self.wait_for(lambda r: len(r.events()) >= count, timeout)
        return self.events()

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()
