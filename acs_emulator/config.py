"""Emulator options, from the command line with ``ACS_EMULATOR_<NAME>`` environment fallbacks.

Every option can be given either way; the command line wins. For example ``--latency-ms 50`` or
``ACS_EMULATOR_LATENCY_MS=50``, ``--enforce-limits`` or ``ACS_EMULATOR_ENFORCE_LIMITS=1``.
Repeatable options (``--events-to``, ``--events-header``) take a comma-separated list from the
environment, e.g. ``ACS_EMULATOR_EVENTS_TO=http://127.0.0.1:8000/a,http://127.0.0.1:8000/b``.
"""

from __future__ import annotations

import argparse
import base64
import binascii
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

ENV_PREFIX = "ACS_EMULATOR_"
_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off", ""}


class ConfigError(ValueError):
    """An option that parses but makes no sense for this emulator (e.g. an unknown operation)."""


@dataclass(frozen=True)
class EmulatorConfig:
    host: str = "127.0.0.1"
    port: int = 8443
    data_dir: Path = Path(".acs-emulator")
    # Base64 access key; None means "the one stored in the data dir, or a new random one".
    access_key: str | None = None
    latency_ms: int = 0
    fail_rate: float = 0.0
    throttle_rate: float = 0.0
    retry_after: int = 1
    # operationIds the faults apply to; empty means every ACS operation.
    faults_for: frozenset[str] = frozenset()
    fault_seed: int | None = None
    enforce_limits: bool = False
    log_level: str = "INFO"
    # Event Grid: webhooks given on the command line and how every subscription is delivered to.
    events_to: tuple[str, ...] = ()
    events_schema: str = "eventgrid"
    events_header: tuple[tuple[str, str], ...] = ()
    events_max_batch: int = 1
    events_max_attempts: int = 30
    events_ttl_minutes: int = 1440
    events_retry_scale: float = 1.0
    events_timeout: float = 30.0
    events_ca_bundle: Path | None = None
    events_message_version: str = "number"
    events_duplicate_rate: float = 0.0
    events_shuffle: bool = False
    events_delay_ms: int = 0
    events_fail_first: int = 0
    events_fail_first_rate: float = 0.0


def _rate(text: str) -> float:
    value = float(text)
    if not 0.0 <= value <= 1.0:
        raise argparse.ArgumentTypeError(f"must be between 0.0 and 1.0, not {text}")
    return value


def _non_negative_int(text: str) -> int:
    value = int(text)
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be 0 or more, not {text}")
    return value


def _port(text: str) -> int:
    value = int(text)
    if not 0 <= value <= 65535:
        raise argparse.ArgumentTypeError(f"must be a TCP port (0 picks a free one), not {text}")
    return value


def _access_key(text: str) -> str:
    try:
        decoded = base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        raise argparse.ArgumentTypeError(
            "must be base64 (the HMAC key is its decoded bytes)"
        ) from None
    if not decoded:
        raise argparse.ArgumentTypeError("must not be empty")
    return text


def _int_range(low: int, high: int):
    def parse(text: str) -> int:
        value = int(text)
        if not low <= value <= high:
            raise argparse.ArgumentTypeError(f"must be from {low} to {high}, not {text}")
        return value

    return parse


def _positive_float(text: str) -> float:
    value = float(text)
    if not value > 0:
        raise argparse.ArgumentTypeError(f"must be more than 0, not {text}")
    return value


def _webhook_url(text: str) -> str:
    parts = urlsplit(text.strip())
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise argparse.ArgumentTypeError(f"must be an absolute http(s) URL, not {text!r}")
    return text.strip()


def _pem_file(text: str) -> Path:
    path = Path(text)
    if not path.is_file():
        raise argparse.ArgumentTypeError(f"must be a PEM file of CA certificates, not {text!r}")
    return path


def _header(text: str) -> tuple[str, str]:
    name, sep, value = text.partition(":")
    if not sep or not name.strip():
        raise argparse.ArgumentTypeError(f"must be NAME:VALUE, not {text!r}")
    return name.strip(), value.strip()


def _operation_list(text: str) -> frozenset[str]:
    return frozenset(name.strip() for name in text.split(",") if name.strip())


def _flag(text: str) -> bool:
    lowered = text.strip().lower()
    if lowered in _TRUE:
        return True
    if lowered in _FALSE:
        return False
    raise argparse.ArgumentTypeError(f"must be a boolean (1/0, true/false), not {text!r}")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m acs_emulator",
        description="A local HTTPS Azure Communication Services (Identity + Chat).",
        epilog=f"Every option may also be set as {ENV_PREFIX}<NAME>, e.g. {ENV_PREFIX}PORT=9443.",
    )
    add = parser.add_argument
    add("--host", help="address to listen on (default 127.0.0.1)")
    add("--port", type=_port, help="port to listen on; 0 picks a free one (default 8443)")
    add("--data-dir", type=Path, help="where the database, keys and certificates live")
    add("--access-key", type=_access_key, help="base64 access key (default: stored or random)")
    add("--latency-ms", type=_non_negative_int, help="delay added to every faulted operation")
    add("--fail-rate", type=_rate, help="share of operations answered 503")
    add("--throttle-rate", type=_rate, help="share of operations answered 429 + Retry-After")
    add("--retry-after", type=_non_negative_int, help="Retry-After seconds on injected 429s")
    add("--faults-for", type=_operation_list, metavar="OP[,OP]", help="operationIds to fault")
    add("--fault-seed", type=int, help="seed the fault dice so a run can be repeated")
    add(
        "--enforce-limits",
        nargs="?",
        const=True,
        type=_flag,
        metavar="BOOL",
        help="answer 429 when the documented ACS rate limits are exceeded",
    )
    add(
        "--log-level",
        type=str.upper,
        choices=["DEBUG", "INFO", "WARNING", "ERROR"],
        help="INFO logs one line per request to stderr (default)",
    )
    events = parser.add_argument_group("Event Grid (chat events to webhooks)")
    add = events.add_argument
    add("--events-to", action="append", type=_webhook_url, metavar="URL", help="a webhook")
    add("--events-schema", choices=["eventgrid", "cloudevents"], help="default eventgrid")
    add(
        "--events-header",
        action="append",
        type=_header,
        metavar="NAME:VALUE",
        help="a static header on every delivery (Event Grid delivery attribute mapping)",
    )
    add(
        "--events-max-batch",
        type=_int_range(1, 5000),
        metavar="N",
        help="max events per delivery (default 1: batching off)",
    )
    add("--events-max-attempts", type=_int_range(1, 30), metavar="N", help="default 30")
    add("--events-ttl-minutes", type=_int_range(1, 1440), metavar="N", help="default 1440")
    add(
        "--events-retry-scale",
        type=_positive_float,
        metavar="F",
        help="multiply Event Grid's retry schedule and time to live (e.g. 0.01 in tests)",
    )
    add("--events-timeout", type=_positive_float, metavar="S", help="per request (default 30)")
    add("--events-ca-bundle", type=_pem_file, metavar="PEM", help="extra CAs for webhooks")
    add(
        "--events-message-version",
        choices=["number", "string"],
        help="JSON type of data.version on message events (default number)",
    )
    add("--events-duplicate-rate", type=_rate, metavar="R", help="share delivered twice")
    add(
        "--events-shuffle",
        nargs="?",
        const=True,
        type=_flag,
        metavar="BOOL",
        help="deliver in random order within and across batches",
    )
    add("--events-delay-ms", type=_non_negative_int, metavar="N", help="before each delivery")
    add(
        "--events-fail-first",
        type=_int_range(0, 30),
        metavar="N",
        help="the first N attempts of every event time out",
    )
    add(
        "--events-fail-first-rate",
        type=_rate,
        metavar="R",
        help="share of first attempts that time out",
    )
    return parser


def load_config(
    argv: Sequence[str] | None = None, env: Mapping[str, str] | None = None
) -> EmulatorConfig:
    """Parse ``argv`` (default: sys.argv) with ``env`` (default: os.environ) as fallback."""
    parser = build_parser()
    args = parser.parse_args(argv)
    env = os.environ if env is None else env
    values: dict[str, object] = {}
    for action in parser._actions:
        if not action.option_strings or action.dest == "help":
            continue
        value = getattr(args, action.dest)
        if value is None:
            env_name = ENV_PREFIX + action.dest.upper()
            raw = env.get(env_name)
            if raw is None:
                continue
            convert = action.type or str
            try:
                if isinstance(action, argparse._AppendAction):
                    value = [convert(part) for part in raw.split(",") if part.strip()]
                else:
                    value = convert(raw)
            except (argparse.ArgumentTypeError, ValueError) as exc:
                parser.error(f"{env_name}: {exc}")
            if action.choices is not None and value not in action.choices:
                parser.error(f"{env_name}: must be one of {', '.join(action.choices)}")
        values[action.dest] = tuple(value) if isinstance(value, list) else value
    if "fail_rate" in values or "throttle_rate" in values:
        total = float(values.get("fail_rate", 0.0)) + float(values.get("throttle_rate", 0.0))
        if total > 1.0:
            parser.error("--fail-rate plus --throttle-rate must not exceed 1.0")
    return EmulatorConfig(**values)  # type: ignore[arg-type]
