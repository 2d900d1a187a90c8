"""``iceberg``: Apache Iceberg tables through pyiceberg (REST, SQL, Hive, Glue catalogs).

A name is ``namespace.table`` (a leading ``<catalogName>.`` is dropped). The table is
scanned — at its current snapshot, or the one named by the input attribute
``snapshot_id`` or ``ref`` (a branch or tag), filtered by ``row_filter`` (pyiceberg's
expression syntax, e.g. ``dt >= '2026-11-01'``) — and every data file the scan plans
becomes one chunk with its size, located through ``locationMapping`` by its path.

Config: ``catalog`` holds pyiceberg catalog properties (``type``, ``uri``, ``warehouse``,
``s3.endpoint``...) and must hold no credential; ``secretProperties`` maps property names to
SecretRefs (``s3.secret-access-key: {env: AWS_SECRET_ACCESS_KEY}``). The catalog is built
from exactly these properties: no ``.pyiceberg.yaml`` and no ``PYICEBERG_*`` variable is
read. pyiceberg is imported on first use (extra ``iceberg``). Catalog calls are blocking
and run in a worker thread under the resolver's deadline; a REST catalog uses pyiceberg's
own HTTP client, not this package's.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, ClassVar

import anyio
from pydantic import Field, field_validator

from datalocality.errors import (
    DataLocalityError,
    DataSourceNotFound,
    ResolverConfigError,
    ResolverUnavailable,
    SpecError,
)
from datalocality.model import Chunk, DataInput, DataSource
from datalocality.resolvers.chunks import (
    build_chunk,
    build_chunk_base,
    build_chunk_id,
    build_data_source,
)
from datalocality.resolvers.clients import import_client
from datalocality.resolvers.config import ResolverConfig
from datalocality.resolvers.credentials import SecretRef, check_no_secret_keys, fetch_secret, redact
from datalocality.resolvers.deadline import run_blocking, within_deadline
from datalocality.resolvers.http.addresses import check_endpoint_host
from datalocality.resolvers.protocol import HealthStatus, ResolverContext, fetch_probe

if TYPE_CHECKING:
    from pyiceberg.catalog import Catalog
    from pyiceberg.table import Table


# pyiceberg imports the FileIO class a config names; only its own two are accepted.
FILE_IOS = frozenset({"pyiceberg.io.pyarrow.PyArrowFileIO", "pyiceberg.io.fsspec.FsspecFileIO"})


class IcebergConfig(ResolverConfig):
    """A pyiceberg catalog: its name, its properties, and SecretRefs for credentials."""

    catalog_name: str = Field(default="default", min_length=1)
    catalog: dict[str, str]
    secret_properties: dict[str, SecretRef] = Field(default_factory=dict)
    max_files: int = Field(default=100_000, ge=1)

    @field_validator("catalog")
    @classmethod
    def _catalog(cls, value: dict[str, str]) -> dict[str, str]:
        check_no_secret_keys("", value)
        if value.get("uri", "").startswith(("http://", "https://")):
            check_endpoint_host("uri", value["uri"])
        if "py-catalog-impl" in value:
            raise SpecError(
                "py-catalog-impl",
                value["py-catalog-impl"],
                "loading classes by name is not allowed",
            )
        io_impl = value.get("py-io-impl")
        if io_impl is not None and io_impl not in FILE_IOS:
            raise SpecError("py-io-impl", io_impl, f"must be one of {sorted(FILE_IOS)}")
        if "type" not in value and "uri" not in value:
            raise SpecError("type", None, "give the catalog type (rest, sql, ...) or its uri")
        return value


def parse_identifier(name: str, catalog_name: str) -> str:
    """``namespace.table`` for pyiceberg, dropping a leading catalog name."""
    parts = name.split(".")
    if len(parts) > 2 and parts[0] == catalog_name:
        parts = parts[1:]
    if len(parts) < 2 or not all(parts):
        raise SpecError("dataSourceName", name, "an Iceberg table is namespace.table")
    return ".".join(parts)


def _import_pyiceberg() -> Any:
    """pyiceberg's catalog, exceptions and expression modules (extra ``iceberg``)."""
    for module in (
        "pyiceberg.catalog",
        "pyiceberg.exceptions",
        "pyiceberg.expressions.parser",
        "pyiceberg.expressions.visitors",
    ):
        import_client(module, system="iceberg", extra="iceberg")
    return import_client("pyiceberg", system="iceberg", extra="iceberg")


def build_library_error(pyiceberg: Any, exc: Exception, what: str) -> DataLocalityError:
    """A pyiceberg, SQL driver or HTTP library error as one of ours, redacted (a catalog can
    echo its bearer token in an error body): refused credentials are a config error,
    everything else (server errors, connections, the driver's own types) unavailable."""
    errors = pyiceberg.exceptions
    detail = f"{type(exc).__name__}: {redact(str(exc))[:300]}"
    if isinstance(exc, errors.UnauthorizedError | errors.ForbiddenError | errors.OAuthError):
        return ResolverConfigError(f"iceberg: {what}: access denied ({type(exc).__name__})")
    return ResolverUnavailable(f"iceberg: {what}: {detail}")


class IcebergResolver:
    """Resolves Iceberg tables to one chunk per data file."""

    name: ClassVar[str] = "iceberg"

    def __init__(self, config: IcebergConfig, context: ResolverContext) -> None:
        self.config = config
        self._context = context
        self._catalog: Catalog | None = None
        self._lock = anyio.Lock()

    @classmethod
    def from_config(cls, config: Mapping[str, Any], context: ResolverContext) -> IcebergResolver:
        """Validate the config; pyiceberg and the credentials are loaded on first use."""
        return cls(IcebergConfig.parse(dict(config)), context)

    def _build_catalog(self) -> Catalog:
        pyiceberg = _import_pyiceberg()
        properties = dict(self.config.catalog)
        for key, ref in self.config.secret_properties.items():
            properties[key] = fetch_secret(
                ref, self._context.env, field=f"secretProperties.{key}"
            ).reveal()
        catalogs = pyiceberg.catalog.AVAILABLE_CATALOGS
        try:
            kind = (
                pyiceberg.catalog.CatalogType(properties["type"].lower())
                if "type" in properties
                else pyiceberg.catalog.infer_catalog_type(self.config.catalog_name, properties)
            )
        except (ValueError, KeyError) as exc:
            raise ResolverConfigError(
                f"iceberg: cannot build the catalog: {redact(str(exc))}"
            ) from None
        try:  # a REST catalog asks its server for config, a SQL one connects
            return catalogs[kind](self.config.catalog_name, properties)  # type: ignore[no-any-return]
        except Exception as exc:
            raise build_library_error(pyiceberg, exc, "cannot build the catalog") from None

    async def catalog(self) -> Catalog:
        """The catalog, built once (in a worker thread: SQL catalogs connect)."""
        async with self._lock:
            if self._catalog is None:
                self._catalog = await run_blocking(self._build_catalog)
            return self._catalog

    async def resolve(self, data_input: DataInput) -> DataSource:
        """One chunk per data file of the table's scan."""
        identifier = parse_identifier(data_input.name, self.config.catalog_name)
        async with within_deadline(self.config.deadline, f"iceberg {identifier}"):
            catalog = await self.catalog()
            files = await run_blocking(lambda: self._plan_files(catalog, identifier, data_input))
        mapping = self.config.location_mapping
        chunk_base = build_chunk_base((path for path, _, _ in files), files[0][2] if files else "")
        chunks: list[Chunk] = [
            build_chunk(build_chunk_id(path, chunk_base), size, mapping.locate(path))
            for path, size, _ in files
        ]
        return build_data_source(data_input, chunks, chunk_base=chunk_base)

    def _plan_files(
        self, catalog: Catalog, identifier: str, data_input: DataInput
    ) -> list[tuple[str, int, str]]:
        """(path, size, table location) of every planned data file (blocking)."""
        pyiceberg = _import_pyiceberg()
        errors = pyiceberg.exceptions
        try:
            table = catalog.load_table(identifier)
            snapshot_id = self._snapshot_id(table, data_input.attributes)
            row_filter = self._row_filter(pyiceberg, data_input.attributes.get("row_filter"))
            self._bind_row_filter(pyiceberg, table, row_filter, data_input.attributes)
            scan = table.scan(row_filter=row_filter, snapshot_id=snapshot_id)
            files = []
            for task in scan.plan_files():
                files.append((task.file.file_path, task.file.file_size_in_bytes, table.location()))
                if len(files) > self.config.max_files:
                    raise ResolverConfigError(
                        f"iceberg: {identifier} plans more than maxFiles {self.config.max_files}"
                        " files; narrow it with a row_filter"
                    )
            return files
        except (errors.NoSuchTableError, errors.NoSuchNamespaceError, errors.NoSuchIdentifierError):
            raise DataSourceNotFound(f"iceberg: table {identifier} does not exist") from None
        except DataLocalityError:
            raise
        except Exception as exc:  # server errors, I/O errors, the SQL driver's own types
            raise build_library_error(pyiceberg, exc, identifier) from None

    def _snapshot_id(self, table: Table, attributes: Mapping[str, str]) -> int | None:
        """The snapshot named by ``snapshot_id`` or ``ref``; None for the current one."""
        if "snapshot_id" in attributes and "ref" in attributes:
            raise SpecError("attributes", dict(attributes), "give snapshot_id or ref, not both")
        if "snapshot_id" in attributes:
            raw = attributes["snapshot_id"]
            if not raw.lstrip("-").isdigit():
                raise SpecError("attributes.snapshot_id", raw, "must be an integer")
            if table.snapshot_by_id(int(raw)) is None:
                raise DataSourceNotFound(f"iceberg: snapshot {raw} of {table.name()} not found")
            return int(raw)
        if "ref" in attributes:
            snapshot = table.snapshot_by_name(attributes["ref"])
            if snapshot is None:
                raise DataSourceNotFound(f"iceberg: ref {attributes['ref']!r} not found")
            return snapshot.snapshot_id
        return None

    @staticmethod
    def _row_filter(pyiceberg: Any, text: str | None) -> Any:
        if text is None:
            return pyiceberg.expressions.AlwaysTrue()
        try:
            return pyiceberg.expressions.parser.parse(text)
        except Exception as exc:  # pyparsing's message is kilobytes of grammar: say where
            column = getattr(exc, "col", None)
            where = f" at column {column}" if isinstance(column, int) else ""
            raise SpecError("attributes.row_filter", text, f"cannot parse it{where}") from None

    @staticmethod
    def _bind_row_filter(
        pyiceberg: Any, table: Table, row_filter: Any, attributes: Mapping[str, str]
    ) -> None:
        """A filter naming a column the table lacks, or comparing it with a value of another
        type, is the user's mistake (SpecError), not a server failure to retry."""
        try:
            pyiceberg.expressions.visitors.bind(table.schema(), row_filter, case_sensitive=True)
        except (ValueError, TypeError) as exc:
            raise SpecError(
                "attributes.row_filter", attributes.get("row_filter"), redact(str(exc))[:200]
            ) from None

    async def health(self) -> HealthStatus:
        """The catalog loads and lists its namespaces."""

        async def probe() -> str:
            async with within_deadline(self.config.deadline, "iceberg health"):
                catalog = await self.catalog()
                namespaces = await run_blocking(catalog.list_namespaces)
            return f"catalog {self.config.catalog_name!r}: {len(namespaces)} namespace(s)"

        try:
            return await fetch_probe(probe)
        except Exception as exc:  # a driver error the probe did not classify
            return HealthStatus("unavailable", redact(f"{type(exc).__name__}: {exc}"))
