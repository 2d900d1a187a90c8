"""Fault injection: make chosen requests fail the way a struggling API server does.

``sandbox.faults.inject(verb="create", resource="pods", code=500)`` fails the next
matching request before it is applied; ``after=True`` applies it and then fails
(the write happened but the client is told otherwise); ``drop=True`` applies it and
closes the connection without an answer (an ambiguous write, as a timeout). ``code``
429 or 503 sends ``Retry-After`` (which urllib3, under the kubernetes client, honours
by retrying on its own); a 410 on a watch arrives as an ``ERROR`` event, as from a
real server. Verbs are Kubernetes verbs: get, list, watch, create, update, patch,
delete, deletecollection (a subresource is matched with ``subresource=``).
"""

from __future__ import annotations

import threading
from dataclasses import dataclass

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
        return ApiError(self.code, self.message, details=details, headers=headers)


class Faults:
    """The pending injected faults and a record of those that fired."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._pending: list[Fault] = []
        self.fired: list[tuple[str, str, str | None, int]] = []

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
        return None

    def clear(self) -> None:
        """Forget every pending fault."""
        with self._lock:
            self._pending.clear()
