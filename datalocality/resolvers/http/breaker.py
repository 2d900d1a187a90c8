"""A circuit breaker per endpoint: closed → open after N failures → half-open after a cool-down.

Closed: calls go through; consecutive failures are counted and a success resets the
count. Open: calls fail fast with :class:`~datalocality.errors.CircuitOpen` and send no
request. Half-open (the cool-down has passed): exactly one probe call goes through while
others keep failing fast; its success closes the breaker, its failure opens it again for
another cool-down. The clock is injected, so tests move time instead of sleeping.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Literal

from datalocality.errors import CircuitOpen

BreakerState = Literal["closed", "open", "half-open"]


class CircuitBreaker:
    """The breaker of one endpoint (thread-safe; shared by every resolver using it)."""

    def __init__(
        self, endpoint: str, *, threshold: int, cooldown: float, clock: Callable[[], float]
    ) -> None:
        self.endpoint = endpoint
        self.threshold = threshold
        self.cooldown = cooldown
        self._clock = clock
        self._lock = threading.Lock()
        self._failures = 0
        self._opened_at: float | None = None
        self._probing = False

    @property
    def state(self) -> BreakerState:
        """The state now (an open breaker whose cool-down passed reads as half-open)."""
        with self._lock:
            return self._state()

    def _state(self) -> BreakerState:
        if self._opened_at is None:
            return "closed"
        if self._clock() - self._opened_at >= self.cooldown:
            return "half-open"
        return "open"

    def before_call(self) -> None:
        """Admit a call or raise CircuitOpen; in half-open, admit only the one probe."""
        with self._lock:
            state = self._state()
            if state == "closed":
                return
            if state == "half-open" and not self._probing:
                self._probing = True
                return
            assert self._opened_at is not None
            wait = max(0.0, self.cooldown - (self._clock() - self._opened_at))
        raise CircuitOpen(
            f"{self.endpoint}: circuit open after {self.threshold} consecutive failures; "
            + (f"next probe in {wait:.1f} s" if wait > 0 else "a probe is in flight")
        )

    def record_success(self) -> None:
        """The endpoint answered: close the breaker and reset the count."""
        with self._lock:
            self._failures = 0
            self._opened_at = None
            self._probing = False

    def record_failure(self) -> None:
        """The endpoint failed (connection error, timeout, 429 or 5xx)."""
        with self._lock:
            if self._probing or self._opened_at is not None:
                self._opened_at = self._clock()
                self._probing = False
                return
            self._failures += 1
            if self._failures >= self.threshold:
                self._opened_at = self._clock()


class BreakerBoard:
    """The breakers of all endpoints, keyed by ``scheme://host:port``."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._breakers: dict[str, CircuitBreaker] = {}

    def get(
        self, endpoint: str, *, threshold: int, cooldown: float, clock: Callable[[], float]
    ) -> CircuitBreaker:
        """The breaker for ``endpoint``, created on first use with the given policy."""
        with self._lock:
            breaker = self._breakers.get(endpoint)
            if breaker is None:
                breaker = CircuitBreaker(
                    endpoint, threshold=threshold, cooldown=cooldown, clock=clock
                )
                self._breakers[endpoint] = breaker
            return breaker
