"""The iceberg resolver against real pyiceberg SQL catalogs on SQLite, with tables written by
pyarrow: one warehouse on the local filesystem and one on S3 through a local moto server."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pyarrow as pa  # type: ignore[import-untyped]  # pyarrow ships no stubs
import pytest
from pyiceberg.catalog.sql import SqlCatalog
from pyiceberg.partitioning import PartitionField, PartitionSpec
from pyiceberg.schema import Schema
from pyiceberg.table import Table
from pyiceberg.transforms import IdentityTransform
from pyiceberg.types import LongType, NestedField, StringType

from datalocality.errors import (
    DataSourceNotFound,
    ResolverConfigError,
    ResolverUnavailable,
    SpecError,
)
from datalocality.model import DataInput
from datalocality.resolvers import ResolverContext, ResolverSet
from datalocality.resolvers.builtin.iceberg import IcebergResolver
from tests.resolvers.support import QuietHandler, loopback_http

pytestmark = pytest.mark.anyio
SCHEMA = Schema(
    NestedField(1, "event_id", LongType(), required=False),
    NestedField(2, "dt", StringType(), required=False),
)
SPEC = PartitionSpec(
    PartitionField(source_id=2, field_id=1000, transform=IdentityTransform(), name="dt")
)
S3_ENV = {"LAKE_KEY_ID": "testing-key-id", "LAKE_SECRET": "testing-secret-key"}


@dataclass(frozen=True)
class Lake:
    """A catalog with table ``ml.events``: snapshot 1 writes dt=a and dt=b, snapshot 2 dt=c."""

    properties: dict[str, str]
    table: Table
    first_snapshot: int


def write_lake(name: str, properties: dict[str, str]) -> Lake:
    catalog = SqlCatalog(name, **properties)
    catalog.create_namespace("ml")
    table = catalog.create_table("ml.events", schema=SCHEMA, partition_spec=SPEC)
    table.append(
        pa.table({"event_id": pa.array(range(6), pa.int64()), "dt": ["a"] * 4 + ["b"] * 2})
    )
    first = table.current_snapshot()
    assert first is not None
    table.append(pa.table({"event_id": pa.array(range(100, 130), pa.int64()), "dt": ["c"] * 30}))
    table.manage_snapshots().create_tag(first.snapshot_id, "v1").commit()
    return Lake(properties, table, first.snapshot_id)


@pytest.fixture(scope="module")
def local_lake(tmp_path_factory: pytest.TempPathFactory) -> Lake:
    root = tmp_path_factory.mktemp("lake")
    return write_lake(
        "lake", {"uri": f"sqlite:///{root}/catalog.db", "warehouse": f"file://{root}/wh"}
    )


@pytest.fixture(scope="module")
def s3_lake(moto_endpoint: str, tmp_path_factory: pytest.TempPathFactory) -> Lake:
    import boto3  # type: ignore[import-untyped]  # boto3 ships no stubs

    s3 = boto3.client(
        "s3",
        endpoint_url=moto_endpoint,
        aws_access_key_id=S3_ENV["LAKE_KEY_ID"],
        aws_secret_access_key=S3_ENV["LAKE_SECRET"],
        region_name="us-east-1",
    )
    s3.create_bucket(Bucket="lake-eu")
    root = tmp_path_factory.mktemp("s3lake")
    properties = {
        "uri": f"sqlite:///{root}/catalog.db",
        "warehouse": "s3://lake-eu/wh",
        "s3.endpoint": moto_endpoint,
        "s3.region": "us-east-1",
        "s3.access-key-id": S3_ENV["LAKE_KEY_ID"],
        "s3.secret-access-key": S3_ENV["LAKE_SECRET"],
    }
    return write_lake("lake", properties)


def local_resolver(lake: Lake, **config: Any) -> IcebergResolver:
    warehouse = lake.properties["warehouse"]
    settings = {
        "catalogName": "lake",
        "catalog": {"type": "sql", **lake.properties},
        "locationMapping": {
            f"{warehouse}/ml/events/data/dt=c": "node-c",
            f"{warehouse}/": "zone:a",
        },
        **config,
    }
    return IcebergResolver.from_config(settings, ResolverContext(env={}))


def events(**attributes: str) -> DataInput:
    return DataInput(system="iceberg", name="lake.ml.events", attributes=attributes)


def data_files(table: Table, **scan: Any) -> dict[str, int]:
    return {t.file.file_path: t.file.file_size_in_bytes for t in table.scan(**scan).plan_files()}


async def test_one_chunk_per_data_file_with_size_and_location(local_lake: Lake) -> None:
    source = await local_resolver(local_lake).resolve(events())
    files = data_files(local_lake.table)
    assert len(source.chunks) == 3 == len(files)
    location = local_lake.table.location()
    assert source.chunk_base == location.rstrip("/")
    assert {f"{source.chunk_base}/{c.id}": c.size for c in source.chunks} == files
    by_partition = {c.id.split("/")[1]: c.locations for c in source.chunks}
    assert by_partition == {"dt=a": ("zone:a",), "dt=b": ("zone:a",), "dt=c": ("node-c",)}
    assert source.locality.zones == ("a",) and source.locality.nodes == ("node-c",)
    assert all(re.fullmatch(r"data/dt=[abc]/[-0-9a-f]+\.parquet", c.id) for c in source.chunks)


async def test_snapshot_ref_and_row_filter(local_lake: Lake) -> None:
    resolver = local_resolver(local_lake)
    by_id = await resolver.resolve(events(snapshot_id=str(local_lake.first_snapshot)))
    by_tag = await resolver.resolve(events(ref="v1"))
    assert {c.id.split("/")[1] for c in by_id.chunks} == {"dt=a", "dt=b"}
    assert by_tag.chunks == by_id.chunks
    filtered = await resolver.resolve(events(row_filter="dt = 'c'"))
    assert [c.id.split("/")[1] for c in filtered.chunks] == ["dt=c"]
    assert (
        filtered.chunks[0].size == data_files(local_lake.table, row_filter="dt = 'c'").popitem()[1]
    )


async def test_missing_things_are_not_found(local_lake: Lake) -> None:
    resolver = local_resolver(local_lake)
    with pytest.raises(DataSourceNotFound, match="does not exist"):
        await resolver.resolve(DataInput(system="iceberg", name="ml.nope"))
    with pytest.raises(DataSourceNotFound, match="does not exist"):
        await resolver.resolve(DataInput(system="iceberg", name="nons.events"))
    with pytest.raises(DataSourceNotFound, match="snapshot 12345"):
        await resolver.resolve(events(snapshot_id="12345"))
    with pytest.raises(DataSourceNotFound, match="ref 'v9'"):
        await resolver.resolve(events(ref="v9"))


async def test_bad_input_is_a_spec_error(local_lake: Lake) -> None:
    resolver = local_resolver(local_lake)
    with pytest.raises(SpecError) as caught:
        await resolver.resolve(events(row_filter="dt = = 'c'"))
    assert caught.value.field == "attributes.row_filter"
    with pytest.raises(SpecError, match=r"namespace\.table"):
        await resolver.resolve(DataInput(system="iceberg", name="events"))


async def test_max_files_guards_huge_scans(local_lake: Lake) -> None:
    with pytest.raises(ResolverConfigError, match="maxFiles 2"):
        await local_resolver(local_lake, maxFiles=2).resolve(events())


async def test_health_lists_namespaces(local_lake: Lake) -> None:
    health = await local_resolver(local_lake).health()
    assert health.ok and "1 namespace" in health.detail


def test_credentials_in_catalog_properties_are_rejected() -> None:
    with pytest.raises(SpecError) as caught:
        IcebergResolver.from_config(
            {"catalog": {"type": "sql", "uri": "sqlite://", "s3.secret-access-key": "hunter2"}},
            ResolverContext(env={}),
        )
    assert caught.value.field == "catalog.s3.secret-access-key"
    assert "hunter2" not in str(caught.value)


def test_a_password_inside_the_catalog_uri_is_rejected_without_showing_it() -> None:
    uri = "postgresql+psycopg2://etl:hunter2@db.example:5432/catalog"
    with pytest.raises(SpecError, match="password in the URL") as caught:
        IcebergResolver.from_config(
            {"catalog": {"type": "sql", "uri": uri}}, ResolverContext(env={})
        )
    assert caught.value.field == "catalog.uri"
    assert "hunter2" not in str(caught.value)
    # the same URI from a SecretRef is how it is given
    resolver = IcebergResolver.from_config(
        {"catalog": {"type": "sql"}, "secretProperties": {"uri": {"env": "CATALOG_URI"}}},
        ResolverContext(env={"CATALOG_URI": uri}),
    )
    assert "uri" in resolver.config.secret_properties


async def test_s3_warehouse_on_moto_with_credentials_from_env(
    s3_lake: Lake, moto_endpoint: str
) -> None:
    public = {k: v for k, v in s3_lake.properties.items() if "key" not in k}
    config = {
        "iceberg": {
            "catalogName": "lake",
            "catalog": {"type": "sql", **public},
            "secretProperties": {
                "s3.access-key-id": {"env": "LAKE_KEY_ID"},
                "s3.secret-access-key": {"env": "LAKE_SECRET"},
            },
            "locationMapping": {"s3://lake-eu/": ["cluster:eu", "zone:eu-1a"]},
        }
    }
    async with ResolverSet.from_config(config, context=ResolverContext(env=S3_ENV)) as resolvers:
        source = await resolvers.resolve(events())
    files = data_files(s3_lake.table)
    assert all(path.startswith("s3://lake-eu/wh/ml/events/data/") for path in files)
    assert source.chunk_base == s3_lake.table.location().rstrip("/")
    assert {f"{source.chunk_base}/{c.id}": c.size for c in source.chunks} == files
    assert all(c.locations == ("cluster:eu", "zone:eu-1a") for c in source.chunks)
    assert source.locality.clusters == ("eu",)


async def test_missing_credentials_on_s3_are_a_config_error(s3_lake: Lake) -> None:
    public = {k: v for k, v in s3_lake.properties.items() if "key" not in k}
    resolver = IcebergResolver.from_config(
        {
            "catalog": {"type": "sql", **public},
            "secretProperties": {"s3.secret-access-key": {"env": "NOPE"}},
        },
        ResolverContext(env={}),
    )
    with pytest.raises(ResolverConfigError, match="NOPE is not set"):
        await resolver.resolve(events())
    assert (await resolver.health()).state == "misconfigured"


def test_import_of_the_resolver_module_does_not_import_pyiceberg(tmp_path: Path) -> None:
    import subprocess
    import sys

    code = (
        "import sys, json; import datalocality.resolvers.builtin.iceberg; "
        "print(json.dumps(sorted(m for m in sys.modules if m.split('.')[0] in "
        "('pyiceberg', 'pyarrow'))))"
    )
    out = subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, text=True)
    assert json.loads(out.stdout) == []


@pytest.mark.parametrize(
    ("row_filter", "reason"),
    [
        ("nope = 'c'", "Could not find field with name nope"),
        ("event_id = 'abc'", "Could not convert abc into a long"),
        ("dt = 5", "Cannot convert LongLiteral into string"),
        ("dt = = 'c'", r"^cannot parse it at column \d+$"),
    ],
)
async def test_a_row_filter_the_table_cannot_take_is_a_spec_error_at_once(
    local_lake: Lake, row_filter: str, reason: str
) -> None:
    with pytest.raises(SpecError) as caught:
        await local_resolver(local_lake).resolve(events(row_filter=row_filter))
    assert caught.value.field == "attributes.row_filter"
    assert re.search(reason, caught.value.reason), caught.value.reason
    assert len(str(caught.value)) < 300  # not pyparsing's kilobytes of grammar


def echoing_catalog(status: int) -> type[QuietHandler]:
    """A REST catalog that refuses every request with ``status``, echoing the Authorization
    header it was sent in its error body (as careless servers do)."""

    class Handler(QuietHandler):
        def do_GET(self) -> None:
            kind = "NotAuthorizedException" if status == 401 else "ServerError"
            message = f"refused {self.headers.get('Authorization')}"
            self.send_json(status, {"error": {"message": message, "type": kind, "code": status}})

    return Handler


TOKEN = "tok-3f9a1c7e5b2d"


@pytest.mark.parametrize(
    ("status", "error"), [(401, ResolverConfigError), (500, ResolverUnavailable)]
)
async def test_a_rest_catalog_that_echoes_the_token_is_wrapped_and_redacted(
    status: int, error: type[Exception]
) -> None:
    with loopback_http(echoing_catalog(status)) as uri:
        resolver = IcebergResolver.from_config(
            {
                "catalog": {"type": "rest", "uri": uri},
                "secretProperties": {"token": {"env": "CATALOG_TOKEN"}},
            },
            ResolverContext(env={"CATALOG_TOKEN": TOKEN}),
        )
        with pytest.raises(error) as caught:
            await resolver.resolve(events())
    assert TOKEN not in str(caught.value)
    assert caught.value.__cause__ is None  # the raw library error is not chained
    assert TOKEN not in repr(caught.value.args)


async def test_an_unreachable_or_unopenable_catalog_is_unavailable(tmp_path: Path) -> None:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        closed = f"http://127.0.0.1:{s.getsockname()[1]}"
    unreachable = IcebergResolver.from_config(
        {"catalog": {"type": "rest", "uri": closed}}, ResolverContext(env={})
    )
    with pytest.raises(ResolverUnavailable, match="cannot build the catalog: ConnectionError"):
        await unreachable.resolve(events())
    unopenable = IcebergResolver.from_config(
        {"catalog": {"type": "sql", "uri": f"sqlite:///{tmp_path}/no/such/dir/c.db"}},
        ResolverContext(env={}),
    )
    with pytest.raises(ResolverUnavailable, match="OperationalError"):
        await unopenable.resolve(events())
