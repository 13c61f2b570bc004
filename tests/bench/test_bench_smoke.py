"""The emulator benchmark runs end to end and reports a number in every cell (no timing checks)."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.own_site

BENCH = Path(__file__).resolve().parents[2] / "bench" / "emulator.py"
NUMBER = re.compile(r"^\d+(\.\d+)?$")


def test_quick_bench_prints_a_full_table() -> None:
    done = subprocess.run(
        [sys.executable, str(BENCH), "--quick"],
        capture_output=True,
        text=True,
        timeout=180,
    )
    output = f"--- stdout ---\n{done.stdout}\n--- stderr ---\n{done.stderr}"
    assert done.returncode == 0, output
    assert re.search(r"^machine: \d+ cores", done.stdout, re.MULTILINE), output
    assert "azure-communication-chat 1.3.0" in done.stdout, output

    table = [line for line in done.stdout.splitlines() if line.startswith("| ")]
    header, *rows = ([cell.strip() for cell in line.strip("|").split("|")] for line in table)
    assert header == [
        "operation",
        "client",
        "calls",
        "errors",
        "server count",
        "req/s",
        "p50 ms",
        "p99 ms",
        "emulator CPU %",
        "clients CPU %",
    ]
    measured = [row for row in rows if row[1] != "SDK, previous emulator"]
    assert [(row[0], row[1]) for row in measured] == [
        ("send_message", "SDK"),
        ("send_message", "SDK, 1 webhook"),
        ("list_messages (50/page)", "SDK"),
        ("send_message", "raw HTTP"),
        ("list_messages (50/page)", "raw HTTP"),
    ], output
    for row in measured:
        assert all(NUMBER.match(cell) for cell in row[2:]), row
        calls, errors, server_count = int(row[2]), int(row[3]), int(row[4])
        assert calls > 0 and errors == 0, row
        # One call is one HTTP request: the emulator counted exactly as many.
        assert server_count == calls, row
    # The baseline rows: the previous emulator's recorded figures, printed alongside.
    assert [row[0] for row in rows if row[1] == "SDK, previous emulator"] == [
        "send_message",
        "list_messages (50/page)",
    ]
    # Every event of the webhook phase reached the webhook.
    delivered = re.search(r"^events: (\d+) delivered .* for (\d+) sends", done.stdout, re.M)
    assert delivered and delivered.group(1) == delivered.group(2) == measured[1][2], output
