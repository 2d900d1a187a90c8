"""``objectstore``: objects under a prefix of any fsspec filesystem (s3, gcs, abfs, file...).

A name is a URL: ``s3://bucket/events/2026-11-23`` or ``file:///data/events``. Every object
under it (on a path boundary: ``s3://b/a`` lists ``a/...``, never ``ab/...``) becomes one
chunk with its size, located through ``locationMapping`` by its URL; the input attribute
``glob`` (``*.parquet``) keeps only matching objects. A URL naming one object gives one
chunk. Nothing under the prefix is DataSourceNotFound.

Config: ``protocols`` allowed (default: file, s3/s3a, gs/gcs, abfs/abfss/az; http is not
in it, so no listing is fetched from an arbitrary web server unless asked),
``storageOptions`` per protocol (``{s3: {endpoint_url: ..., client_kwargs: {region_name:
...}}}``, no credentials) and ``secretOptions`` per protocol, mapping option names to
SecretRefs (``{s3: {key: {env: AWS_ACCESS_KEY_ID}, secret: {env: AWS_SECRET_ACCESS_KEY}}}``).
fsspec and the protocol's implementation (s3fs...) are imported on first use.
"""

from __future__ import annotations

import fnmatch
from collections.abc import Mapping
from typing import Any, ClassVar

import anyio
from pydantic import Field, field_validator, model_validator

from datalocality.errors import (
    DataSourceNotFound,
    ResolutionError,
    ResolverConfigError,
    ResolverUnavailable,
    SpecError,
)
from datalocality.model import DataInput, DataSource
from datalocality.resolvers.chunks import (
    build_chunk,
    build_chunk_base,
    build_chunk_id,
    build_data_source,
)
from datalocality.resolvers.clients import import_client
from datalocality.resolvers.config import ResolverConfig
from datalocality.resolvers.credentials import (
    SecretRef,
    check_no_secret_keys,
    fetch_secret,
    redact,
)
from datalocality.resolvers.deadline import run_blocking, within_deadline
from datalocality.resolvers.http.addresses import check_endpoint_host
from datalocality.resolvers.protocol import HealthStatus, ResolverContext, fetch_probe

DEFAULT_PROTOCOLS = ("file", "s3", "s3a", "gs", "gcs", "abfs", "abfss", "az")


def check_option_endpoints(field: str, options: Mapping[str, Any]) -> None:
    """The URLs of a protocol's options (``endpoint_url`` of s3fs and its
    ``client_kwargs``, at any depth) name no metadata or link-local host."""
    pending: list[tuple[str, object]] = [(field, options)]
    while pending:
        where, value = pending.pop()
        if isinstance(value, Mapping):
            pending.extend((f"{where}.{key}", item) for key, item in value.items())
        elif isinstance(value, str) and value.startswith(("http://", "https://")):
            check_endpoint_host(where, value)


class ObjectStoreConfig(ResolverConfig):
    """Allowed protocols and per-protocol fsspec options (credentials as SecretRefs)."""

    protocols: tuple[str, ...] = DEFAULT_PROTOCOLS
    storage_options: dict[str, dict[str, Any]] = Field(default_factory=dict)
    secret_options: dict[str, dict[str, SecretRef]] = Field(default_factory=dict)
    max_objects: int = Field(default=100_000, ge=1)
    health_url: str | None = None

    @field_validator("storage_options")
    @classmethod
    def _no_secrets(cls, value: dict[str, dict[str, Any]]) -> dict[str, dict[str, Any]]:
        for protocol, options in value.items():
            check_no_secret_keys(protocol, options)
            check_option_endpoints(protocol, options)
        return value

    @model_validator(mode="after")
    def _known_protocols(self) -> ObjectStoreConfig:
        for field in ("storage_options", "secret_options"):
            for protocol in getattr(self, field):
                if protocol not in self.protocols:
                    raise SpecError(f"{field}.{protocol}", protocol, "not in protocols")
        if self.health_url is not None:
            parse_store_url(self.health_url, self.protocols, field="health_url")
        return self


def parse_store_url(
    url: str, protocols: tuple[str, ...], field: str = "dataSourceName"
) -> tuple[str, str]:
    """``(protocol, path)`` of an allowed storage URL, or SpecError."""
    protocol, sep, rest = url.partition("://")
    if not sep or not rest.strip("/"):
        raise SpecError(field, url, "a storage URL like s3://bucket/prefix or file:///data")
    if protocol not in protocols:
        raise SpecError(
            field, url, f"protocol {protocol!r} is not allowed ({', '.join(protocols)})"
        )
    return protocol, rest.rstrip("/") if protocol != "file" else "/" + rest.strip("/")


class ObjectStoreResolver:
    """Resolves a storage prefix to one chunk per object."""

    name: ClassVar[str] = "objectstore"

    def __init__(self, config: ObjectStoreConfig, context: ResolverContext) -> None:
        self.config = config
        self._context = context
        self._filesystems: dict[str, Any] = {}
        self._lock = anyio.Lock()

    @classmethod
    def from_config(
        cls, config: Mapping[str, Any], context: ResolverContext
    ) -> ObjectStoreResolver:
        """Validate the config; fsspec and credentials are loaded on first use."""
        return cls(ObjectStoreConfig.parse(dict(config)), context)

    def _build_filesystem(self, protocol: str) -> Any:
        fsspec = import_client("fsspec", system="objectstore", extra="objectstore")
        options = dict(self.config.storage_options.get(protocol, {}))
        for key, ref in self.config.secret_options.get(protocol, {}).items():
            field = f"secretOptions.{protocol}.{key}"
            options[key] = fetch_secret(ref, self._context.env, field=field).reveal()
        try:
            # Our TTL cache decides freshness: no shared instance, no listings cache.
            return fsspec.filesystem(
                protocol, skip_instance_cache=True, use_listings_cache=False, **options
            )
        except ImportError as exc:
            raise ResolverConfigError(
                f"objectstore: protocol {protocol!r} needs {exc.name}; install it "
                "(s3fs, gcsfs, adlfs) or airflow-provider-datalocality[objectstore]"
            ) from None
        except (TypeError, ValueError) as exc:
            raise ResolverConfigError(
                f"objectstore: bad storage options for {protocol}: {redact(str(exc))}"
            ) from None

    async def filesystem(self, protocol: str) -> Any:
        """The fsspec filesystem for ``protocol``, built once."""
        async with self._lock:
            if protocol not in self._filesystems:
                self._filesystems[protocol] = await run_blocking(
                    lambda: self._build_filesystem(protocol)
                )
            return self._filesystems[protocol]

    async def resolve(self, data_input: DataInput) -> DataSource:
        """One chunk per object under the URL."""
        protocol, path = parse_store_url(data_input.name, self.config.protocols)
        pattern = data_input.attributes.get("glob")
        async with within_deadline(self.config.deadline, f"objectstore {data_input.name}"):
            fs = await self.filesystem(protocol)
            found = await run_blocking(lambda: self._list(fs, path))
        base = data_input.name.rstrip("/")
        if len(found) == 1 and found[0][0] == path:  # the URL names one object
            base = base.rsplit("/", 1)[0]
        mapping = self.config.location_mapping
        urls = [(fs.unstrip_protocol(name), size) for name, size in found]
        chunk_base = build_chunk_base((url for url, _ in urls), base)
        chunks = []
        for url, size in urls:
            chunk_id = build_chunk_id(url, chunk_base)
            if pattern is None or fnmatch.fnmatch(chunk_id, pattern):
                chunks.append(build_chunk(chunk_id, size, mapping.locate(url)))
        if not chunks:
            raise DataSourceNotFound(
                f"objectstore: no objects under {data_input.name}"
                + (f" matching {pattern!r}" if pattern else "")
            )
        return build_data_source(data_input, chunks, chunk_base=chunk_base)

    def _list(self, fs: Any, path: str) -> list[tuple[str, int]]:
        """(name, size) of every object under ``path`` (blocking)."""
        try:
            fs.invalidate_cache(path)
            entries = fs.find(path, detail=True)
        except FileNotFoundError:
            raise DataSourceNotFound(f"objectstore: {path} does not exist") from None
        except PermissionError as exc:
            raise ResolverConfigError(
                f"objectstore: access denied to {path} ({exc.errno})"
            ) from None
        except ResolutionError:
            raise
        except Exception as exc:  # each client library has its own error types
            raise ResolverUnavailable(
                f"objectstore: listing {path} failed: {type(exc).__name__}: {redact(str(exc))}"
            ) from None
        objects = [
            (name, int(info.get("size") or 0))
            for name, info in sorted(entries.items())
            if info.get("type", "file") == "file"
        ]
        if len(objects) > self.config.max_objects:
            raise ResolverConfigError(
                f"objectstore: {path} holds more than maxObjects {self.config.max_objects} objects"
            )
        return objects

    async def health(self) -> HealthStatus:
        """With ``healthUrl``: that location exists. Without: fsspec imports."""

        async def probe() -> str:
            if self.config.health_url is None:
                import_client("fsspec", system="objectstore", extra="objectstore")
                return "fsspec available; set healthUrl to probe a store"
            protocol, path = parse_store_url(self.config.health_url, self.config.protocols)
            async with within_deadline(self.config.deadline, "objectstore health"):
                fs = await self.filesystem(protocol)
                exists = await run_blocking(lambda: self._exists(fs, path))
            if not exists:
                raise DataSourceNotFound(
                    f"objectstore: healthUrl {self.config.health_url} not found"
                )
            return f"{self.config.health_url} reachable"

        return await fetch_probe(probe)

    @staticmethod
    def _exists(fs: Any, path: str) -> bool:
        try:
            return bool(fs.exists(path))
        except PermissionError as exc:
            raise ResolverConfigError(f"objectstore: access denied ({exc.errno})") from None
        except Exception as exc:
            raise ResolverUnavailable(
                f"objectstore: {type(exc).__name__}: {redact(str(exc))}"
            ) from None
