"""``static``: data sources declared in an inventory (Volcano Global's static binding).

Config: ``inventory`` (a YAML/JSON file holding a list of DataSources, or ``{sources:
[...]}``) and/or ``sources`` inline. An input matches the entry with the same system,
dataSourceType and dataSourceName. The file is re-read on every resolution (the TTL cache
in front keeps that cheap), so editing it takes effect without a restart.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any, ClassVar

import yaml
from pydantic import Field, model_validator

from datalocality.errors import DataSourceNotFound, ResolverConfigError, SpecError
from datalocality.model import DataInput, DataSource, Locality
from datalocality.resolvers.config import ResolverConfig
from datalocality.resolvers.deadline import run_blocking, within_deadline
from datalocality.resolvers.location import build_locality
from datalocality.resolvers.protocol import HealthStatus, ResolverContext


class StaticConfig(ResolverConfig):
    """An inventory file and/or inline sources; at least one of them."""

    inventory: Path | None = None
    sources: tuple[DataSource, ...] = Field(default=())

    @model_validator(mode="after")
    def _something(self) -> StaticConfig:
        if self.inventory is None and not self.sources:
            raise SpecError("inventory", None, "give an inventory file or inline sources")
        return self


def parse_inventory(data: object, where: str) -> tuple[DataSource, ...]:
    """DataSources from parsed YAML: a list, or a mapping with a ``sources`` list."""
    if isinstance(data, dict) and set(data) == {"sources"}:
        data = data["sources"]
    if not isinstance(data, list):
        raise SpecError(where, type(data).__name__, "an inventory is a list of data sources")
    sources = []
    for index, item in enumerate(data):
        try:
            sources.append(DataSource.parse(item))
        except SpecError as exc:
            raise SpecError(f"{where}[{index}].{exc.field}", exc.value, exc.reason) from None
    return tuple(sources)


def fetch_inventory(path: Path) -> tuple[DataSource, ...]:
    """Read and validate the inventory file."""
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ResolverConfigError(f"static: cannot read {path} ({type(exc).__name__})") from None
    except yaml.YAMLError as exc:
        raise ResolverConfigError(f"static: {path} is not valid YAML or JSON ({exc})") from None
    return parse_inventory(data, str(path))


class StaticResolver:
    """Serves DataSources from an inventory."""

    name: ClassVar[str] = "static"

    def __init__(self, config: StaticConfig) -> None:
        self.config = config

    @classmethod
    def from_config(cls, config: Mapping[str, Any], context: ResolverContext) -> StaticResolver:
        """Validate the config; the inventory file is read when resolving."""
        del context
        return cls(StaticConfig.parse(dict(config)))

    async def _sources(self) -> tuple[DataSource, ...]:
        path = self.config.inventory
        loaded = await run_blocking(lambda: fetch_inventory(path)) if path is not None else ()
        return (*self.config.sources, *loaded)

    async def resolve(self, data_input: DataInput) -> DataSource:
        """The inventory entry with the input's system, type and name."""
        async with within_deadline(self.config.deadline, f"static {data_input.key}"):
            sources = await self._sources()
        for source in sources:
            if (source.system, source.data_source_type, source.name) == (
                data_input.system,
                data_input.data_source_type,
                data_input.name,
            ):
                locality = source.locality
                if locality == Locality():  # undeclared: what the chunks say
                    locality = build_locality(source.chunks)
                return source.model_copy(
                    update={
                        "attributes": {**source.attributes, **data_input.attributes},
                        "require_locality": data_input.require_locality or source.require_locality,
                        "locality": locality,
                    }
                )
        raise DataSourceNotFound(
            f"static: no {data_input.data_source_type} {data_input.name!r} of system "
            f"{data_input.system!r} among {len(sources)} declared source(s)"
        )

    async def health(self) -> HealthStatus:
        """OK when the inventory reads and validates."""
        try:
            sources = await self._sources()
        except (ResolverConfigError, SpecError) as exc:
            return HealthStatus("misconfigured", str(exc))
        return HealthStatus("ok", f"{len(sources)} declared source(s)")
