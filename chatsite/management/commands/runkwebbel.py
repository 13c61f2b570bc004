"""Run Kwebbel locally: the ACS emulator (unless ACS is configured) and Daphne, until Ctrl-C.

With the emulator, its chat events are pushed to Kwebbel's webhook (``/events/acs/``): the
command makes a secret for the run, starts Daphne with ``RELAY_EVENTS`` on and that secret, and
once Daphne answers subscribes the webhook (the secret in its ``Kwebbel-Events-Secret``
delivery header) under one name, so each
run replaces the last run's subscription. ``--no-events`` keeps polling alone.
"""

import os
import secrets
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser

from chat.actions.events import SECRET_HEADER
from chatsite.management.commands.create_demo_users import logins_text

# One subscription name for every run: a new run (new secret) updates it.
EVENTS_SUBSCRIPTION = "kwebbel-dev"


class Command(BaseCommand):
    help = (
        "Start the ACS emulator when ACS_CONNECTION_STRING is empty, then Daphne; Ctrl-C stops "
        "both."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--host", default="127.0.0.1")
        parser.add_argument("--port", type=int, default=8000)
        parser.add_argument("--emulator-port", type=int, default=8443)
        parser.add_argument(
            "--emulator-data-dir",
            default=str(settings.BASE_DIR / ".acs-emulator"),
            help="Where the emulator keeps its CA, key and data (reused between runs).",
        )
        parser.add_argument(
            "--no-events",
            action="store_true",
            help="Do not subscribe Kwebbel to the emulator's chat events (polling only).",
        )

    def handle(self, *args, **options) -> None:
        # SIGTERM (e.g. from a process manager) stops everything just like Ctrl-C.
        signal.signal(signal.SIGTERM, _raise_keyboard_interrupt)
        env = dict(os.environ)
        emulator = None
        daphne = None
        try:
            if settings.ACS_CONNECTION_STRING:
                self.stdout.write("Using the ACS resource from ACS_CONNECTION_STRING.")
            else:
                emulator = self._start_emulator(options)
                env["ACS_CONNECTION_STRING"] = emulator.connection_string
                env["ACS_CA_BUNDLE"] = str(emulator.ca_bundle)
                if not options["no_events"]:
                    secret = secrets.token_urlsafe(24)
                    env["RELAY_EVENTS"] = "true"
                    env["ACS_EVENTS_SECRET"] = secret
            daphne = subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "daphne",
                    "--bind",
                    options["host"],
                    "--port",
                    str(options["port"]),
                    "chatsite.asgi:application",
                ],
                cwd=settings.BASE_DIR,
                env=env,
            )
            url = f"http://{options['host']}:{options['port']}/"
            if emulator is not None and not options["no_events"]:
                self._subscribe(emulator, daphne, url, env["ACS_EVENTS_SECRET"])
            self.stdout.write(
                self.style.SUCCESS(f"\nKwebbel is starting on {url}")
                + f"\nSign in with:\n{logins_text()}\nPress Ctrl-C to stop.\n"
            )
            self.stdout.flush()
            returncode = daphne.wait()
            if returncode:
                raise CommandError(f"Daphne exited with status {returncode}.")
        except KeyboardInterrupt:
            self.stdout.write("\nStopping...")
        finally:
            if daphne is not None and daphne.poll() is None:
                daphne.terminate()
                try:
                    daphne.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    daphne.kill()
            if emulator is not None:
                emulator.stop()

    def _start_emulator(self, options: dict):
        from acs_emulator.process import EmulatorProcess

        self.stdout.write(
            f"ACS_CONNECTION_STRING is not set: starting the ACS emulator on port "
            f"{options['emulator_port']} (data in {options['emulator_data_dir']})."
        )
        emulator = EmulatorProcess(
            options["emulator_data_dir"], port=options["emulator_port"], host="127.0.0.1"
        )
        try:
            emulator.start(timeout=30)
        except Exception as exc:
            raise CommandError(
                f"The ACS emulator did not start: {exc}. Is port {options['emulator_port']} "
                "free? Choose another with EMULATOR_PORT=..."
            ) from exc
        self.stdout.write(f"ACS emulator ready at {emulator.endpoint}")
        return emulator

    def _subscribe(self, emulator, daphne: subprocess.Popen, url: str, secret: str) -> None:
        """Once Daphne answers, point the emulator's chat events at the webhook."""
        deadline = time.monotonic() + 60
        while daphne.poll() is None and time.monotonic() < deadline:
            try:
                with urllib.request.urlopen(url + "accounts/login/", timeout=2):
                    break
            except (urllib.error.URLError, OSError):
                time.sleep(0.2)
        else:
            self.stderr.write("Daphne did not answer: chat events are not subscribed.")
            return
        # The secret goes in a delivery header, not the URL: Daphne's access log prints URLs.
        emulator.add_event_subscription(
            f"{url}events/acs/",
            name=EVENTS_SUBSCRIPTION,
            deliveryHeaders={SECRET_HEADER: secret},
        )
        state = emulator.wait_for_subscription(EVENTS_SUBSCRIPTION)["provisioningState"]
        self.stdout.write(f"Chat events from the emulator go to {url}events/acs/ ({state}).")


def _raise_keyboard_interrupt(signum, frame) -> None:
    raise KeyboardInterrupt
