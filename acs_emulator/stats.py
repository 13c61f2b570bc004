"""Per-operation request counters, read by tests and benchmarks through ``/_emulator/stats``.

Every ACS request that reaches a named route is counted once, before faults and limits, because
that is what the real service would see (and bill). Chat requests are also counted per thread,
so a benchmark can tell how many ACS calls one conversation cost.
"""

from __future__ import annotations

from collections import Counter


class RequestStats:
    def __init__(self) -> None:
        self._by_operation: Counter[str] = Counter()
        self._by_thread: dict[str, Counter[str]] = {}

    def record(self, operation_id: str, chat_thread_id: str | None = None) -> None:
        self._by_operation[operation_id] += 1
        if chat_thread_id is not None:
            self._by_thread.setdefault(chat_thread_id, Counter())[operation_id] += 1

    def record_for_thread(self, operation_id: str, chat_thread_id: str) -> None:
        """Attribute an already counted request to a thread (create: the id comes back later)."""
        self._by_thread.setdefault(chat_thread_id, Counter())[operation_id] += 1

    def snapshot(self, chat_thread_id: str | None = None) -> dict:
        """``{"operations": {operationId: count}, "total": n}``, optionally for one thread."""
        if chat_thread_id is None:
            counts = self._by_operation
        else:
            counts = self._by_thread.get(chat_thread_id, Counter())
        return {"operations": dict(sorted(counts.items())), "total": sum(counts.values())}

    def reset(self) -> None:
        self._by_operation.clear()
        self._by_thread.clear()
