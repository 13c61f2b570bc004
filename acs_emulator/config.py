"""Emulator options, from the command line with ``ACS_EMULATOR_<NAME>`` environment fallbacks.

Every option can be given either way; the command line wins. For example ``--latency-ms 50`` or
``ACS_EMULATOR_LATENCY_MS=50``, ``--enforce-limits`` or ``ACS_EMULATOR_ENFORCE_LIMITS=1``.
"""

from __future__ import annotations

import argparse
import base64
import binascii
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

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
            try:
                value = action.type(raw) if action.type else raw
            except (argparse.ArgumentTypeError, ValueError) as exc:
                parser.error(f"{env_name}: {exc}")
            if action.choices is not None and value not in action.choices:
                parser.error(f"{env_name}: must be one of {', '.join(action.choices)}")
        values[action.dest] = value
    if "fail_rate" in values or "throttle_rate" in values:
        total = float(values.get("fail_rate", 0.0)) + float(values.get("throttle_rate", 0.0))
        if total > 1.0:
            parser.error("--fail-rate plus --throttle-rate must not exceed 1.0")
    return EmulatorConfig(**values)  # type: ignore[arg-type]
