"""Database work from async code (the websocket consumer, the relay, the async gateway).

Channels' ``database_sync_to_async`` runs every call of a process on one shared thread
(asgiref's thread-sensitive mode), the same thread that runs the sync Django views under
Daphne. A page making its ACS calls there would hold up every websocket's database work.
:func:`run_db` runs the call on the event loop's thread pool instead (``thread_sensitive=False``).

That is safe for the functions Kwebbel passes here: each is self-contained (its own
transaction, nothing thread-local carried from one call to the next; the active language is a
context variable, which asgiref carries into the worker thread). Each worker thread keeps its
own database connection between calls (``CONN_MAX_AGE``). As in any long-running process, stale
or broken connections are closed (Django's ``close_old_connections``), here before a call at
most every ``CHECK_EVERY`` seconds per thread and after any call that failed: checking around
every call would cost PostgreSQL a health-check query each time.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from functools import partial
from typing import Any, ParamSpec, TypeVar

from asgiref.sync import sync_to_async
from django.db import close_old_connections

P = ParamSpec("P")
R = TypeVar("R")

CHECK_EVERY = 5.0
_checked = threading.local()


def _fresh(function: Callable[..., R], *args: Any, **kwargs: Any) -> R:
    now = time.monotonic()
    if now - getattr(_checked, "at", -CHECK_EVERY) >= CHECK_EVERY:
        close_old_connections()
        _checked.at = now
    try:
        return function(*args, **kwargs)
    except Exception:
        close_old_connections()  # a broken connection is not kept for the next call
        raise


async def run_db(function: Callable[P, R], *args: P.args, **kwargs: P.kwargs) -> R:
    """``await run_db(f, *args)``: ``f(*args)`` on a worker thread, with healthy connections."""
    return await sync_to_async(partial(_fresh, function, *args, **kwargs), thread_sensitive=False)()
