"""The resolver registry: the built-ins plus installed entry points of ``datalocality.resolvers``.

Only installed distributions are consulted (``importlib.metadata``); nothing is downloaded,
and a config names a registered resolver, never an import path. Built-in names are
reserved: a third-party entry point claiming one is ignored with a warning. Factories are
imported on first use, so listing the registry imports no data-system client.
"""

from __future__ import annotations

import importlib
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from importlib.metadata import EntryPoint, entry_points
from typing import Any, Final, cast

from datalocality.errors import ResolverConfigError, SpecError, UnknownResolver
from datalocality.resolvers.credentials import LOGGER
from datalocality.resolvers.protocol import Resolver, ResolverContext, ResolverFactory

GROUP: Final = "datalocality.resolvers"
BUILTINS: Final[Mapping[str, str]] = {
    "amoro": "datalocality.resolvers.builtin.amoro:AmoroResolver",
    "iceberg": "datalocality.resolvers.builtin.iceberg:IcebergResolver",
    "objectstore": "datalocality.resolvers.builtin.objectstore:ObjectStoreResolver",
    "static": "datalocality.resolvers.builtin.static:StaticResolver",
    "vineyard": "datalocality.resolvers.builtin.vineyard:VineyardResolver",
    "webhdfs": "datalocality.resolvers.builtin.webhdfs:WebHdfsResolver",
}
_NAME: Final = re.compile(r"[a-z][a-z0-9-]{0,62}")


@dataclass(frozen=True)
class RegistryEntry:
    """A registered resolver: its name, where it comes from and the factory's import path."""

    name: str
    origin: str
    target: str

    def load(self) -> ResolverFactory:
        """Import the factory; a broken plugin is a ResolverConfigError naming it."""
        module_name, _, attr = self.target.partition(":")
        try:
            obj: Any = importlib.import_module(module_name)
            for part in attr.split("."):
                obj = getattr(obj, part)
        except Exception as exc:
            raise ResolverConfigError(
                f"resolver {self.name!r} ({self.origin}) failed to load {self.target}: "
                f"{type(exc).__name__}: {exc}"
            ) from None
        if not callable(getattr(obj, "from_config", None)):
            raise ResolverConfigError(
                f"resolver {self.name!r} ({self.origin}): {self.target} has no from_config()"
            )
        return cast(ResolverFactory, obj)


class ResolverRegistry:
    """Resolver factories by name."""

    def __init__(self, entries: Iterable[RegistryEntry]) -> None:
        self._entries = {entry.name: entry for entry in entries}

    @classmethod
    def discover(cls, points: Iterable[EntryPoint] | None = None) -> ResolverRegistry:
        """The built-ins plus the installed entry points (or ``points``, for tests)."""
        entries = [RegistryEntry(name, "built-in", target) for name, target in BUILTINS.items()]
        taken = set(BUILTINS)
        found = entry_points(group=GROUP) if points is None else points
        for point in sorted(found, key=lambda p: (p.name, _dist_name(p))):
            origin = f"entry point from {_dist_name(point)}"
            if not _NAME.fullmatch(point.name):
                LOGGER.warning("ignoring resolver %r (%s): not a valid name", point.name, origin)
            elif point.name in taken:
                LOGGER.warning(
                    "ignoring resolver %r (%s): the name is already registered", point.name, origin
                )
            else:
                taken.add(point.name)
                entries.append(RegistryEntry(point.name, origin, point.value))
        return cls(entries)

    def names(self) -> list[str]:
        """Registered names, sorted."""
        return sorted(self._entries)

    def entries(self) -> list[RegistryEntry]:
        """Registered entries, sorted by name."""
        return [self._entries[name] for name in self.names()]

    def entry(self, name: str) -> RegistryEntry:
        """The entry for ``name``; UnknownResolver lists the registered ones."""
        try:
            return self._entries[name]
        except KeyError:
            raise UnknownResolver(
                f"no resolver named {name!r}; registered: {', '.join(self.names())}"
            ) from None

    def create(
        self, name: str, config: Mapping[str, Any], context: ResolverContext, *, field: str = ""
    ) -> Resolver:
        """Build resolver ``name`` from ``config``; SpecError fields are prefixed by ``field``."""
        factory = self.entry(name).load()
        try:
            resolver = factory.from_config(config, context)
        except SpecError as exc:
            if not field:
                raise
            inner = f".{exc.field}" if exc.field and not exc.field.startswith("[") else exc.field
            raise SpecError(f"{field}{inner}", exc.value, exc.reason) from None
        if not isinstance(resolver, Resolver):
            raise ResolverConfigError(
                f"resolver {name!r}: from_config() returned {type(resolver).__name__}, "
                "which lacks name, resolve() or health()"
            )
        return resolver


def _dist_name(point: EntryPoint) -> str:
    dist = point.dist
    return f"{dist.name} {dist.version}" if dist is not None else "an unknown distribution"
