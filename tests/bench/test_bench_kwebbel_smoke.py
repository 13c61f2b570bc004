"""Each Kwebbel benchmark runs end to end on a tiny size and prints every figure (no timing
checks: only that the tables are complete, the counts add up and nothing was lost)."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parents[2] / "bench" / "kwebbel.py"
NUMBER = re.compile(r"^-?\d+(\.\d+)?$")

pytestmark = [pytest.mark.slow, pytest.mark.own_site]


def run(*args: str) -> tuple[str, dict[str, list[list[str]]]]:
    done = subprocess.run(
        [sys.executable, str(BENCH), *args], capture_output=True, text=True, timeout=300
    )
    output = f"--- stdout ---\n{done.stdout}\n--- stderr ---\n{done.stderr}"
    assert done.returncode == 0, output
    assert re.search(r"^machine: \d+ cores", done.stdout, re.MULTILINE), output
    assert "azure-communication-chat 1.3.0" in done.stdout, output
    tables: dict[str, list[list[str]]] = {}
    current: list[list[str]] | None = None
    for line in done.stdout.splitlines():
        if line.startswith("|-"):
            continue  # the header's underline
        if not line.startswith("| "):
            current = None
            continue
        cells = [cell.strip() for cell in line.strip("|").split("|")]
        if current is None:
            current = tables[cells[0]] = [cells]
        else:
            current.append(cells)
    return output, tables


def rows(table: list[list[str]]) -> dict[str, list[str]]:
    return {row[0]: row[1:] for row in table[1:]}


def test_fanout_prints_kwebbel_the_baseline_and_their_ratios() -> None:
    output, tables = run("fanout", "--quick")
    figures = rows(tables["figure"])
    assert tables["figure"][0] == ["figure", "Kwebbel", "baseline", "ratio"], output
    for name in (
        "send-to-delivery p50 ms",
        "send-to-delivery p95 ms",
        "send-to-delivery p99 ms",
        "deliveries/s",
        "ACS calls/min, all",
        "ListChatMessages/min per watched thread",
    ):
        kwebbel, baseline, ratio = figures[name]
        assert NUMBER.match(kwebbel) and NUMBER.match(baseline) and NUMBER.match(ratio), name
    # --quick: 2 senders x 2 messages/s x 3 s, each message to the 2 viewers of its thread.
    assert figures["messages sent"][:2] == ["12", "12"], output
    assert figures["deliveries due"][:2] == ["24", "24"], output
    assert figures["deliveries missed"][:2] == ["0", "0"], output
    assert figures["errors"][:2] == ["0", "0"], output
    operations = rows(tables["ACS calls/min by operation"])
    assert float(operations["ChatThread_ListChatMessages"][0]) > 0, output
    assert float(operations["ChatThread_ListChatMessages"][1]) > 0, output
    assert float(operations["ChatThread_SendChatMessage"][0]) > 0, output


def test_outside_prints_delivery_times_against_the_poll_interval() -> None:
    output, tables = run("outside", "--quick")
    figures = rows(tables["figure"])
    assert figures["poll interval ms"] == ["500.0"], output
    for name in ("sent-to-viewer p50 ms", "sent-to-viewer p99 ms", "max ms"):
        assert NUMBER.match(figures[name][0]), name
    assert figures["messages sent"] == ["12"], output
    assert figures["deliveries missed"] == ["0"] and figures["errors"] == ["0"], output
    operations = rows(tables["ACS calls/min by operation"])
    # Sent straight to ACS: Kwebbel itself sent nothing and only its poller listed messages.
    assert "ChatThread_GetChatMessage" not in operations, output
    assert float(operations["ChatThread_ListChatMessages"][0]) > 0, output


def test_outside_push_prints_polling_and_events_side_by_side() -> None:
    output, tables = run("outside", "--quick", "--push")
    assert tables["figure"][0] == ["figure", "polling", "events + polling"], output
    figures = rows(tables["figure"])
    for name in (
        "sent-to-viewer p50 ms",
        "sent-to-viewer p95 ms",
        "sent-to-viewer p99 ms",
        "ACS calls/min per watched thread, busy",
        "ACS calls/min per watched thread, idle",
    ):
        assert all(NUMBER.match(cell) for cell in figures[name]), (name, output)
    assert figures["messages sent"] == ["12", "12"], output
    assert figures["deliveries missed"] == ["0", "0"], output
    assert figures["errors"] == ["0", "0"], output
    # Both runs read through the relay's poller, which lists messages in both.
    operations = rows(tables["ACS calls/min by operation"])
    assert all(float(cell) > 0 for cell in operations["ChatThread_ListChatMessages"][:2]), output


def test_capacity_holds_every_connection_and_reports_memory() -> None:
    output, tables = run("capacity", "--quick")
    table = tables["connections"]
    assert table[0] == [
        "connections",
        "held",
        "RSS idle MiB",
        "RSS MiB",
        "KiB/connection",
        "frame p50 ms",
        "frame p99 ms",
    ], output
    levels = rows(table)
    assert set(levels) == {"20", "50"}, output
    for level, cells in levels.items():
        assert cells[0] == level, output  # every connection held
        assert all(NUMBER.match(cell) for cell in cells[1:]), cells
