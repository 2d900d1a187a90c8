"""One error tree for the whole provider, rooted in :class:`DataLocalityError`.

Callers catch the branch they can act on: bad input (:class:`SpecError`, also a
``ValueError``), data that cannot be found (:class:`ResolutionError`), placement that
cannot be satisfied (:class:`InfeasiblePlacement`) or Kubernetes trouble
(:class:`KubernetesError`).

Every error survives pickling (Airflow pickles exceptions across processes). Unpickling
calls ``cls(*self.args)``, so a class whose ``__init__`` cannot take its own ``args``
back (it builds one message from several fields) defines ``__reduce__``.
"""

from __future__ import annotations

import reprlib
from typing import Any


class _ValueRepr(reprlib.Repr):
    """repr() cut short: a message names a value, it does not reproduce 10 MB of it, and a
    value nested thousands deep or an int of thousands of digits cannot break it."""

    def __init__(self) -> None:
        super().__init__()
        self.maxstring = self.maxother = 120
        self.maxlong = 60
        self.maxlevel = 4
        self.maxlist = self.maxtuple = self.maxdict = self.maxset = 12

    def repr_int(self, x: int, level: int) -> str:
        if x.bit_length() > 192:  # repr() of a 4,300-digit int raises ValueError
            return f"<an integer of about {int(x.bit_length() * 0.30103) + 1} digits>"
        return super().repr_int(x, level)

    def repr_str(self, x: str, level: int) -> str:
        if len(x) <= self.maxstring:
            return repr(x)
        return f"{repr(x[: self.maxstring - 20])[:-1]}...' ({len(x):,} characters)"


def show_value(value: object) -> str:
    """How an error message shows a value: its repr, bounded in length and depth.

    >>> show_value("x" * 1000)[-30:]
    "xxxxxxx...' (1,000 characters)"
    >>> show_value(10**400)
    '<an integer of about 401 digits>'
    """
    return _ValueRepr().repr(value)


class DataLocalityError(Exception):
    """Root of every error this package raises on purpose."""


class PlacementNotRecorded(DataLocalityError, LookupError):
    """A task instance has no placement to show: not this provider's task, or its plan
    task has not pushed a plan in that run."""


class SpecError(DataLocalityError, ValueError):
    """Invalid user input; the message names the field and the offending value."""

    def __init__(self, field: str, value: object, reason: str) -> None:
        self.field = field
        self.value = value
        self.reason = reason
        super().__init__(f"{field}: {reason} (got {show_value(value)})")

    def __reduce__(self) -> tuple[Any, ...]:
        return type(self), (self.field, self.value, self.reason), self.__dict__


class ResolutionError(DataLocalityError):
    """A data dependency could not be resolved to locations."""


class DataSourceNotFound(ResolutionError):
    """The data system answered that the data does not exist."""


class ResolverConfigError(ResolutionError):
    """A resolver is misconfigured or not authorised; retrying will not help."""


class ResolverUnavailable(ResolutionError):
    """The data system could not be reached or kept failing; retrying later may help."""


class UnknownResolver(ResolutionError):
    """No resolver is registered for the requested system."""


class ResolverResponseError(ResolutionError):
    """The data system answered with something unusable: not JSON, off-schema, too large.

    ``status`` is the HTTP status (None outside HTTP) and ``excerpt`` a short, redacted start
    of the body, so the error can be reported without leaking what the body carried.
    """

    def __init__(self, message: str, *, status: int | None = None, excerpt: str = "") -> None:
        self.status = status
        self.excerpt = excerpt
        detail = f" (status {status})" if status is not None else ""
        tail = f": {excerpt!r}" if excerpt else ""
        super().__init__(f"{message}{detail}{tail}")


class ResponseTooLarge(ResolverResponseError):
    """A response body exceeded the configured size cap and was refused unread."""


class CircuitOpen(ResolverUnavailable):
    """The endpoint's circuit breaker is open: the call failed fast without a request."""


class PlacementError(DataLocalityError):
    """Placement could not produce a plan."""


class InfeasiblePlacement(PlacementError):
    """The request cannot be satisfied (capacity, hard constraints); ``reason`` says why."""

    def __init__(self, reason: str) -> None:
        self.reason = reason
        super().__init__(reason)


class UnknownStrategy(PlacementError, ValueError):
    """The requested placement strategy does not exist."""


class KubernetesError(DataLocalityError):
    """A Kubernetes API call failed."""


class ObjectConflict(KubernetesError):
    """An object with our deterministic name exists but is not ours to adopt."""


class ApiRejected(KubernetesError):
    """The API server refused the request for good (400, 403, 404, 422); retrying won't help."""

    def __init__(self, status: int, reason: str, message: str = "") -> None:
        self.status = status
        self.reason = reason
        self.message = message
        super().__init__(f"{status} {reason}" + (f": {message}" if message else ""))

    def __reduce__(self) -> tuple[Any, ...]:
        return type(self), (self.status, self.reason, self.message), self.__dict__


class ObjectNotFound(ApiRejected):
    """The object does not exist (404)."""


class ObjectTooLarge(KubernetesError):
    """An object is larger than the cluster stores (etcd's request limit); nothing was sent."""

    def __init__(self, kind: str, name: str, size: int, limit: int) -> None:
        self.kind, self.name, self.size, self.limit = kind, name, size, limit
        super().__init__(kind, name, size, limit)

    def __str__(self) -> str:
        return (
            f"{self.kind} {self.name} is {self.size:,} bytes as JSON; a cluster stores at most"
            f" {self.limit:,} bytes per object (etcd's request limit): it was not written"
        )


class IncompleteSlices(KubernetesError):
    """A DataSource's chunks cannot be read back: a slice is missing, duplicated, or the
    slices do not add up to the source's chunk hash (a writer stopped half-way)."""

    def __init__(self, source: str, reason: str) -> None:
        self.source, self.reason = source, reason
        super().__init__(f"DataSource {source}: {reason}")

    def __reduce__(self) -> tuple[Any, ...]:
        return type(self), (self.source, self.reason), self.__dict__


class SourceReplaced(KubernetesError):
    """A DataSource was deleted, began terminating or was recreated while its slices were
    written: its new chunks were not published on it."""


class IncompleteChunkLists(KubernetesError):
    """A plan's chunk lists cannot be read back as its summary names them: a ConfigMap or
    key is missing, or holds other lists (a later try of the plan task rewrote them)."""

    def __init__(self, configmap: str, reason: str) -> None:
        self.configmap, self.reason = configmap, reason
        super().__init__(f"chunk-list ConfigMap {configmap}: {reason}")

    def __reduce__(self) -> tuple[Any, ...]:
        return type(self), (self.configmap, self.reason), self.__dict__


class ApiUnavailable(KubernetesError):
    """The API server kept failing (429, 5xx, timeouts, conflicts) until retries ran out."""
