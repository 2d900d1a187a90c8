"""Fault injection: make chosen requests fail the way a struggling API server does.

``sandbox.faults.inject(verb="create", resource="pods", code=500)`` fails the next
matching request before it is applied; ``after=True`` applies it and then fails
(the write happened but the client is told otherwise); ``drop=True`` applies it and
closes the connection without an answer (an ambiguous write, as a timeout). ``code``
429 or 503 sends ``Retry-After`` (which urllib3, under the kubernetes client, honours
by retrying on its own); a 410 on a watch arrives as an ``ERROR`` event, as from a
real server. Verbs are Kubernetes verbs: get, list, watch, create, update, patch,
delete, deletecollection (a subresource is matched with ``subresource=``).

``faults.chaos(seed, probability)`` faults any request at random from then on, seeded so
a failing run can be replayed: each with ``probability``, one of :data:`CHAOS_KINDS` that
makes sense for its verb (a 409 conflict on an update, 409 AlreadyExists after applying
a create, a write applied then the connection dropped, a 410 on a watch, 429 with
Retry-After, 500, 503, no answer before the client's timeout, the connection reset).
"""

from __future__ import annotations

import random
import threading
from dataclasses import dataclass, replace

from datalocality_testcluster.sandbox.apierrors import ApiError


@dataclass
class Fault:
    """One injected failure, consumed ``times`` times by matching requests."""

    verb: str | None = None
    resource: str | None = None
    name: str | None = None
    subresource: str | None = None
    code: int = 500
    times: int = 1
    after: bool = False
    drop: bool = False
    retry_after: int = 1
    message: str = "injected by the sandbox"
    reason: str | None = None  # the Status reason, when not the code's usual one
    reset: bool = False  # close the connection before applying (a reset)
    hold: float = 0.0  # seconds to wait before answering (the client's timeout passes)

    def matches(self, verb: str, resource: str, name: str | None, subresource: str | None) -> bool:
        """Whether a request is one this fault is for."""
        return (
            self.verb in (None, verb)
            and self.resource in (None, resource)
            and self.name in (None, name)
            and self.subresource == subresource
        )

    def error(self) -> ApiError:
        """The failure as the API server would send it."""
        retry = self.code in {429, 503}
        headers = {"Retry-After": str(self.retry_after)} if retry else {}
        details = {"retryAfterSeconds": self.retry_after} if retry else None
        return ApiError(
            self.code, self.message, reason=self.reason, details=details, headers=headers
        )


WRITES = frozenset({"create", "update", "patch", "delete", "deletecollection"})
ANSWERED = WRITES | {"get", "list"}  # a watch streams: it is never held or dropped
# name -> (the verbs it applies to, None for any; the fault)
CHAOS_KINDS: dict[str, tuple[frozenset[str] | None, Fault]] = {
    "conflict": (frozenset({"update", "patch"}), Fault(code=409)),
    "already-exists": (
        frozenset({"create"}),
        Fault(code=409, after=True, reason="AlreadyExists", message="already exists"),
    ),
    "applied-then-dropped": (WRITES, Fault(drop=True)),
    "gone-on-watch": (frozenset({"watch"}), Fault(code=410)),
    "throttled": (None, Fault(code=429)),
    "internal-error": (None, Fault(code=500)),
    "unavailable": (None, Fault(code=503)),
    "timeout": (ANSWERED, Fault(drop=True, hold=-1.0)),  # hold: the chaos's own timeout
    "reset": (ANSWERED, Fault(reset=True)),
}


@dataclass
class Chaos:
    """Random faults: a seeded generator, the probability, and the kinds drawn from."""

    rng: random.Random
    probability: float
    kinds: tuple[str, ...]
    hold: float  # seconds a "timeout" holds its answer: past the client's request timeout

    def draw(self, verb: str) -> tuple[str, Fault] | None:
        """A fault for one request, or None (most requests)."""
        if self.rng.random() >= self.probability:
            return None
        fitting = [
            kind for kind in self.kinds if (verbs := CHAOS_KINDS[kind][0]) is None or verb in verbs
        ]
        if not fitting:
            return None
        kind = self.rng.choice(fitting)
        fault = replace(CHAOS_KINDS[kind][1], times=1)
        if fault.hold < 0:
            fault.hold = self.hold
        return kind, fault


class Faults:
    """The pending injected faults and a record of those that fired."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._pending: list[Fault] = []
        self._chaos: Chaos | None = None
        self.fired: list[tuple[str, str, str | None, int]] = []
        self.chaos_fired: list[tuple[str, str, str]] = []  # (kind, verb, resource)

    def inject(
        self,
        verb: str | None = None,
        resource: str | None = None,
        *,
        name: str | None = None,
        subresource: str | None = None,
        code: int = 500,
        times: int = 1,
        after: bool = False,
        drop: bool = False,
        retry_after: int = 1,
    ) -> Fault:
        """Queue a fault for the next ``times`` matching requests."""
        fault = Fault(verb, resource, name, subresource, code, times, after, drop, retry_after)
        with self._lock:
            self._pending.append(fault)
        return fault

    def take(
        self, verb: str, resource: str, name: str | None, subresource: str | None
    ) -> Fault | None:
        """The first pending fault matching the request, consumed once."""
        with self._lock:
            for fault in self._pending:
                if fault.matches(verb, resource, name, subresource):
                    fault.times -= 1
                    if fault.times <= 0:
                        self._pending.remove(fault)
                    self.fired.append((verb, resource, name, fault.code))
                    return fault
            if self._chaos is not None:
                drawn = self._chaos.draw(verb)
                if drawn is not None:
                    self.chaos_fired.append((drawn[0], verb, resource))
                    return drawn[1]
        return None

    def chaos(
        self,
        seed: int | str,
        probability: float,
        kinds: tuple[str, ...] = tuple(CHAOS_KINDS),
        *,
        hold: float = 0.3,
    ) -> None:
        """Fault every later request at random (see the module's docstring)."""
        unknown = set(kinds) - set(CHAOS_KINDS)
        if unknown:
            raise ValueError(f"unknown chaos kinds {sorted(unknown)}; use {list(CHAOS_KINDS)}")
        with self._lock:
            self._chaos = Chaos(random.Random(seed), probability, kinds, hold)

    def clear(self) -> None:
        """Forget every pending fault."""
        with self._lock:
            self._pending.clear()
            self._chaos = None
