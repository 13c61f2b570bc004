"""The emulator's SQLite database: one file in the data dir, shared by the service stores.

Each store creates and owns its own tables. The HTTP server runs on one event loop and every store
call is synchronous, so requests are applied one at a time: sequence ids and message ids can never
be handed out twice. For the same reason reads need no transaction (no write can come between
a read's statements); every change runs in one. WAL with ``synchronous=NORMAL`` keeps every
committed transaction across a crash of the process (kill -9); only a power loss could cost the
last transactions.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


def open_database(path: Path) -> sqlite3.Connection:
    """Open (creating if needed) the emulator database at ``path``."""
    conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    conn.row_factory = sqlite3.Row
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=NORMAL")
    conn.execute("PRAGMA foreign_keys=ON")
    return conn


@contextmanager
def transaction(conn: sqlite3.Connection) -> Iterator[sqlite3.Connection]:
    """Run the block in one IMMEDIATE transaction: all of it is stored, or none."""
    conn.execute("BEGIN IMMEDIATE")
    try:
        yield conn
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    else:
        conn.execute("COMMIT")
