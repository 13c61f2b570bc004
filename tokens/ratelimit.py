"""A fixed-window request counter on Django's cache (Redis when REDIS_URL is set, so it holds
across workers). Hand-written because the one endpoint that needs it wants a 429 with
Retry-After, which the usual packages leave to the caller anyway.
"""

import time

from django.core.cache import cache


def hit(key: str, limit: int, window: int, *, now: float | None = None) -> int | None:
    """Count one request; return None if allowed, else the seconds until the window resets."""
    now = time.time() if now is None else now
    window_start = int(now // window) * window
    cache_key = f"ratelimit:{key}:{window_start}"
    # add() is a no-op when the key exists, and incr() is atomic on Redis and per-process locmem.
    cache.add(cache_key, 0, timeout=window + 1)
    try:
        count = cache.incr(cache_key)
    except ValueError:  # expired between add() and incr()
        cache.add(cache_key, 1, timeout=window + 1)
        count = 1
    if count <= limit:
        return None
    return max(1, int(window_start + window - now + 0.999))
