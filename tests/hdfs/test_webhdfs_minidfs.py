"""The webhdfs resolver against a real HDFS: every block's offset, length and replica hosts
equal what the NameNode reports over RPC (not through WebHDFS, which the resolver reads)."""

from __future__ import annotations

import logging
import os
from collections.abc import Awaitable, Callable
from typing import Any

import anyio
import httpx
import pytest

from datalocality.errors import ResolverConfigError
from datalocality.model import DataInput, DataSource, PlacementRequest
from datalocality.placement import plan
from datalocality.resolvers import ResolverContext
from datalocality.resolvers.builtin.webhdfs import WebHdfsResolver
from datalocality_testcluster.minihdfs import MIB, MiniHdfs
from tests.hdfs.conftest import HOST_ALIASES

FILESYSTEM = "hdfs://minidfs"


class Tap(httpx.AsyncBaseTransport):
    """The real network transport, with the requests it sent and a hook after each answer."""

    def __init__(self, after: Callable[[httpx.Request], Awaitable[None]] | None = None) -> None:
        self._inner = httpx.AsyncHTTPTransport()
        self._after = after
        self.requests: list[httpx.Request] = []

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        response = await self._inner.handle_async_request(request)
        if self._after is not None:
            await response.aread()
            await self._after(request)
        return response

    async def aclose(self) -> None:
        await self._inner.aclose()


def resolve(
    hdfs: MiniHdfs,
    path: str,
    *,
    transport: httpx.AsyncBaseTransport | None = None,
    env: dict[str, str] | None = None,
    **config: Any,
) -> DataSource:
    """One resolution of ``path`` with the webhdfs resolver pointed at the NameNode."""
    attributes = {"recursive": str(config.pop("recursive", "false"))}
    settings = {
        "endpoint": hdfs.endpoint,
        "user": hdfs.superuser,
        "filesystem": FILESYSTEM,
        "hostAliases": HOST_ALIASES,
        **config,
    }
    context = ResolverContext(env=env or {}, transport=transport)
    resolver = WebHdfsResolver.from_config(
        {k: v for k, v in settings.items() if v is not None}, context
    )

    async def run() -> DataSource:
        try:
            return await resolver.resolve(
                DataInput(system="hdfs", name=path, attributes=attributes)
            )
        finally:
            await resolver.aclose()

    return anyio.run(run)


Blocks = dict[str, tuple[int, tuple[str, ...]]]


def truth(hdfs: MiniHdfs, directory: str, names: list[str]) -> Blocks:
    """Chunk id -> (length, nodes) for every block, from the NameNode over RPC."""
    blocks: Blocks = {}
    for name in names:
        for block in hdfs.locations(f"{directory}/{name}"):
            nodes = tuple(sorted(HOST_ALIASES[h] for h in block.hosts))
            blocks[f"{name}#{block.offset}"] = (block.length, nodes)
    return blocks


def seen(source: DataSource) -> Blocks:
    return {c.id: (c.size, c.locations) for c in source.chunks}


def test_every_block_is_a_chunk_on_the_datanodes_the_namenode_reports(
    hdfs: MiniHdfs, hdfs_dir: str
) -> None:
    sizes = {"part-0": 3 * MIB + 12345, "part-1": 2 * MIB, "part-2": 1000}
    for name, size in sizes.items():
        hdfs.write(f"{hdfs_dir}/{name}", os.urandom(size))
    hdfs.write(f"{hdfs_dir}/_SUCCESS", b"")
    hdfs.mkdirs(f"{hdfs_dir}/sub")
    hdfs.write(f"{hdfs_dir}/sub/part-9", os.urandom(MIB + 1))
    source = resolve(hdfs, hdfs_dir)

    expected = truth(hdfs, hdfs_dir, list(sizes))
    assert seen(source) == expected
    assert len(expected) == 4 + 2 + 1  # several blocks per file, the last one short
    assert sum(c.size for c in source.chunks) == sum(sizes.values())
    # replication 2: each block on two DataNodes, and HDFS put them on both racks
    assert all(len(c.locations) == 2 for c in source.chunks)
    racks = {n: n[len("worker-")] for n in HOST_ALIASES.values()}
    assert all({racks[n] for n in c.locations} == {"a", "b"} for c in source.chunks)
    assert source.chunk_base == f"{FILESYSTEM}{hdfs_dir}"
    assert set(source.locality.nodes) <= set(HOST_ALIASES.values())


def test_recursive_directory_and_single_file(hdfs: MiniHdfs, hdfs_dir: str) -> None:
    hdfs.mkdirs(f"{hdfs_dir}/day=1/hour=0")
    files = ["top", "day=1/a", "day=1/hour=0/b"]
    for name in files:
        hdfs.write(f"{hdfs_dir}/{name}", os.urandom(MIB + 7))
    flat = resolve(hdfs, hdfs_dir)
    assert {c.id.split("#")[0] for c in flat.chunks} == {"top"}

    deep = resolve(hdfs, hdfs_dir, recursive="true")
    assert seen(deep) == truth(hdfs, hdfs_dir, files)

    one = resolve(hdfs, f"{hdfs_dir}/day=1/a")
    assert seen(one) == truth(hdfs, f"{hdfs_dir}/day=1", ["a"])
    assert one.chunk_base == f"{FILESYSTEM}{hdfs_dir}/day=1"


def test_a_file_deleted_between_listing_and_block_lookup_is_left_out(
    hdfs: MiniHdfs, hdfs_dir: str, caplog: pytest.LogCaptureFixture
) -> None:
    for name in ("keep", "gone"):
        hdfs.write(f"{hdfs_dir}/{name}", os.urandom(MIB + 1))

    async def delete_after_listing(request: httpx.Request) -> None:
        if request.url.params.get("op") == "LISTSTATUS":
            await anyio.to_thread.run_sync(hdfs.delete, f"{hdfs_dir}/gone")

    tap = Tap(delete_after_listing)
    with caplog.at_level(logging.WARNING, logger="datalocality"):
        source = resolve(hdfs, hdfs_dir, transport=tap)
    lookups = [r.url.path for r in tap.requests if r.url.params["op"] == "GETFILEBLOCKLOCATIONS"]
    assert sorted(lookups) == [f"/webhdfs/v1{hdfs_dir}/gone", f"/webhdfs/v1{hdfs_dir}/keep"]
    assert seen(source) == truth(hdfs, hdfs_dir, ["keep"])
    assert f"{hdfs_dir}/gone" in caplog.text


def test_simple_auth_user_is_the_one_hdfs_checks_permissions_for(
    hdfs: MiniHdfs, hdfs_dir: str
) -> None:
    private = f"{hdfs_dir}/private"
    hdfs.mkdirs(private, permission="700")
    hdfs.write(f"{private}/f", os.urandom(10))
    with pytest.raises(ResolverConfigError) as refused:
        resolve(hdfs, private, user="alice")
    assert "403" in str(refused.value)
    assert "Permission denied: user=alice" in str(refused.value)
    assert [c.id for c in resolve(hdfs, private).chunks] == ["f#0"]


def test_a_delegation_token_the_namenode_issued_is_sent_on_every_call(
    hdfs: MiniHdfs, hdfs_dir: str
) -> None:
    hdfs.write(f"{hdfs_dir}/f", os.urandom(MIB + 1))
    token = hdfs.delegation_token(hdfs.superuser, renewer="datalocality")
    tap = Tap()
    source = resolve(
        hdfs,
        hdfs_dir,
        transport=tap,
        env={"HDFS_TOKEN": token},
        user=None,
        delegationToken={"env": "HDFS_TOKEN"},
    )
    assert seen(source) == truth(hdfs, hdfs_dir, ["f"])
    assert tap.requests
    assert all(r.url.params["delegation"] == token for r in tap.requests)
    assert all("user.name" not in r.url.params for r in tap.requests)


def test_a_replica_with_no_copy_on_its_node_reads_each_block_from_the_nearest_copy(
    hdfs: MiniHdfs, hdfs_dir: str
) -> None:
    written = hdfs.write_on(f"{hdfs_dir}/part-0", 2 * MIB + 3, ["dn-a1", "dn-b1"])
    assert all(block.hosts == {"dn-a1", "dn-b1"} for block in written)
    source = resolve(hdfs, hdfs_dir)

    full = {"allocatable": {"cpu": "1"}, "requested": {"cpu": "1"}}
    nodes = [
        {"name": "worker-a1", "zone": "a", "region": "eu", **full},  # a copy, no room
        {"name": "worker-a2", "zone": "a", "region": "eu", "allocatable": {"cpu": "4"}},
        {"name": "worker-b1", "zone": "b", "region": "eu", **full},  # a copy, no room
    ]
    request = PlacementRequest.parse(
        {
            "topology": {"nodes": nodes},
            "consumer": {"replicas": 1, "requests": {"cpu": "500m"}},
            "sources": [source.model_dump(mode="json", by_alias=True)],
        }
    )
    result = plan(request)
    assert [r.node for r in result.replicas] == ["worker-a2"]
    # both copies are a network read away; the one in the replica's own zone is nearer
    assert {(t.chunk, t.from_node, t.tier) for t in result.transfers} == {
        (c.id, "worker-a1", 1) for c in source.chunks
    }
    assert result.totals.moved_bytes == 2 * MIB + 3
