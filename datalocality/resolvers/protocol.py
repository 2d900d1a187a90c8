"""The resolver contract: what a resolver is, how one is made, and what it is handed.

A resolver turns a :class:`~datalocality.model.DataInput` into a
:class:`~datalocality.model.DataSource` with locality and chunks. It is async so that one
task resolves all its inputs concurrently and Airflow triggers can call it. A resolver is
made by a factory — any object with ``from_config(config, context)``, usually the resolver
class itself — registered under the entry-point group ``datalocality.resolvers``.
"""

from __future__ import annotations

import os
import random
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal, Protocol, runtime_checkable

import anyio

from datalocality.errors import (
    DataSourceNotFound,
    ResolutionError,
    ResolverConfigError,
    SpecError,
)
from datalocality.model import DataInput, DataSource
from datalocality.resolvers.http.breaker import BreakerBoard

if TYPE_CHECKING:
    import httpx

HealthState = Literal["ok", "unavailable", "misconfigured", "unconfigured"]


@dataclass(frozen=True)
class HealthStatus:
    """A resolver's health: ``ok``, ``unavailable`` (may recover), ``misconfigured`` (will not
    recover until the config or credentials change) or ``unconfigured`` (no config given)."""

    state: HealthState
    detail: str = ""

    @property
    def ok(self) -> bool:
        """Whether the resolver can resolve now."""
        return self.state == "ok"


@runtime_checkable
class Resolver(Protocol):
    """Resolves data inputs of one data system into data sources."""

    @property
    def name(self) -> str:
        """The data system's name (``DataInput.system``); resolvers give it as a ClassVar."""
        ...

    async def resolve(self, data_input: DataInput) -> DataSource:
        """Locate ``data_input``: chunks with sizes and locations, and the source's locality.

        Raises DataSourceNotFound when the system says the data does not exist,
        ResolverConfigError when retrying cannot help (bad credentials, bad config),
        ResolverUnavailable when it may (system down, deadline passed) and
        ResolverResponseError when the answer was unusable.
        """
        ...

    async def health(self) -> HealthStatus:
        """Probe the system cheaply; never raises."""
        ...


class ResolverFactory(Protocol):
    """What an entry point in ``datalocality.resolvers`` loads: builds configured resolvers."""

    def from_config(self, config: Mapping[str, Any], context: ResolverContext) -> Resolver:
        """Validate ``config`` (raising SpecError naming the field) and build a resolver."""
        ...


async def _sleep(seconds: float) -> None:
    await anyio.sleep(seconds)


@dataclass(frozen=True)
class ResolverContext:
    """What resolvers get from their host rather than from config; tests inject their own.

    ``env`` is where SecretRefs with ``env`` are read; ``transport`` replaces httpx's network
    transport (tests pass ``httpx.MockTransport``); ``sleep``, ``clock`` and ``rng`` drive
    backoff, the breaker's cool-down and jitter; ``breakers`` is shared so that every
    resolver talking to one endpoint shares its breaker.
    """

    env: Mapping[str, str] = field(default_factory=lambda: os.environ)
    transport: httpx.AsyncBaseTransport | None = None
    sleep: Callable[[float], Awaitable[None]] = _sleep
    clock: Callable[[], float] = time.monotonic
    rng: random.Random = field(default_factory=random.Random)
    breakers: BreakerBoard = field(default_factory=BreakerBoard)


async def fetch_probe(probe: Callable[[], Awaitable[str]]) -> HealthStatus:
    """Run a resolver's health probe and turn its outcome into a HealthStatus.

    The probe returns a detail line when healthy; config and credential errors read as
    ``misconfigured`` (a 404 on a health path too: the endpoint is wrong), every other
    resolution error as ``unavailable``.
    """
    try:
        detail = await probe()
    except (ResolverConfigError, SpecError, DataSourceNotFound) as exc:
        return HealthStatus("misconfigured", str(exc))
    except ResolutionError as exc:
        return HealthStatus("unavailable", str(exc))
    return HealthStatus("ok", detail)
