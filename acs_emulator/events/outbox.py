"""The persisted queue of undelivered events, one row per (event, subscription).

Rows are written in the chat operation's own transaction (a transactional outbox), so an event
exists exactly when its change does, and whatever was not delivered when the process stopped
(or was killed) is delivered after the next start. A row leaves the queue when delivered or
given up; ``attempts`` counts the attempts made so far (``aeg-delivery-count``).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable
from dataclasses import dataclass

_SCHEMA = """
CREATE TABLE IF NOT EXISTS event_outbox (
    pk INTEGER PRIMARY KEY,
    subscription TEXT NOT NULL,
    event_id TEXT NOT NULL,
    body TEXT NOT NULL,
    enqueued_at REAL NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0,
    next_attempt_at REAL NOT NULL,
    -- 1 for an extra copy made by the duplicate fault
    duplicate INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX IF NOT EXISTS event_outbox_due ON event_outbox (subscription, next_attempt_at);
"""


@dataclass(frozen=True)
class QueuedEvent:
    pk: int
    event_id: str
    body: str
    enqueued_at: float
    attempts: int
    duplicate: bool


class Outbox:
    def __init__(self, conn: sqlite3.Connection) -> None:
        self.conn = conn
        conn.executescript(_SCHEMA)

    def enqueue(self, subscription: str, event_id: str, body: str, now: float) -> None:
        self.conn.execute(
            "INSERT INTO event_outbox (subscription, event_id, body, enqueued_at,"
            " next_attempt_at) VALUES (?, ?, ?, ?, ?)",
            (subscription, event_id, body, now, now),
        )

    def due(self, subscription: str, now: float, *, limit: int) -> list[QueuedEvent]:
        """Events whose next attempt is due, oldest first."""
        rows = self.conn.execute(
            "SELECT pk, event_id, body, enqueued_at, attempts, duplicate FROM event_outbox"
            " WHERE subscription = ? AND next_attempt_at <= ? ORDER BY pk LIMIT ?",
            (subscription, now, limit),
        ).fetchall()
        return [QueuedEvent(r[0], r[1], r[2], r[3], r[4], bool(r[5])) for r in rows]

    def next_due(self, subscription: str) -> float | None:
        row = self.conn.execute(
            "SELECT MIN(next_attempt_at) FROM event_outbox WHERE subscription = ?",
            (subscription,),
        ).fetchone()
        return row[0]

    def remove(self, pks: Iterable[int]) -> None:
        self.conn.executemany("DELETE FROM event_outbox WHERE pk = ?", [(pk,) for pk in pks])

    def retry(self, pk: int, next_attempt_at: float) -> None:
        self.conn.execute(
            "UPDATE event_outbox SET attempts = attempts + 1, next_attempt_at = ? WHERE pk = ?",
            (next_attempt_at, pk),
        )

    def duplicate(self, subscription: str, event: QueuedEvent, at: float) -> None:
        """Queue one more copy of a delivered event (the duplicate fault)."""
        self.conn.execute(
            "INSERT INTO event_outbox (subscription, event_id, body, enqueued_at,"
            " next_attempt_at, duplicate) VALUES (?, ?, ?, ?, ?, 1)",
            (subscription, event.event_id, event.body, event.enqueued_at, at),
        )

    def drop_all(self, subscription: str) -> int:
        cursor = self.conn.execute(
            "DELETE FROM event_outbox WHERE subscription = ?", (subscription,)
        )
        return cursor.rowcount

    def pending(self) -> dict[str, int]:
        rows = self.conn.execute(
            "SELECT subscription, COUNT(*) FROM event_outbox GROUP BY subscription"
        ).fetchall()
        return {name: count for name, count in rows}
