"""The persisted event log: cursors, replay, retention and concurrent appends."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import uuid
from pathlib import Path

import pytest
from django.db import close_old_connections, connection, transaction

from chat.models import RelayEvent
from chat.relay import events_after, group_name
from chat.relay.log import append, current_cursor, locked_thread

ROOT = Path(__file__).resolve().parents[2]
THREAD = "19:relay-log-test@thread.v2"


def add(thread_id: str, n: int) -> list[int]:
    with transaction.atomic():
        row = locked_thread(thread_id)
        return [
            e.cursor
            for e in append(row, [("topic.changed", {"topic": str(i)}, None) for i in range(n)])
        ]


@pytest.mark.django_db(transaction=True)
def test_cursors_grow_and_events_after_returns_exactly_the_later_events(settings):
    settings.RELAY_LOG_KEEP = 100
    assert current_cursor(THREAD) == 0
    assert events_after(THREAD, 0) == []
    assert add(THREAD, 3) == [1, 2, 3]
    assert add(THREAD, 2) == [4, 5]
    assert current_cursor(THREAD) == 5
    later = events_after(THREAD, 2)
    assert [e.cursor for e in later] == [3, 4, 5]
    assert [e.data["topic"] for e in later] == ["2", "0", "1"]
    assert events_after(THREAD, 5) == []
    # A cursor this log never handed out (e.g. from before a database reset) means reload.
    assert events_after(THREAD, 6) is None
    assert events_after("19:other@thread.v2", 0) == []
    assert events_after("19:other@thread.v2", 3) is None


@pytest.mark.django_db(transaction=True)
def test_a_cursor_older_than_the_log_keeps_gets_none(settings):
    settings.RELAY_LOG_KEEP = 10
    add(THREAD, 25)
    kept = RelayEvent.objects.filter(chat_thread_id=THREAD).count()
    assert 10 <= kept <= 11  # pruned in batches of a tenth of the retention
    oldest = 25 - kept
    assert events_after(THREAD, oldest - 1) is None
    assert events_after(THREAD, 0) is None
    assert [e.cursor for e in events_after(THREAD, oldest)] == list(range(oldest + 1, 26))
    assert [e.cursor for e in events_after(THREAD, 20)] == [21, 22, 23, 24, 25]


def test_group_names_are_short_ascii_and_distinct():
    a, b = group_name("19:a@thread.v2"), group_name("19:b@thread.v2")
    assert a != b and len(a) < 100 and a.isascii()
    assert all(c.isalnum() or c in "._-" for c in a)


@pytest.mark.django_db(transaction=True)
def test_concurrent_appends_from_threads_never_reuse_a_cursor(settings):
    settings.RELAY_LOG_KEEP = 10_000
    got: list[int] = []
    errors: list[BaseException] = []
    lock = threading.Lock()

    def worker() -> None:
        try:
            for _ in range(15):
                cursors = add(THREAD, 2)
                with lock:
                    got.extend(cursors)
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)
        finally:
            close_old_connections()
            connection.close()

    threads = [threading.Thread(target=worker) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    assert sorted(got) == list(range(1, 8 * 15 * 2 + 1))
    stored = list(RelayEvent.objects.filter(chat_thread_id=THREAD).values_list("cursor", flat=True))
    assert sorted(stored) == list(range(1, 241))
    assert current_cursor(THREAD) == 240


# Enough appends per process that the four overlap well past their start-up.
PER_PROCESS = 150
APPENDER = """
import sys, django
django.setup()
from django.db import transaction
from chat.relay.log import append, locked_thread
thread, count = sys.argv[1], int(sys.argv[2])
for i in range(count):
    with transaction.atomic():
        row = locked_thread(thread)
        events = append(row, [("topic.changed", {"topic": str(i)}, None)])
    print(events[0].cursor, flush=True)
"""


@pytest.mark.postgres
def test_concurrent_appends_from_processes_on_postgres_never_reuse_a_cursor(postgres_url):
    import psycopg
    from psycopg import sql

    name = f"kwebbel_relay_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(postgres_url, autocommit=True) as admin:
        admin.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    url = postgres_url.rsplit("/", 1)[0] + "/" + name
    env = {
        **os.environ,
        "DATABASE_URL": url,
        "DJANGO_SETTINGS_MODULE": "chatsite.settings",
    }
    try:
        migrate = subprocess.run(
            [sys.executable, "manage.py", "migrate", "--noinput"],
            cwd=ROOT,
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert migrate.returncode == 0, migrate.stderr
        workers = [
            subprocess.Popen(
                [sys.executable, "-c", APPENDER, THREAD, str(PER_PROCESS)],
                cwd=ROOT,
                env=env,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
            )
            for _ in range(4)
        ]
        cursors: list[int] = []
        for worker in workers:
            out, err = worker.communicate(timeout=120)
            assert worker.returncode == 0, err
            cursors += [int(line) for line in out.split()]
        assert sorted(cursors) == list(range(1, 4 * PER_PROCESS + 1))
        with psycopg.connect(url) as conn:
            rows = conn.execute(
                "SELECT cursor FROM chat_relayevent WHERE chat_thread_id = %s", [THREAD]
            ).fetchall()
            last = conn.execute(
                "SELECT last_cursor FROM chat_relaythread WHERE chat_thread_id = %s", [THREAD]
            ).fetchone()
        assert sorted(r[0] for r in rows) == list(range(1, 4 * PER_PROCESS + 1))
        assert last == (4 * PER_PROCESS,)
    finally:
        with psycopg.connect(postgres_url, autocommit=True) as admin:
            admin.execute(
                sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
            )
