"""A TTL cache of resolved data sources, keyed by the input, with one fetch in flight per key.

An entry younger than its TTL is served; an older one is refreshed before use (never served
stale). Concurrent callers for one key wait for the same fetch instead of each resolving.
Failures are not cached, and expired entries are dropped as new ones arrive.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Final, Generic, TypeVar

import anyio

V = TypeVar("V")
PRUNE_EVERY: Final = 256


@dataclass(frozen=True)
class _Entry(Generic[V]):
    value: V
    expires_at: float


class TTLCache(Generic[V]):
    """Values by key, each valid for the TTL it was stored with (clock injected)."""

    def __init__(self, clock: Callable[[], float]) -> None:
        self._clock = clock
        self._entries: dict[str, _Entry[V]] = {}
        self._locks: dict[str, anyio.Lock] = {}
        self._stores = 0

    def __len__(self) -> int:
        return len(self._entries)

    def fresh(self, key: str) -> V | None:
        """The cached value if it has not expired, else None."""
        entry = self._entries.get(key)
        if entry is None or self._clock() >= entry.expires_at:
            return None
        return entry.value

    async def get_or_fetch(self, key: str, ttl: float, fetch: Callable[[], Awaitable[V]]) -> V:
        """The fresh cached value, or ``await fetch()`` stored for ``ttl`` seconds.

        ``ttl <= 0`` disables caching for the call.
        """
        if ttl <= 0:
            return await fetch()
        cached = self.fresh(key)
        if cached is not None:
            return cached
        lock = self._locks.setdefault(key, anyio.Lock())
        try:
            async with lock:
                cached = self.fresh(key)  # a concurrent caller may have fetched it
                if cached is not None:
                    return cached
                value = await fetch()
                self._store(key, value, ttl)
                return value
        finally:
            if not lock.locked() and not lock.statistics().tasks_waiting:
                self._locks.pop(key, None)

    def _store(self, key: str, value: V, ttl: float) -> None:
        now = self._clock()
        self._entries[key] = _Entry(value, now + ttl)
        self._stores += 1
        if self._stores % PRUNE_EVERY == 0:
            for stale in [k for k, e in self._entries.items() if now >= e.expires_at]:
                del self._entries[stale]

    def invalidate(self, key: str | None = None) -> None:
        """Drop one entry, or all of them."""
        if key is None:
            self._entries.clear()
        else:
            self._entries.pop(key, None)
