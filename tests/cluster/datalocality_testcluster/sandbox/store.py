"""The emulator's storage: objects, a global resourceVersion and the watch history.

Every object lives as a plain JSON dict. Each write takes the next resourceVersion
(one counter for the whole cluster, as etcd's revision) and appends an event to a
bounded history; watchers read the history from their resourceVersion on. A watch that
starts before the oldest retained event gets 410 Gone (:meth:`Store.events_since`);
:meth:`Store.compact` drops the history on purpose so that tests can provoke it.
"""

from __future__ import annotations

import copy
import threading
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from datalocality_testcluster.sandbox.apierrors import gone

Obj = dict[str, Any]
StorageKey = tuple[str, str]  # (group, plural)
DEFAULT_HISTORY = 10_000


def utc_now() -> datetime:
    """The current time in UTC."""
    return datetime.now(UTC)


def rfc3339(moment: datetime | None = None) -> str:
    """A timestamp as the API server writes metadata times (seconds precision)."""
    return (moment or utc_now()).strftime("%Y-%m-%dT%H:%M:%SZ")


def rfc3339_micro(moment: datetime | None = None) -> str:
    """A timestamp with microseconds (``MicroTime``)."""
    return (moment or utc_now()).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


@dataclass(frozen=True)
class Event:
    """One change: ``old`` is the object before (None when added), ``new`` after."""

    rv: int
    type: str  # ADDED, MODIFIED, DELETED
    storage: StorageKey
    old: Obj | None
    new: Obj


class Store:
    """Thread-safe in-memory objects with a watchable history; callers hold ``lock`` to
    make a read-modify-write atomic."""

    def __init__(self, history: int = DEFAULT_HISTORY) -> None:
        self.lock = threading.RLock()
        self.changed = threading.Condition(self.lock)
        self._objects: dict[StorageKey, dict[tuple[str, str], Obj]] = {}
        self._uids: dict[str, tuple[StorageKey, str, str]] = {}
        self._rv = 0
        self._history: deque[Event] = deque(maxlen=history)
        self._compacted = 0  # events with rv <= this are gone
        self.ticks = 0  # bumped by every change and every poke
        self.closed = False

    @property
    def resource_version(self) -> int:
        """The latest resourceVersion handed out."""
        with self.lock:
            return self._rv

    def get(self, storage: StorageKey, namespace: str, name: str) -> Obj | None:
        """A copy of the object, or None."""
        with self.lock:
            obj = self._objects.get(storage, {}).get((namespace, name))
            return copy.deepcopy(obj) if obj is not None else None

    def objects(self, storage: StorageKey, namespace: str | None = None) -> list[Obj]:
        """Copies of every object of a type (in one namespace if given), by namespace, name."""
        with self.lock:
            items = self._objects.get(storage, {})
            keys = sorted(k for k in items if namespace is None or k[0] == namespace)
            return [copy.deepcopy(items[k]) for k in keys]

    def metadata(self, storage: StorageKey) -> list[Obj]:
        """``{"metadata": ...}`` copies of every object of a type, by namespace, name: what
        the garbage collector reads, without copying a spec of megabytes (chunk slices)."""
        with self.lock:
            items = self._objects.get(storage, {})
            return [{"metadata": copy.deepcopy(items[k]["metadata"])} for k in sorted(items)]

    def by_uid(self, uid: str) -> tuple[StorageKey, str, str] | None:
        """Where the object with this uid lives, or None."""
        with self.lock:
            return self._uids.get(uid)

    def storages(self) -> list[StorageKey]:
        """Every storage key that holds or held objects."""
        with self.lock:
            return sorted(self._objects)

    def put(self, storage: StorageKey, obj: Obj) -> Obj:
        """Create or replace ``obj`` with a new resourceVersion; returns the stored copy."""
        with self.lock:
            meta = obj["metadata"]
            key = (meta.get("namespace", ""), meta["name"])
            bucket = self._objects.setdefault(storage, {})
            old = bucket.get(key)
            self._rv += 1
            stored = copy.deepcopy(obj)
            stored["metadata"]["resourceVersion"] = str(self._rv)
            bucket[key] = stored
            if meta.get("uid"):
                self._uids[meta["uid"]] = (storage, key[0], key[1])
            self._record(Event(self._rv, "MODIFIED" if old else "ADDED", storage, old, stored))
            return copy.deepcopy(stored)

    def remove(self, storage: StorageKey, namespace: str, name: str) -> Obj | None:
        """Delete the object; the DELETED event carries a fresh resourceVersion."""
        with self.lock:
            old = self._objects.get(storage, {}).pop((namespace, name), None)
            if old is None:
                return None
            self._uids.pop(old["metadata"].get("uid", ""), None)
            self._rv += 1
            final = copy.deepcopy(old)
            final["metadata"]["resourceVersion"] = str(self._rv)
            self._record(Event(self._rv, "DELETED", storage, old, final))
            return copy.deepcopy(final)

    def _record(self, event: Event) -> None:
        if len(self._history) == self._history.maxlen:
            self._compacted = self._history[0].rv
        self._history.append(event)
        self.ticks += 1
        self.changed.notify_all()

    def poke(self) -> None:
        """Wake the controllers without a change (something outside the store moved)."""
        with self.changed:
            self.ticks += 1
            self.changed.notify_all()

    def events_since(self, rv: int) -> list[Event]:
        """Events after ``rv``; raises 410 Gone when some of them were compacted away."""
        with self.lock:
            if rv < self._compacted:
                raise gone(f"too old resource version: {rv} ({self._compacted})")
            return [e for e in self._history if e.rv > rv]

    def compact(self) -> int:
        """Forget the whole history (as etcd compaction); returns the compacted revision."""
        with self.lock:
            self._history.clear()
            self._compacted = self._rv
            return self._rv

    def wait(self, predicate: Callable[[], bool], timeout: float) -> bool:
        """Block until ``predicate()`` holds after a change, or ``timeout`` passes."""
        with self.changed:
            return self.changed.wait_for(lambda: self.closed or predicate(), timeout)

    def wait_change(self, seen: int, timeout: float) -> None:
        """Block until ``ticks`` moves past ``seen`` (or ``timeout`` passes, or closing)."""
        with self.changed:
            self.changed.wait_for(lambda: self.closed or self.ticks != seen, timeout)

    def close(self) -> None:
        """Wake every waiter for good (the server is stopping)."""
        with self.changed:
            self.closed = True
            self.changed.notify_all()
