"""A minimal third-party resolver for datalocality: chunks listed in a CSV manifest.

The whole contract is one class with ``name``, ``from_config``, ``async resolve`` and
``async health``, registered in pyproject.toml under the ``datalocality.resolvers``
entry-point group. A manifest ``<root>/<name>.csv`` has one chunk per row::

    chunk_id,size,locations
    part-0,1Gi,node-1;node-2
    part-1,512Mi,zone:eu-1a
"""

from __future__ import annotations

import csv
import io
from collections.abc import Mapping
from pathlib import Path
from typing import Any, ClassVar

import anyio.to_thread

from datalocality.errors import DataSourceNotFound, ResolverResponseError, SpecError
from datalocality.model import Chunk, DataInput, DataSource
from datalocality.resolvers import ConfigModel, HealthStatus, ResolverContext, build_locality


class CsvManifestConfig(ConfigModel):
    """Where the manifests are."""

    root: Path


class CsvManifestResolver:
    """Resolves ``name`` to the chunks listed in ``<root>/<name>.csv``."""

    name: ClassVar[str] = "csv-manifest"

    def __init__(self, config: CsvManifestConfig) -> None:
        self.config = config

    @classmethod
    def from_config(
        cls, config: Mapping[str, Any], context: ResolverContext
    ) -> CsvManifestResolver:
        """Validate the config (a bad one raises SpecError naming the field)."""
        return cls(CsvManifestConfig.parse(dict(config)))

    async def resolve(self, data_input: DataInput) -> DataSource:
        """The manifest's rows as chunks."""
        path = self.config.root / f"{data_input.name}.csv"
        if "/" in data_input.name or not path.is_file():
            raise DataSourceNotFound(f"csv-manifest: no manifest {path}")
        text = await anyio.to_thread.run_sync(path.read_text)
        chunks = []
        for line, row in enumerate(csv.DictReader(io.StringIO(text)), start=2):
            try:
                locations = [loc for loc in (row.get("locations") or "").split(";") if loc]
                chunks.append(Chunk(id=row["chunk_id"], size=row["size"], locations=locations))
            except (KeyError, SpecError) as exc:
                raise ResolverResponseError(f"csv-manifest: {path}:{line}: {exc}") from None
        return DataSource.for_input(data_input, chunks=chunks, locality=build_locality(chunks))

    async def health(self) -> HealthStatus:
        """OK while the manifest directory exists."""
        if not self.config.root.is_dir():
            return HealthStatus("misconfigured", f"{self.config.root} is not a directory")
        return HealthStatus("ok", f"manifests in {self.config.root}")
