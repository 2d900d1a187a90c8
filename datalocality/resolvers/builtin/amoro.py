"""``amoro``: tables managed by Apache Amoro, through the AMS REST API (``/api/ams/v1``).

A name is ``catalog.database.table``. The resolver reads the table details (its
``baseLocation``, mapped through ``locationMapping``) and its partitions (one chunk per
partition, sized by ``fileSize``); with ``granularity: file`` (config or input attribute) it
lists each partition's files instead and makes one chunk per data file, located by its own
path. AMS wraps every answer in ``{"code", "message", "result"}`` and reports application
errors in ``code`` rather than the HTTP status; those codes are classified like statuses,
and a table the details call cannot load is checked against the database's table list, so
"not found" is decided from data, not from message text.

Auth (``auth.type``): ``none``; ``basic`` (``username``/``password`` SecretRefs, for
``http-server.rest-auth-type: basic``); or ``signature`` (``apiKey``/``secret`` SecretRefs:
each request carries ``apiKey`` and ``signature = md5(apiKey + sorted params + secret)``,
with the date ``yyyyMMdd`` standing in for an empty parameter list, as AMS checks it).
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from datetime import date
from typing import Any, ClassVar, Literal
from urllib.parse import quote

import httpx
from pydantic import BaseModel, ConfigDict, Field, model_validator

from datalocality.errors import (
    DataSourceNotFound,
    ResolverConfigError,
    ResolverResponseError,
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
from datalocality.resolvers.concurrency import run_each
from datalocality.resolvers.config import ConfigModel, HttpConfig
from datalocality.resolvers.credentials import SecretRef, fetch_secret, register_basic_auth
from datalocality.resolvers.deadline import within_deadline
from datalocality.resolvers.http.client import HttpEndpoint, HttpResult
from datalocality.resolvers.http.policy import build_excerpt
from datalocality.resolvers.protocol import HealthStatus, ResolverContext, fetch_probe
from datalocality.resolvers.segments import check_server_segment

API = "/api/ams/v1"


class _CodeError(ResolverResponseError):
    """AMS answered HTTP 200 with an error ``code`` in its envelope."""


Granularity = Literal["partition", "file"]


class AmoroAuth(ConfigModel):
    """How to authenticate; credentials are SecretRefs, never values."""

    type: Literal["none", "basic", "signature"] = "none"
    username: SecretRef | None = None
    password: SecretRef | None = None
    api_key: SecretRef | None = None
    secret: SecretRef | None = None

    @model_validator(mode="after")
    def _complete(self) -> AmoroAuth:
        needed = {"basic": ("username", "password"), "signature": ("api_key", "secret")}
        for name in needed.get(self.type, ()):
            if getattr(self, name) is None:
                raise SpecError(name, None, f"required when auth.type is {self.type}")
        return self


class AmoroConfig(HttpConfig):
    """AMS endpoint (e.g. ``http://ams:1630``), auth, and how finely to chunk tables."""

    auth: AmoroAuth = AmoroAuth()
    granularity: Granularity = "partition"
    page_size: int = Field(default=100, ge=1, le=10_000)
    max_chunks: int = Field(default=100_000, ge=1)
    concurrency: int = Field(default=4, ge=1, le=64)


class _Wire(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)


class Envelope(_Wire):
    """AMS's response wrapper (``OkResponse`` / ``ErrorResponse``)."""

    code: int
    message: str | None = None
    result: Any = None


class TableDetails(_Wire):
    """The part of ``ServerTableMeta`` we use."""

    base_location: str = Field(alias="baseLocation", min_length=1)
    table_type: str | None = Field(default=None, alias="tableType")


class PartitionInfo(_Wire):
    """``PartitionBaseInfo``."""

    partition: str
    spec_id: int = Field(default=0, alias="specId")
    file_count: int = Field(default=0, alias="fileCount", ge=0)
    file_size: int = Field(alias="fileSize", ge=0)


class FileInfo(_Wire):
    """``PartitionFileBaseInfo``."""

    path: str = Field(min_length=1)
    file_size: int = Field(alias="fileSize", ge=0)


class TableMeta(_Wire):
    """An entry of ``/catalogs/{catalog}/databases/{db}/tables``."""

    name: str


class PartitionPage(_Wire):
    """``PageResult<PartitionBaseInfo>``."""

    items: list[PartitionInfo] = Field(alias="list")
    total: int = Field(ge=0)


class FilePage(_Wire):
    """``PageResult<PartitionFileBaseInfo>``."""

    items: list[FileInfo] = Field(alias="list")
    total: int = Field(ge=0)


def parse_table_name(name: str) -> tuple[str, str, str]:
    """``catalog.database.table`` split in three, or SpecError."""
    parts = name.split(".")
    if len(parts) != 3 or not all(parts):
        raise SpecError("dataSourceName", name, "an Amoro table is catalog.database.table")
    return parts[0], parts[1], parts[2]


def build_signature(params: Mapping[str, str], api_key: str, secret: str, today: date) -> str:
    """AMS's request signature (``ParamSignatureCalculator`` + ``checkApiToken``).

    >>> build_signature({"page": "1"}, "k", "s", date(2026, 1, 2))
    '7c1d066d9e14d4a99436ed30a645cd69'
    """
    text = "".join(f"{key}{value}" for key, value in sorted(params.items()) if value.strip())
    plain = f"{api_key}{text or today.strftime('%Y%m%d')}{secret}"
    return hashlib.md5(plain.encode()).hexdigest()


class AmoroResolver:
    """Resolves Amoro tables to partition or file chunks."""

    name: ClassVar[str] = "amoro"

    def __init__(self, config: AmoroConfig, context: ResolverContext) -> None:
        self.config = config
        self._context = context
        self._endpoint: HttpEndpoint | None = None

    @classmethod
    def from_config(cls, config: Mapping[str, Any], context: ResolverContext) -> AmoroResolver:
        """Validate the config; credentials are read on first use."""
        return cls(AmoroConfig.parse(dict(config)), context)

    def endpoint(self) -> HttpEndpoint:
        """The HTTP endpoint, built with credentials on first use."""
        if self._endpoint is None:
            auth_config, env = self.config.auth, self._context.env
            auth: httpx.Auth | None = None
            signer = None
            if auth_config.type == "basic":
                assert auth_config.username and auth_config.password
                user = fetch_secret(auth_config.username, env, field="auth.username")
                password = fetch_secret(auth_config.password, env, field="auth.password")
                register_basic_auth(user.reveal(), password.reveal())
                auth = httpx.BasicAuth(user.reveal(), password.reveal())
            elif auth_config.type == "signature":
                assert auth_config.api_key and auth_config.secret
                key = fetch_secret(auth_config.api_key, env, field="auth.apiKey").reveal()
                secret = fetch_secret(auth_config.secret, env, field="auth.secret").reveal()

                def signer(params: dict[str, str]) -> dict[str, str]:
                    signature = build_signature(params, key, secret, date.today())
                    return {**params, "apiKey": key, "signature": signature}

            self._endpoint = HttpEndpoint(
                self.config, self._context, system=self.name, auth=auth, signer=signer
            )
        return self._endpoint

    async def aclose(self) -> None:
        """Close the HTTP client."""
        if self._endpoint is not None:
            await self._endpoint.aclose()
            self._endpoint = None

    async def _fetch_result(
        self, path: str, params: Mapping[str, str] | None = None, *, retry: bool = True
    ) -> HttpResult:
        """GET an AMS path and unwrap the envelope; a non-200 ``code`` raises by its value."""
        result = await self.endpoint().fetch_json(path, params, retry=retry)
        envelope = result.parse(Envelope, f"amoro {path}")
        if envelope.code in (401, 403):
            raise ResolverConfigError(
                f"amoro: AMS refused the credentials for {path} (code {envelope.code})"
            )
        if envelope.code == 404:
            raise DataSourceNotFound(f"amoro: {path} not found (code 404)")
        if envelope.code != 200:
            raise _CodeError(
                f"amoro: GET {path} failed with code {envelope.code}",
                status=envelope.code,
                excerpt=build_excerpt((envelope.message or "").encode()),
            )
        return HttpResult(result.status, result.body, envelope.result)

    async def _fetch_details(self, catalog: str, db: str, table: str) -> TableDetails:
        """The table details; an AMS error becomes DataSourceNotFound if the table is absent."""
        base = _table_path(catalog, db, table)
        try:
            result = await self._fetch_result(f"{base}/details")
        except _CodeError:
            databases = f"{API}/catalogs/{quote(catalog, safe='')}/databases"
            try:
                tables = await self._fetch_result(
                    f"{databases}/{quote(db, safe='')}/tables", {"keywords": table}
                )
            except _CodeError as failed:
                await self._check_database(catalog, db, databases)
                # the database is there: listing its tables failed on AMS's side
                raise ResolverUnavailable(
                    f"amoro: AMS failed to list the tables of {catalog}.{db} "
                    f"(code {failed.status}: {failed.excerpt})"
                ) from None
            names = {meta.name for meta in _parse_list(tables, TableMeta, "table list")}
            if table not in names:
                raise DataSourceNotFound(
                    f"amoro: table {catalog}.{db}.{table} does not exist"
                ) from None
            raise
        return result.parse(TableDetails, "amoro table details")

    async def _check_database(self, catalog: str, db: str, databases: str) -> None:
        """DataSourceNotFound unless AMS lists ``db`` in ``catalog``; ResolverUnavailable
        when it cannot say (an error code other than 404 is not an answer)."""
        try:
            listed = await self._fetch_result(databases, {"keywords": db})
        except DataSourceNotFound:
            raise DataSourceNotFound(f"amoro: catalog {catalog!r} does not exist") from None
        except _CodeError as failed:
            raise ResolverUnavailable(
                f"amoro: AMS failed to list the databases of {catalog} "
                f"(code {failed.status}: {failed.excerpt})"
            ) from None
        if not isinstance(listed.data, list) or db not in listed.data:
            raise DataSourceNotFound(f"amoro: database {catalog}.{db} does not exist")

    async def _fetch_pages(
        self, path: str, page_model: type[PartitionPage] | type[FilePage]
    ) -> list[Any]:
        """Every item of a paged AMS list, within ``max_chunks``."""
        items: list[Any] = []
        page_number = 1
        while True:
            params = {"page": str(page_number), "pageSize": str(self.config.page_size)}
            page = (await self._fetch_result(path, params)).parse(page_model, f"amoro {path}")
            items.extend(page.items)
            if page.total > self.config.max_chunks:
                raise ResolverResponseError(
                    f"amoro: {path} lists {page.total} entries, over maxChunks "
                    f"{self.config.max_chunks}"
                )
            if not page.items or len(items) >= page.total:
                return items
            page_number += 1

    async def resolve(self, data_input: DataInput) -> DataSource:
        """Chunks per partition (or per file) of an Amoro table."""
        catalog, db, table = parse_table_name(data_input.name)
        granularity = data_input.attributes.get("granularity", self.config.granularity)
        if granularity not in ("partition", "file"):
            raise SpecError("attributes.granularity", granularity, "must be partition or file")
        async with within_deadline(self.config.deadline, f"amoro {data_input.name}"):
            details = await self._fetch_details(catalog, db, table)
            base = _table_path(catalog, db, table)
            partitions: list[PartitionInfo] = await self._fetch_pages(
                f"{base}/partitions", PartitionPage
            )
            chunk_base = ""
            if granularity == "file":
                chunks, chunk_base = await self._fetch_file_chunks(
                    base, partitions, details.base_location
                )
            else:
                chunks = self._partition_chunks(partitions, table, details.base_location)
        table_locations = self.config.location_mapping.locate(details.base_location)
        return build_data_source(data_input, chunks, table_locations, chunk_base=chunk_base)

    def _partition_chunks(
        self, partitions: list[PartitionInfo], table: str, base_location: str
    ) -> list[Chunk]:
        locations = self.config.location_mapping.locate(base_location)
        return [
            build_chunk(build_chunk_id(info.partition or table), info.file_size, locations)
            for info in partitions
        ]

    async def _fetch_file_chunks(
        self, base: str, partitions: list[PartitionInfo], base_location: str
    ) -> tuple[list[Chunk], str]:
        """Every file's chunk, ids relative to the table's base location when all are under
        it, and that base ("" when not)."""
        files: list[FileInfo] = []

        async def one(info: PartitionInfo) -> None:
            path = f"{base}/partitions/{quote(info.partition, safe='')}/files"
            found: list[FileInfo] = await self._fetch_pages(path, FilePage)
            files.extend(found)

        for info in partitions:  # "" in an unpartitioned table
            if info.partition:
                check_server_segment(info.partition, f"amoro {base}/partitions", allow_slash=True)
        await run_each(partitions, one, self.config.concurrency)
        mapping = self.config.location_mapping
        chunk_base = build_chunk_base((f.path for f in files), base_location)
        chunks = [
            build_chunk(build_chunk_id(f.path, chunk_base), f.file_size, mapping.locate(f.path))
            for f in files
        ]
        return chunks, chunk_base

    async def health(self) -> HealthStatus:
        """AMS's health endpoint answers code 200 (one attempt, no retry)."""

        async def probe() -> str:
            async with within_deadline(self.config.deadline, "amoro health"):
                await self._fetch_result(f"{API}/health/status", retry=False)
            return f"{self.config.endpoint} is up"

        return await fetch_probe(probe)


def _table_path(catalog: str, db: str, table: str) -> str:
    parts = [quote(part, safe="") for part in (catalog, db, table)]
    return f"{API}/tables/catalogs/{parts[0]}/dbs/{parts[1]}/tables/{parts[2]}"


def _parse_list(result: HttpResult, model: type[TableMeta], what: str) -> list[TableMeta]:
    if not isinstance(result.data, list):
        raise ResolverResponseError(
            f"amoro {what}: expected a list",
            status=result.status,
            excerpt=build_excerpt(result.body),
        )
    return [HttpResult(result.status, result.body, item).parse(model, what) for item in result.data]
