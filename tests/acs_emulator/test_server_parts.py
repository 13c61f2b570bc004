"""Unit tests of the server's parts: options, certificates, rate limits and fault dice."""

from __future__ import annotations

import asyncio
import logging
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer
from cryptography import x509

from acs_emulator.app import create_app
from acs_emulator.config import ConfigError, EmulatorConfig, load_config
from acs_emulator.errors import AcsError
from acs_emulator.faults import FaultInjector
from acs_emulator.limits import RateLimiter
from acs_emulator.tls import RENEW_BEFORE, SERVER_LIFETIME, ensure_certificates

# Options.


def test_defaults_without_arguments_or_environment() -> None:
    assert load_config([], env={}) == EmulatorConfig()


def test_environment_fills_in_and_the_command_line_wins() -> None:
    env = {
        "ACS_EMULATOR_PORT": "9443",
        "ACS_EMULATOR_LATENCY_MS": "25",
        "ACS_EMULATOR_FAULTS_FOR": "Chat_ListChatThreads, ChatThread_SendChatMessage",
        "ACS_EMULATOR_ENFORCE_LIMITS": "true",
        "ACS_EMULATOR_DATA_DIR": "/tmp/from-env",
    }
    config = load_config(["--port", "0", "--fail-rate", "0.25"], env=env)
    assert config.port == 0
    assert config.latency_ms == 25
    assert config.fail_rate == 0.25
    assert config.faults_for == {"Chat_ListChatThreads", "ChatThread_SendChatMessage"}
    assert config.enforce_limits is True
    assert config.data_dir == Path("/tmp/from-env")
    assert load_config(["--enforce-limits"], env={}).enforce_limits is True


def test_event_options_from_the_command_line_and_the_environment() -> None:
    env = {
        "ACS_EMULATOR_EVENTS_TO": "http://127.0.0.1:8000/a?code=1, https://example.test/b",
        "ACS_EMULATOR_EVENTS_SCHEMA": "cloudevents",
        "ACS_EMULATOR_EVENTS_HEADER": "X-Key: k1,Authorization: Bearer t",
        "ACS_EMULATOR_EVENTS_RETRY_SCALE": "0.01",
        "ACS_EMULATOR_EVENTS_SHUFFLE": "1",
    }
    config = load_config(["--events-max-batch", "10"], env=env)
    assert config.events_to == ("http://127.0.0.1:8000/a?code=1", "https://example.test/b")
    assert config.events_schema == "cloudevents"
    assert config.events_header == (("X-Key", "k1"), ("Authorization", "Bearer t"))
    assert (config.events_retry_scale, config.events_shuffle) == (0.01, True)
    assert config.events_max_batch == 10
    # Repeated on the command line, which wins over the environment.
    argv = ["--events-to", "http://a.test/1", "--events-to", "http://b.test/2"]
    assert load_config(argv, env=env).events_to == ("http://a.test/1", "http://b.test/2")


@pytest.mark.parametrize(
    ("argv", "env"),
    [
        (["--events-to", "ftp://127.0.0.1/x"], {}),
        (["--events-to", "/relative"], {}),
        ([], {"ACS_EMULATOR_EVENTS_TO": "http://ok.test/,nowhere"}),
        (["--events-schema", "xml"], {}),
        (["--events-header", "no colon"], {}),
        (["--events-max-batch", "0"], {}),
        (["--events-max-attempts", "31"], {}),
        (["--events-retry-scale", "0"], {}),
        (["--events-duplicate-rate", "2"], {}),
        (["--events-fail-first", "-1"], {}),
        (["--events-message-version", "float"], {}),
        (["--events-ca-bundle", "/no/such/ca.pem"], {}),
        (["--fail-rate", "1.5"], {}),
        (["--fail-rate", "0.6", "--throttle-rate", "0.6"], {}),
        (["--port", "70000"], {}),
        (["--access-key", "not base64!"], {}),
        ([], {"ACS_EMULATOR_LATENCY_MS": "soon"}),
        ([], {"ACS_EMULATOR_ENFORCE_LIMITS": "maybe"}),
        ([], {"ACS_EMULATOR_LOG_LEVEL": "chatty"}),
    ],
)
def test_bad_options_are_refused(argv: list[str], env: dict[str, str]) -> None:
    with pytest.raises(SystemExit) as caught:
        load_config(argv, env=env)
    assert caught.value.code == 2


# Certificates.


def _cert(path: Path) -> x509.Certificate:
    return x509.load_pem_x509_certificate(path.read_bytes())


def test_certificates_are_created_once_and_reused(tmp_path: Path) -> None:
    files = ensure_certificates(tmp_path)
    ca, server = files.ca_cert.read_bytes(), files.server_cert.read_bytes()
    assert ensure_certificates(tmp_path) == files
    assert files.ca_cert.read_bytes() == ca
    assert files.server_cert.read_bytes() == server
    san = _cert(files.server_cert).extensions.get_extension_for_class(x509.SubjectAlternativeName)
    assert "localhost" in san.value.get_values_for_type(x509.DNSName)
    assert {str(ip) for ip in san.value.get_values_for_type(x509.IPAddress)} >= {"127.0.0.1", "::1"}
    _cert(files.server_cert).verify_directly_issued_by(_cert(files.ca_cert))
    assert files.ca_key.stat().st_mode & 0o077 == 0


def test_server_certificate_is_reissued_near_expiry_or_when_missing(tmp_path: Path) -> None:
    now = datetime.now(UTC)
    files = ensure_certificates(tmp_path, now=now)
    ca, first = files.ca_cert.read_bytes(), _cert(files.server_cert)
    later = now + SERVER_LIFETIME - RENEW_BEFORE + timedelta(days=1)
    ensure_certificates(tmp_path, now=later)
    second = _cert(files.server_cert)
    assert second.serial_number != first.serial_number
    assert second.not_valid_after_utc > first.not_valid_after_utc
    assert files.ca_cert.read_bytes() == ca
    files.server_cert.unlink()
    ensure_certificates(tmp_path, now=later)
    assert _cert(files.server_cert).serial_number != second.serial_number
    assert files.ca_cert.read_bytes() == ca


# Rate limits.


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_sliding_window_refuses_then_recovers() -> None:
    clock = FakeClock()
    limiter = RateLimiter(clock=clock)
    for _ in range(10):
        limiter.check("Chat_CreateChatThread", user="8:acs:a", chat_thread_id=None)
        clock.now += 0.5
    with pytest.raises(AcsError) as caught:
        limiter.check("Chat_CreateChatThread", user="8:acs:a", chat_thread_id=None)
    assert caught.value.status == 429
    assert caught.value.headers["Retry-After"] == "5"
    # Another user has a budget of their own.
    limiter.check("Chat_CreateChatThread", user="8:acs:b", chat_thread_id=None)
    clock.now += 5.0  # the first request leaves the 10 s window
    limiter.check("Chat_CreateChatThread", user="8:acs:a", chat_thread_id=None)


def test_per_minute_window_applies_after_the_10_second_one() -> None:
    clock = FakeClock()
    limiter = RateLimiter(clock=clock)
    sent = 0
    while True:
        try:
            limiter.check("ChatThread_SendChatMessage", user="8:acs:a", chat_thread_id="19:t")
        except AcsError as error:
            assert error.status == 429
            break
        sent += 1
        clock.now += 1.1  # 9 per 10 s: only the 30 per minute limit can stop this
    assert sent == 30


def test_unlimited_operations_pass() -> None:
    limiter = RateLimiter(clock=FakeClock())
    for _ in range(1000):
        limiter.check("Emulator_Health", user=None, chat_thread_id=None)


# Fault dice.


def _outcomes(injector: FaultInjector, operation: str, n: int) -> list[int]:
    results = []
    for _ in range(n):
        try:
            asyncio.run(injector.apply(operation))
            results.append(200)
        except AcsError as error:
            results.append(error.status)
    return results


def test_seeded_faults_repeat_and_respect_rates_and_operations() -> None:
    def injector() -> FaultInjector:
        return FaultInjector(
            fail_rate=0.2, throttle_rate=0.3, operations={"Chat_ListChatThreads"}, seed=42
        )

    first = _outcomes(injector(), "Chat_ListChatThreads", 200)
    assert first == _outcomes(injector(), "Chat_ListChatThreads", 200)
    assert {200, 429, 503} == set(first)
    assert 20 <= first.count(503) <= 60 and 40 <= first.count(429) <= 80
    assert set(_outcomes(injector(), "ChatThread_SendChatMessage", 50)) == {200}


# The pipeline in-process (plain HTTP through aiohttp's test server).


async def test_unexpected_errors_are_a_500_in_the_error_shape_and_logged(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    app = create_app(EmulatorConfig(data_dir=tmp_path))

    async def boom(request: web.Request) -> web.Response:
        raise RuntimeError("secret internals")

    app.router.add_get("/boom", boom)
    async with TestClient(TestServer(app)) as client:
        with caplog.at_level(logging.INFO, logger="acs_emulator"):
            response = await client.get("/boom?sig=hidden")
            body = await response.json()
            assert response.status == 500
            assert body == {"error": {"code": "InternalError", "message": "Internal server error."}}
            listed = await client.get(
                "/chat/threads?api-version=2024-03-07",
                headers={"Authorization": "Bearer leaked.token.value"},
            )
            assert listed.status == 401
    assert "RuntimeError: secret internals" in caplog.text  # in the log, not the response
    ours = "\n".join(r.getMessage() for r in caplog.records if r.name.startswith("acs_emulator"))
    assert "GET /boom - 500" in ours
    assert "GET /chat/threads Chat_ListChatThreads 401" in ours
    assert "hidden" not in ours
    assert "leaked" not in ours


def test_faults_for_an_unknown_operation_is_refused(tmp_path: Path) -> None:
    config = EmulatorConfig(data_dir=tmp_path, faults_for=frozenset({"Chat_SendMessage"}))
    with pytest.raises(ConfigError, match="Chat_SendMessage"):
        create_app(config)
    create_app(EmulatorConfig(data_dir=tmp_path, faults_for=frozenset({"Chat_ListChatThreads"})))
