"""Who polls a thread: a lock per thread, held while a process polls it.

``InProcessLocks`` serves a single server process (no ``REDIS_URL``); ``RedisLocks`` serves
several, with redis-py's lock (SET NX with a TTL, renewed by the holder, released only by the
token that took it), so a crashed process frees its threads when the TTL runs out.
"""

from __future__ import annotations

import hashlib
import logging
from typing import Protocol

from redis.asyncio import Redis
from redis.asyncio.lock import Lock as RedisLock
from redis.exceptions import LockError, RedisError

logger = logging.getLogger(__name__)

# A holder renews every TTL / 3, so a lock survives two failed renewals and a dead holder's
# threads are taken over within TTL seconds.
LOCK_TTL = 10.0


class ThreadLock(Protocol):
    async def acquire(self) -> bool:
        """Take the lock if free (never waits)."""

    async def renew(self) -> bool:
        """Extend the hold; False when it was lost (expired, taken over)."""

    async def release(self) -> None:
        """Let go (no-op if not held)."""


class LockBackend(Protocol):
    renew_every: float

    def lock(self, thread_id: str) -> ThreadLock: ...

    async def held(self, thread_id: str) -> bool:
        """Whether some process holds the thread's lock now (someone polls it)."""

    async def close(self) -> None: ...


# The names held in this process. A module-level set on purpose: the lock's scope *is* the
# process, so every Relay in it (tests make several) must see the same holders.
_held: set[str] = set()


class _InProcessLock:
    def __init__(self, name: str) -> None:
        self.name = name
        self.held = False

    async def acquire(self) -> bool:
        if self.name in _held:
            return False
        _held.add(self.name)
        self.held = True
        return True

    async def renew(self) -> bool:
        return self.held

    async def release(self) -> None:
        if self.held:
            _held.discard(self.name)
            self.held = False


class InProcessLocks:
    """Locks that exclude pollers within this process only."""

    renew_every = 5.0

    def lock(self, thread_id: str) -> ThreadLock:
        return _InProcessLock(thread_id)

    async def held(self, thread_id: str) -> bool:
        return thread_id in _held

    async def close(self) -> None:
        return None


class _RedisThreadLock:
    def __init__(self, lock: RedisLock) -> None:
        self._lock = lock
        self.held = False

    async def acquire(self) -> bool:
        try:
            self.held = bool(await self._lock.acquire(blocking=False))
        except RedisError:
            logger.warning("relay: Redis unavailable; not polling", exc_info=True)
            self.held = False
        return self.held

    async def renew(self) -> bool:
        try:
            await self._lock.reacquire()
        except (LockError, RedisError):
            self.held = False
        return self.held

    async def release(self) -> None:
        if not self.held:
            return
        self.held = False
        try:
            await self._lock.release()
        except (LockError, RedisError):
            # Expired or unreachable: the TTL frees it either way.
            logger.info("relay: lock %s already gone", self._lock.name)


class RedisLocks:
    """Locks shared by every process using the same Redis (and ``prefix``)."""

    def __init__(self, url: str, *, prefix: str = "kwebbel:relay:", ttl: float = LOCK_TTL) -> None:
        self._redis = Redis.from_url(url)
        self._prefix = prefix
        self._ttl = ttl
        self.renew_every = ttl / 3

    def _name(self, thread_id: str) -> str:
        # Thread ids hold ':' and '@'; a hash keeps keys short and uniform.
        return self._prefix + "poller:" + hashlib.sha256(thread_id.encode()).hexdigest()[:40]

    def lock(self, thread_id: str) -> ThreadLock:
        # thread_local=False: the token belongs to this object, not to the OS thread (asyncio).
        lock = RedisLock(self._redis, self._name(thread_id), timeout=self._ttl, thread_local=False)
        return _RedisThreadLock(lock)

    async def held(self, thread_id: str) -> bool:
        try:
            return bool(await self._redis.exists(self._name(thread_id)))
        except RedisError:
            return False

    async def close(self) -> None:
        await self._redis.aclose()


def backend_from_settings(redis_url: str) -> LockBackend:
    """Redis locks when ``REDIS_URL`` is set, in-process ones otherwise."""
    return RedisLocks(redis_url) if redis_url else InProcessLocks()
