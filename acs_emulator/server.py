"""Run the emulator: HTTPS on the configured address, until SIGTERM or SIGINT.

Once listening it prints exactly two lines on stdout, which scripts and the test fixtures wait for:

    ACS_CONNECTION_STRING=endpoint=https://127.0.0.1:<port>/;accesskey=<base64>
    ACS_CA_BUNDLE=<absolute path to ca.pem>

Everything else (one line per request) goes to stderr.
"""

from __future__ import annotations

import asyncio
import ipaddress
import logging
import signal
import sys

from aiohttp import web

from .app import create_app, prepare_data_dir
from .config import ConfigError, EmulatorConfig
from .events import EVENTS
from .tls import ensure_certificates, server_ssl_context

log = logging.getLogger("acs_emulator")


def endpoint_host(host: str) -> str:
    """The host clients should use: a wildcard bind address is reached through loopback."""
    if host in ("", "0.0.0.0", "::"):
        return "127.0.0.1"
    try:
        if ipaddress.ip_address(host).version == 6:
            return f"[{host}]"
    except ValueError:
        pass
    return host


def _bound_port(runner: web.AppRunner) -> int:
    # With --port 0 the OS picks the port; read it back from the listening socket.
    return int(runner.addresses[0][1])


async def serve(config: EmulatorConfig) -> None:
    state = prepare_data_dir(config)
    tls = ensure_certificates(config.data_dir)
    app = create_app(config, state=state)
    # Requests are logged by the app's own middleware, without query strings.
    runner = web.AppRunner(app, access_log=None, handle_signals=False)
    await runner.setup()
    site = web.TCPSite(
        runner, config.host, config.port, ssl_context=server_ssl_context(tls), reuse_address=True
    )
    await site.start()
    # Handlers go in before the ready lines: a supervisor may signal as soon as it reads them.
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    endpoint = f"https://{endpoint_host(config.host)}:{_bound_port(runner)}/"
    # Deliveries start once the port is known: validationUrls point back at the emulator.
    await app[EVENTS].start(endpoint)
    print(f"ACS_CONNECTION_STRING=endpoint={endpoint};accesskey={state.access_key}", flush=True)
    print(f"ACS_CA_BUNDLE={tls.ca_cert.resolve()}", flush=True)
    log.info("ACS emulator listening on %s (data dir %s)", endpoint, config.data_dir.resolve())
    try:
        await stop.wait()
    finally:
        log.info("ACS emulator stopping")
        await runner.cleanup()


def run(config: EmulatorConfig) -> int:
    # What the logging HOWTO's "Optimization" section suggests when records need no caller,
    # thread or process: the request log writes one record per request.
    logging._srcfile = None
    logging.logThreads = logging.logProcesses = logging.logMultiprocessing = False
    logging.basicConfig(
        level=config.log_level.upper(),
        stream=sys.stderr,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    try:
        asyncio.run(serve(config))
    except ConfigError as error:
        print(f"acs_emulator: error: {error}", file=sys.stderr)
        return 2
    return 0
