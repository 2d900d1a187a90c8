"""One error tree for the whole provider, rooted in :class:`DataLocalityError`.

Callers catch the branch they can act on: bad input (:class:`SpecError`, also a
``ValueError``), data that cannot be found (:class:`ResolutionError`), placement that
cannot be satisfied (:class:`InfeasiblePlacement`) or Kubernetes trouble
(:class:`KubernetesError`).
"""

from __future__ import annotations


class DataLocalityError(Exception):
    """Root of every error this package raises on purpose."""


class SpecError(DataLocalityError, ValueError):
    """Invalid user input; the message names the field and the offending value."""

    def __init__(self, field: str, value: object, reason: str) -> None:
        self.field = field
        self.value = value
        self.reason = reason
        super().__init__(f"{field}: {reason} (got {value!r})")


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
