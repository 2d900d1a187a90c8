"""A set of configured resolvers, one per data system, with the TTL cache in front.

Config is a mapping from system name to that system's resolver config; ``resolver`` picks
the registered resolver (default: the system's own name) and ``cacheTtl`` the cache TTL in
seconds (default 300; 0 disables)::

    iceberg:
      catalog: {type: sql, uri: "sqlite:////data/catalog.db", warehouse: "file:///data/wh"}
      locationMapping: {"file:///data/wh/": zone:a}
    hive:                       # a system served by the static resolver
      resolver: static
      inventory: /etc/datalocality/hive-sources.yaml

A registered system with no config is built from an empty config on first use (the
objectstore resolver works that way on local files); one that needs config raises
ResolverConfigError saying which field is missing.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Any, Final

import anyio
import yaml

from datalocality.errors import ResolverConfigError, SpecError, UnknownResolver
from datalocality.model import DataInput, DataSource
from datalocality.resolvers.cache import TTLCache
from datalocality.resolvers.concurrency import run_each
from datalocality.resolvers.credentials import redact
from datalocality.resolvers.protocol import HealthStatus, Resolver, ResolverContext
from datalocality.resolvers.registry import ResolverRegistry

DEFAULT_TTL: Final = 300.0
MAX_TTL: Final = 1e9  # about 30 years: "forever" in practice, and still a finite float
_SET_KEYS: Final = ("resolver", "cacheTtl", "cache_ttl")


@dataclass(frozen=True)
class SystemConfig:
    """One system's entry: which resolver, the cache TTL, and the resolver's own config."""

    system: str
    resolver: str
    cache_ttl: float
    config: Mapping[str, Any]


def parse_system_config(system: str, raw: object) -> SystemConfig:
    """Split a system's entry into the set's keys and the resolver's config."""
    if raw is None:
        raw = {}
    if not isinstance(raw, Mapping):
        raise SpecError(system, raw, "a system's config must be a mapping")
    resolver = raw.get("resolver", system)
    if not isinstance(resolver, str) or not resolver:
        raise SpecError(f"{system}.resolver", resolver, "must be a registered resolver name")
    ttl = raw.get("cacheTtl", raw.get("cache_ttl", DEFAULT_TTL))
    if isinstance(ttl, bool) or not isinstance(ttl, int | float) or not 0 <= ttl <= MAX_TTL:
        raise SpecError(f"{system}.cacheTtl", ttl, f"must be a number of seconds, 0 to {MAX_TTL:g}")
    rest = {key: value for key, value in raw.items() if key not in _SET_KEYS}
    return SystemConfig(system, resolver, float(ttl), rest)


def fetch_resolver_config(path: Path) -> dict[str, Any]:
    """Read a resolvers config file (YAML or JSON): a mapping of system to config."""
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ResolverConfigError(f"cannot read {path}: {type(exc).__name__}") from None
    except yaml.YAMLError as exc:
        raise SpecError(str(path), "", f"not valid YAML or JSON: {exc}") from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise SpecError(str(path), type(data).__name__, "must be a mapping of system to config")
    return data


class ResolverSet:
    """Configured resolvers by system; resolves inputs through the TTL cache."""

    def __init__(
        self,
        systems: Mapping[str, SystemConfig],
        *,
        registry: ResolverRegistry | None = None,
        context: ResolverContext | None = None,
    ) -> None:
        self.registry = registry or ResolverRegistry.discover()
        self.context = context or ResolverContext()
        self._systems = dict(systems)
        self._resolvers: dict[str, Resolver] = {}
        self._cache: TTLCache[DataSource] = TTLCache(self.context.clock)

    @classmethod
    def from_config(
        cls,
        config: Mapping[str, Any] | None = None,
        *,
        registry: ResolverRegistry | None = None,
        context: ResolverContext | None = None,
    ) -> ResolverSet:
        """Validate every system's config now (SpecError names ``system.field``)."""
        systems = {name: parse_system_config(name, raw) for name, raw in (config or {}).items()}
        resolvers = cls(systems, registry=registry, context=context)
        for name in sorted(systems):
            resolvers.resolver_for(name)
        return resolvers

    def resolver_for(self, system: str) -> Resolver:
        """The resolver of ``system``, built on first use."""
        resolver = self._resolvers.get(system)
        if resolver is not None:
            return resolver
        entry = self._systems.get(system)
        if entry is None:
            if system not in self.registry.names():
                raise UnknownResolver(
                    f"no resolver for system {system!r}; registered: "
                    f"{', '.join(self.registry.names())}; configured systems: "
                    f"{', '.join(sorted(self._systems)) or 'none'}"
                )
            entry = parse_system_config(system, {})
            try:
                resolver = self.registry.create(system, {}, self.context)
            except SpecError as exc:
                raise ResolverConfigError(f"system {system!r} needs configuration: {exc}") from None
        else:
            try:
                resolver = self.registry.create(
                    entry.resolver, entry.config, self.context, field=system
                )
            except UnknownResolver as exc:  # named by the config's field
                raise UnknownResolver(f"{system}.resolver: {exc}") from None
        self._systems[system] = entry
        self._resolvers[system] = resolver
        return resolver

    async def resolve(self, data_input: DataInput) -> DataSource:
        """Resolve one input, served from the cache while fresh."""
        resolver = self.resolver_for(data_input.system)
        ttl = self._systems[data_input.system].cache_ttl
        key = f"{data_input.key}#{'required' if data_input.require_locality else 'preferred'}"
        return await self._cache.get_or_fetch(key, ttl, lambda: resolver.resolve(data_input))

    async def resolve_all(self, inputs: Sequence[DataInput]) -> list[DataSource]:
        """Resolve inputs concurrently; results in input order.

        If any fail, the others are cancelled and the first failure in input order raises.
        """
        results: list[DataSource | None] = [None] * len(inputs)

        async def one(indexed: tuple[int, DataInput]) -> None:
            results[indexed[0]] = await self.resolve(indexed[1])

        await run_each(list(enumerate(inputs)), one)
        return [source for source in results if source is not None]

    async def health(self) -> dict[str, HealthStatus]:
        """Health of every configured system, probed concurrently."""
        report: dict[str, HealthStatus] = {}

        async def probe(system: str) -> None:
            report[system] = await fetch_health(self.resolver_for(system))

        async with anyio.create_task_group() as group:
            for system in sorted(self._systems):
                group.start_soon(probe, system)
        return dict(sorted(report.items()))

    async def aclose(self) -> None:
        """Close resolvers that hold connections (those with an ``aclose()``)."""
        for resolver in self._resolvers.values():
            close = getattr(resolver, "aclose", None)
            if close is not None:
                await close()
        self._resolvers.clear()

    async def __aenter__(self) -> ResolverSet:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()


async def fetch_health(resolver: Resolver) -> HealthStatus:
    """A resolver's health; a health() that raises is reported, never propagated."""
    try:
        return await resolver.health()
    except Exception as exc:
        return HealthStatus("unavailable", redact(f"health() raised {type(exc).__name__}: {exc}"))
