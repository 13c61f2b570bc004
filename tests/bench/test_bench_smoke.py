"""The emulator benchmark runs end to end and reports a number in every cell (no timing checks)."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

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
    assert header == ["operation", "calls", "errors", "server count", "req/s", "p50 ms", "p99 ms"]
    assert [row[0] for row in rows] == ["send_message", "list_messages (50/page)"], output
    for row in rows:
        assert all(NUMBER.match(cell) for cell in row[1:]), row
        calls, errors, server_count = int(row[1]), int(row[2]), int(row[3])
        assert calls > 0 and errors == 0, row
        # One SDK call is one HTTP request: the emulator counted exactly as many.
        assert server_count == calls, row
