"""The webhdfs resolver against recorded WebHDFS responses (see tests/resolvers/support.py)."""

from __future__ import annotations

import logging
from typing import Any

import httpx
import pytest

from datalocality.errors import (
    DataSourceNotFound,
    ResolverConfigError,
    ResolverResponseError,
    SpecError,
)
from datalocality.model import DataInput
from datalocality.resolvers import ResolverContext
from datalocality.resolvers.builtin.webhdfs import WebHdfsResolver
from tests.resolvers.support import Server, SleepLog, load_recordings, replay

pytestmark = pytest.mark.anyio
BLOCK = 134217728


def make(server: Server, env: dict[str, str] | None = None, **config: Any) -> WebHdfsResolver:
    context = ResolverContext(env=env or {}, transport=server.transport(), sleep=SleepLog())
    settings = {
        "endpoint": "http://namenode.example:9870",
        "user": "etl",
        "hostAliases": {"dn1": "node-1", "dn2": "node-2"},
        "locationMapping": {"hdfs://nn1/data": "zone:a"},
        "filesystem": "hdfs://nn1",
        **config,
    }
    return WebHdfsResolver.from_config(settings, context)


def path(name: str, **attributes: str) -> DataInput:
    return DataInput(
        system="webhdfs", name=name, data_source_type="directory", attributes=attributes
    )


async def test_directory_becomes_one_chunk_per_block_on_its_datanodes() -> None:
    server = Server(replay(load_recordings("webhdfs")))
    source = await make(server).resolve(path("/data/clicks"))
    assert [(c.id, c.size, c.locations) for c in source.chunks] == [
        ("part-00000.parquet#0", BLOCK, ("dn3", "node-1", "node-2")),
        ("part-00000.parquet#134217728", 62599364, ("dn4", "dn5", "node-2")),
        ("part-00001.parquet#0", 1366, ("dn5",)),
    ]
    # the file of block "<path>#<offset>" is <chunkBase>/<path>
    assert source.chunk_base == "hdfs://nn1/data/clicks"
    assert source.locality.nodes == ("dn3", "dn4", "dn5", "node-1", "node-2")
    assert source.locality.zones == ("a",)
    ops = [r.url.params["op"] for r in server.requests]
    # no block lookup for the empty _SUCCESS file, none for the tmp/ directory
    assert sorted(ops) == ["GETFILEBLOCKLOCATIONS"] * 2 + ["GETFILESTATUS", "LISTSTATUS"]
    assert all(r.url.params["user.name"] == "etl" for r in server.requests)


async def test_recursive_listing_and_blocks_without_hosts_use_the_mapping() -> None:
    server = Server(replay(load_recordings("webhdfs")))
    source = await make(server).resolve(path("/data/clicks", recursive="true"))
    staging = next(c for c in source.chunks if c.id.startswith("tmp/"))
    assert (staging.id, staging.size, staging.locations) == (
        "tmp/staging.parquet#0",
        2048,
        ("zone:a",),
    )
    assert len(source.chunks) == 4


async def test_single_file() -> None:
    server = Server(replay(load_recordings("webhdfs")))
    source = await make(server).resolve(path("/data/clicks/part-00001.parquet"))
    assert [(c.id, c.size) for c in source.chunks] == [("part-00001.parquet#0", 1366)]
    assert source.chunk_base == "hdfs://nn1/data/clicks"
    assert server.count == 2


async def test_file_not_found_is_one_request() -> None:
    server = Server(replay(load_recordings("webhdfs")))
    with pytest.raises(DataSourceNotFound):
        await make(server).resolve(path("/data/missing"))
    assert server.count == 1


async def test_access_control_exception_is_a_config_error() -> None:
    server = Server(replay(load_recordings("webhdfs")))
    with pytest.raises(ResolverConfigError, match="status 403"):
        await make(server).resolve(path("/data/private"))
    assert server.count == 1


async def test_delegation_token_is_sent_and_masked(caplog: pytest.LogCaptureFixture) -> None:
    server = Server(replay(load_recordings("webhdfs")))
    token = "HAAEaGRmcwRoZGZzAIoBjXyz-delegation"
    resolver = make(server, {"HDFS_TOKEN": token}, user=None, delegationToken={"env": "HDFS_TOKEN"})
    with caplog.at_level(logging.DEBUG):
        await resolver.resolve(path("/data/clicks"))
    assert all(r.url.params["delegation"] == token for r in server.requests)
    assert "user.name" not in server.requests[0].url.params
    assert "HTTP Request" in caplog.text and token not in caplog.text


async def test_bad_paths_are_spec_errors() -> None:
    server = Server(replay(load_recordings("webhdfs")))
    for bad in ("data/clicks", "/data/../etc", "/data//x"):
        with pytest.raises(SpecError, match="dataSourceName"):
            await make(server).resolve(path(bad))
    assert server.count == 0


async def test_health_probes_the_root() -> None:
    server = Server(replay(load_recordings("webhdfs")))
    assert (await make(server).health()).ok
    assert server.requests[0].url.path == "/webhdfs/v1/"


def namenode(entries: dict[str, list[dict[str, Any]]]) -> Server:
    """A namenode whose directories (by path) list ``entries``; every path is a directory."""

    def handler(request: httpx.Request) -> httpx.Response:
        where = request.url.path.removeprefix("/webhdfs/v1")
        if request.url.params["op"] == "GETFILESTATUS":
            status = {"pathSuffix": "", "type": "DIRECTORY", "length": 0}
            return httpx.Response(200, json={"FileStatus": status})
        listed = entries.get(where, [])
        return httpx.Response(200, json={"FileStatuses": {"FileStatus": listed}})

    return Server(handler)


def entry(name: str, kind: str = "DIRECTORY") -> dict[str, Any]:
    return {"pathSuffix": name, "type": kind, "length": 0 if kind == "DIRECTORY" else 10}


@pytest.mark.parametrize("name", ["..", ".", "../../etc", "a/b", "", "x\x00y"])
async def test_a_server_supplied_name_that_is_not_one_segment_is_refused(name: str) -> None:
    server = namenode({"/data": [entry("ok.parquet", "FILE"), entry(name)]})
    with pytest.raises(ResolverResponseError, match="not a single path segment"):
        await make(server).resolve(path("/data", recursive="true"))
    # nothing was asked outside /data, so no credential went anywhere else
    assert all(r.url.path.startswith("/webhdfs/v1/data") for r in server.requests)
    assert server.count == 2


async def test_an_endless_directory_tree_ends_at_max_files() -> None:
    class Endless(dict[str, list[dict[str, Any]]]):
        def get(self, key: str, default: Any = None) -> list[dict[str, Any]]:
            return [entry("deeper")]

    server = namenode(Endless())
    with pytest.raises(ResolverResponseError, match="more than maxFiles 5"):
        await make(server, maxFiles=5).resolve(path("/data", recursive="true"))
    assert server.count == 1 + 6  # GETFILESTATUS, then one listing past the limit
