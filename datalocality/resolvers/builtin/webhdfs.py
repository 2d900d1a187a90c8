"""``webhdfs``: files and directories in HDFS, through the WebHDFS REST API.

A name is an absolute HDFS path. ``GETFILESTATUS`` tells a file from a directory; a
directory is listed with ``LISTSTATUS`` (recursively with the input attribute
``recursive: "true"``); each file's blocks come from ``GETFILEBLOCKLOCATIONS``
(Hadoop 3.2+): one chunk per block, sized by the block length, located on the datanode
hosts that hold a replica (``hostAliases`` renames hosts to Kubernetes node names). A block
with no live replica falls back to ``locationMapping`` on ``filesystem + path``.

Auth: ``user`` is sent as ``user.name`` (security off); ``delegationToken`` (a SecretRef)
as ``delegation`` (security on). Kerberos SPNEGO is not supported.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar, Literal
from urllib.parse import quote, urlsplit

from pydantic import BaseModel, ConfigDict, Field, field_validator

from datalocality.errors import DataSourceNotFound, ResolverResponseError, SpecError
from datalocality.model import Chunk, DataInput, DataSource
from datalocality.resolvers.chunks import (
    build_chunk,
    build_chunk_base,
    build_chunk_id,
    build_data_source,
)
from datalocality.resolvers.concurrency import run_each
from datalocality.resolvers.config import HttpConfig
from datalocality.resolvers.credentials import LOGGER, SecretRef, fetch_secret
from datalocality.resolvers.deadline import within_deadline
from datalocality.resolvers.http.client import HttpEndpoint, HttpResult
from datalocality.resolvers.protocol import HealthStatus, ResolverContext, fetch_probe
from datalocality.resolvers.segments import check_server_segment

PREFIX = "/webhdfs/v1"


class WebHdfsConfig(HttpConfig):
    """Namenode HTTP endpoint (e.g. ``http://namenode:9870``) and how to name things."""

    user: str | None = None
    delegation_token: SecretRef | None = None
    filesystem: str | None = None
    host_aliases: dict[str, str] = Field(default_factory=dict)
    max_files: int = Field(default=10_000, ge=1)
    concurrency: int = Field(default=8, ge=1, le=64)
    health_path: str = "/"

    @field_validator("filesystem")
    @classmethod
    def _filesystem(cls, value: str | None) -> str | None:
        if value is not None and not value.startswith(("hdfs://", "viewfs://", "webhdfs://")):
            raise SpecError("", value, "a filesystem URI like hdfs://nameservice")
        return value.rstrip("/") if value else value

    @property
    def filesystem_uri(self) -> str:
        """Prefix of storage URLs for ``locationMapping`` (default ``hdfs://<namenode host>``)."""
        return self.filesystem or f"hdfs://{urlsplit(self.endpoint).hostname}"


class _Wire(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)


class FileStatus(_Wire):
    """A ``FileStatus`` JSON object."""

    path_suffix: str = Field(alias="pathSuffix")
    type: Literal["FILE", "DIRECTORY", "SYMLINK"]
    length: int = Field(ge=0)


class FileStatusAnswer(_Wire):
    """``GETFILESTATUS``."""

    status: FileStatus = Field(alias="FileStatus")


class FileStatusList(_Wire):
    """The ``FileStatuses`` object: ``{"FileStatus": [...]}``."""

    items: list[FileStatus] = Field(alias="FileStatus")


class ListStatusAnswer(_Wire):
    """``LISTSTATUS``."""

    statuses: FileStatusList = Field(alias="FileStatuses")


class BlockLocation(_Wire):
    """One ``BlockLocation``."""

    hosts: list[str] = Field(default_factory=list)
    length: int = Field(ge=0)
    offset: int = Field(ge=0)


class BlockLocationList(_Wire):
    """The ``BlockLocations`` object: ``{"BlockLocation": [...]}``."""

    items: list[BlockLocation] = Field(alias="BlockLocation")


class BlockLocationsAnswer(_Wire):
    """``GETFILEBLOCKLOCATIONS``."""

    locations: BlockLocationList = Field(alias="BlockLocations")


def parse_hdfs_path(name: str) -> str:
    """An absolute, normalised HDFS path, or SpecError."""
    if not name.startswith("/") or "//" in name or any(p in (".", "..") for p in name.split("/")):
        raise SpecError("dataSourceName", name, "an absolute HDFS path like /data/events")
    return name.rstrip("/") or "/"


class WebHdfsResolver:
    """Resolves HDFS files and directories to block chunks on datanodes."""

    name: ClassVar[str] = "webhdfs"

    def __init__(self, config: WebHdfsConfig, context: ResolverContext) -> None:
        self.config = config
        self._context = context
        self._endpoint: HttpEndpoint | None = None

    @classmethod
    def from_config(cls, config: Mapping[str, Any], context: ResolverContext) -> WebHdfsResolver:
        """Validate the config; the delegation token is read on first use."""
        return cls(WebHdfsConfig.parse(dict(config)), context)

    def endpoint(self) -> HttpEndpoint:
        """The namenode endpoint with the auth parameters, built on first use."""
        if self._endpoint is None:
            params: dict[str, str] = {}
            if self.config.user:
                params["user.name"] = self.config.user
            if self.config.delegation_token is not None:
                token = fetch_secret(
                    self.config.delegation_token, self._context.env, field="delegationToken"
                )
                params["delegation"] = token.reveal()
            self._endpoint = HttpEndpoint(
                self.config, self._context, system=self.name, params=params
            )
        return self._endpoint

    async def aclose(self) -> None:
        """Close the HTTP client."""
        if self._endpoint is not None:
            await self._endpoint.aclose()
            self._endpoint = None

    async def _fetch(self, path: str, op: str, *, retry: bool = True) -> HttpResult:
        return await self.endpoint().fetch_json(
            PREFIX + quote(path, safe="/"), {"op": op}, retry=retry
        )

    async def resolve(self, data_input: DataInput) -> DataSource:
        """One chunk per block of the file, or of every file in the directory."""
        root = parse_hdfs_path(data_input.name)
        recursive = data_input.attributes.get("recursive", "false")
        if recursive not in ("true", "false"):
            raise SpecError("attributes.recursive", recursive, "must be true or false")
        async with within_deadline(self.config.deadline, f"webhdfs {root}"):
            status = (await self._fetch(root, "GETFILESTATUS")).parse(
                FileStatusAnswer, "webhdfs GETFILESTATUS"
            )
            if status.status.type == "DIRECTORY":
                files = await self._fetch_files(root, recursive == "true")
                base = root
            else:
                files = [(root, status.status.length)]
                base = root.rsplit("/", 1)[0]
            base = build_chunk_base((path for path, _ in files), base)
            chunks = await self._fetch_chunks(files, base, listed=status.status.type == "DIRECTORY")
        return build_data_source(
            data_input,
            chunks,
            self.config.location_mapping.locate(self._url(root)),
            chunk_base=self._url(base) if base else "",
        )

    async def _fetch_files(self, root: str, recursive: bool) -> list[tuple[str, int]]:
        """Files under ``root`` (and its subdirectories if ``recursive``), sorted by path."""
        files: list[tuple[str, int]] = []
        pending = [root]
        listed: set[str] = set()  # a directory is listed once, however often it is named
        while pending:
            directory = pending.pop()
            if directory in listed:
                continue
            listed.add(directory)
            listing = (await self._fetch(directory, "LISTSTATUS")).parse(
                ListStatusAnswer, "webhdfs LISTSTATUS"
            )
            for entry in listing.statuses.items:
                name = check_server_segment(entry.path_suffix, f"webhdfs LISTSTATUS {directory}")
                path = f"{directory.rstrip('/')}/{name}"
                if entry.type == "FILE":
                    files.append((path, entry.length))
                elif entry.type == "DIRECTORY" and recursive:
                    pending.append(path)
            if len(files) > self.config.max_files or len(listed) > self.config.max_files:
                raise ResolverResponseError(
                    f"webhdfs: more than maxFiles {self.config.max_files} files or directories"
                    f" under {root}"
                )
        return sorted(files)

    async def _fetch_chunks(
        self, files: list[tuple[str, int]], base: str, *, listed: bool
    ) -> list[Chunk]:
        """Block chunks of every file, fetched with bounded concurrency.

        A ``listed`` file deleted before its blocks were asked for is left out (the
        directory is read as it is after the delete) with a warning naming it.
        """
        chunks: list[Chunk] = []

        async def one(file: tuple[str, int]) -> None:
            path, length = file
            if length == 0:
                return  # an empty file has no blocks and nothing to read
            try:
                answer = (await self._fetch(path, "GETFILEBLOCKLOCATIONS")).parse(
                    BlockLocationsAnswer, "webhdfs GETFILEBLOCKLOCATIONS"
                )
            except DataSourceNotFound:
                if not listed:
                    raise
                LOGGER.warning("webhdfs: %s was listed but is gone (deleted since); left out", path)
                return
            chunks.extend(self._block_chunks(path, base, answer.locations.items))

        await run_each(files, one, self.config.concurrency)
        return chunks

    def _block_chunks(self, path: str, base: str, blocks: list[BlockLocation]) -> list[Chunk]:
        aliases = self.config.host_aliases
        fallback = self.config.location_mapping.locate(self._url(path))
        relative = build_chunk_id(path, base)
        return [
            build_chunk(
                build_chunk_id(f"{relative}#{block.offset}"),
                block.length,
                [aliases.get(host, host) for host in block.hosts] or fallback,
            )
            for block in sorted(blocks, key=lambda block: block.offset)
        ]

    def _url(self, path: str) -> str:
        return f"{self.config.filesystem_uri}{path}"

    async def health(self) -> HealthStatus:
        """``GETFILESTATUS`` of ``health_path`` answers (one attempt, no retry)."""

        async def probe() -> str:
            async with within_deadline(self.config.deadline, "webhdfs health"):
                (await self._fetch(self.config.health_path, "GETFILESTATUS", retry=False)).parse(
                    FileStatusAnswer, "webhdfs GETFILESTATUS"
                )
            return f"{self.config.endpoint} is up"

        return await fetch_probe(probe)
