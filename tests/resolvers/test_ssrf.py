"""SSRF guard: no resolver can be pointed at a cloud metadata or link-local address, in any
spelling, unless it is allow-listed; and a data input's name can never change the host,
the path root or the query of a request."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from datalocality.errors import DataSourceNotFound, ResolverConfigError, SpecError
from datalocality.model import DataInput
from datalocality.resolvers import ResolverContext
from datalocality.resolvers.builtin.amoro import AmoroResolver
from datalocality.resolvers.builtin.iceberg import IcebergResolver
from datalocality.resolvers.builtin.objectstore import ObjectStoreResolver
from datalocality.resolvers.builtin.vineyard import VineyardResolver
from datalocality.resolvers.builtin.webhdfs import WebHdfsResolver
from tests.resolvers.support import Server, SleepLog

pytestmark = pytest.mark.anyio

METADATA = [
    "169.254.169.254",
    "2852039166",  # decimal
    "0xA9FEA9FE",  # hex
    "0251.0376.0251.0376",  # octal
    "169.254.43518",  # short form
    "169.254.169.254.",  # root label
    "[::ffff:169.254.169.254]",  # IPv4-mapped IPv6
    "[::ffff:a9fe:a9fe]",
    "[fd00:ec2::254]",  # AWS IMDS over IPv6
    "[fe80::1]",
    "metadata.google.internal",
]


def no_network() -> ResolverContext:
    def refuse(request: httpx.Request) -> httpx.Response:
        raise AssertionError(f"a request was sent: {request.url}")

    return ResolverContext(env={}, transport=httpx.MockTransport(refuse))


@pytest.mark.parametrize("host", METADATA)
def test_http_resolvers_refuse_a_metadata_endpoint_in_any_spelling(host: str) -> None:
    for resolver in (WebHdfsResolver, AmoroResolver):
        with pytest.raises(SpecError, match="metadata or link-local") as caught:
            resolver.from_config({"endpoint": f"http://{host}:80"}, no_network())
        assert caught.value.field == "endpoint"


@pytest.mark.parametrize("host", ["169.254.169.254", "2852039166"])
def test_every_other_way_in_is_guarded_too(host: str) -> None:
    cases: list[tuple[Any, dict[str, Any], str]] = [
        (IcebergResolver, {"catalog": {"type": "rest", "uri": f"http://{host}/"}}, "catalog.uri"),
        (
            ObjectStoreResolver,
            {"storageOptions": {"s3": {"client_kwargs": {"endpoint_url": f"http://{host}"}}}},
            "storageOptions.s3.client_kwargs.endpoint_url",
        ),
        (VineyardResolver, {"rpcEndpoint": f"{host}:9600"}, "rpcEndpoint"),
    ]
    for resolver, config, field in cases:
        with pytest.raises(SpecError, match="metadata or link-local") as caught:
            resolver.from_config(config, no_network())
        assert caught.value.field == field


def test_an_allow_listed_link_local_endpoint_is_taken() -> None:
    resolver = WebHdfsResolver.from_config(
        {"endpoint": "http://169.254.10.20:9870", "allowedHosts": ["169.254.10.20"]},
        no_network(),
    )
    assert resolver.config.host == "169.254.10.20"
    for ordinary in ("http://10.0.0.7:9870", "http://namenode:9870", "http://[2001:db8::1]"):
        assert WebHdfsResolver.from_config({"endpoint": ordinary}, no_network())


async def test_a_redirect_to_the_metadata_address_is_refused() -> None:
    server = Server(
        lambda request: httpx.Response(
            307, headers={"Location": "http://2852039166/latest/meta-data/"}
        )
    )
    resolver = WebHdfsResolver.from_config(
        {"endpoint": "http://namenode.example:9870"},
        ResolverContext(env={}, transport=server.transport(), sleep=SleepLog()),
    )
    with pytest.raises(ResolverConfigError, match="refused redirect to host '2852039166'"):
        await resolver.resolve(DataInput(system="hdfs", name="/data"))
    assert [r.url.host for r in server.requests] == ["namenode.example"]


# A line break never gets here: DataInput refuses control characters in its identity
# (tests/airflow/test_bad_inputs.py).
HOSTILE_NAMES = ["/data/x?op=DELETE&recursive=true#f", "/data/%2E%2E/etc", "/ä/ü"]


@pytest.mark.parametrize("name", HOSTILE_NAMES)
async def test_a_webhdfs_name_stays_inside_the_path(name: str) -> None:
    server = Server(lambda request: httpx.Response(404, json={}))
    resolver = WebHdfsResolver.from_config(
        {"endpoint": "http://namenode.example:9870", "user": "etl"},
        ResolverContext(env={}, transport=server.transport(), sleep=SleepLog()),
    )
    with pytest.raises(DataSourceNotFound):  # asked for as the literal path it is
        await resolver.resolve(DataInput(system="hdfs", name=name))
    assert server.count == 1
    for request in server.requests:
        assert request.url.host == "namenode.example"
        assert request.url.raw_path.startswith(b"/webhdfs/v1/")
        assert b"#" not in request.url.raw_path and b"\n" not in request.url.raw_path
        assert dict(request.url.params) == {"op": "GETFILESTATUS", "user.name": "etl"}


@pytest.mark.parametrize("name", ["lake.ml.ev?x=1&y=2", "lake.ml.a/../../health", "lake.m#l.t"])
async def test_an_amoro_name_stays_inside_the_path(name: str) -> None:
    server = Server(lambda request: httpx.Response(200, json={"code": 404, "result": None}))
    resolver = AmoroResolver.from_config(
        {"endpoint": "http://ams.example:1630"},
        ResolverContext(env={}, transport=server.transport(), sleep=SleepLog()),
    )
    # asked for as the literal table it names, or refused before any request
    with pytest.raises((DataSourceNotFound, SpecError)):
        await resolver.resolve(DataInput(system="amoro", name=name))
    assert server.count <= 1
    for request in server.requests:
        assert request.url.host == "ams.example"
        assert request.url.raw_path.startswith(b"/api/ams/v1/tables/catalogs/")
        assert b"/../" not in request.url.raw_path and b"#" not in request.url.raw_path
        assert set(request.url.params) <= {"page", "pageSize", "keywords"}
