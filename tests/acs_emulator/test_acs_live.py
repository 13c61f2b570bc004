"""The ``acs_live`` switch: without ``ACS_LIVE_CONNECTION_STRING`` the live variants skip; with
it they reach the named resource. No real ACS here, so a second emulator stands in for one (its
CA trusted through ``REQUESTS_CA_BUNDLE``, as a real resource's is through the system store)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from acs_emulator.process import EmulatorProcess

ROOT = Path(__file__).resolve().parents[2]
TEST = "tests/acs_emulator/test_identity.py::test_create_user_returns_an_acs_raw_id"


def run_marked(env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            TEST,
            "-m",
            "acs_live",
            "-q",
            "-rs",
            "-p",
            "no:cacheprovider",
        ],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )


def test_live_variants_are_skipped_with_the_reason() -> None:
    env = {k: v for k, v in os.environ.items() if k != "ACS_LIVE_CONNECTION_STRING"}
    done = run_marked(env)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "1 passed, 1 skipped" in done.stdout, done.stdout
    assert "ACS_LIVE_CONNECTION_STRING is not set" in done.stdout, done.stdout


def test_live_variants_reach_the_resource_named(tmp_path: Path) -> None:
    with EmulatorProcess(tmp_path / "stand-in") as resource:
        env = {
            **os.environ,
            "ACS_LIVE_CONNECTION_STRING": resource.connection_string,
            "REQUESTS_CA_BUNDLE": str(resource.ca_bundle),
        }
        done = run_marked(env)
        assert done.returncode == 0, done.stdout + done.stderr
        assert "2 passed" in done.stdout, done.stdout
        # The [live] variant made its two users on this resource.
        assert resource.stats()["operations"] == {"CommunicationIdentity_Create": 2}
