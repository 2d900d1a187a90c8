"""The objectstore resolver on the local filesystem and on a real moto S3 server."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from datalocality.errors import DataSourceNotFound, ResolverConfigError, SpecError
from datalocality.model import Consumer, DataInput, Node, PlacementRequest, Topology
from datalocality.resolvers import ResolverContext, ResolverSet
from datalocality.resolvers.builtin.objectstore import ObjectStoreResolver

pytestmark = pytest.mark.anyio
KEYS = {"S3_KEY": "moto-access-key", "S3_SECRET": "moto-secret-key-123"}


def prefix(url: str, **attributes: str) -> DataInput:
    return DataInput(
        system="objectstore", name=url, data_source_type="prefix", attributes=attributes
    )


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    for relative, size in {
        "events/part-0.parquet": 1000,
        "events/part-1.parquet": 3000,
        "events/hot/part-2.parquet": 500,
        "events/_SUCCESS": 0,
        "events2/other.parquet": 7,  # shares a string prefix, not a path
    }.items():
        path = tmp_path / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(b"x" * size)
    return tmp_path


def local(tree: Path, **config: Any) -> ObjectStoreResolver:
    mapping = {f"file://{tree}/events/hot": "node-hot", f"file://{tree}/": "zone:local"}
    return ObjectStoreResolver.from_config(
        {"locationMapping": mapping, **config}, ResolverContext(env={})
    )


async def test_local_prefix_lists_objects_on_a_path_boundary(tree: Path) -> None:
    source = await local(tree).resolve(prefix(f"file://{tree}/events"))
    assert [(c.id, c.size, c.locations) for c in source.chunks] == [
        ("_SUCCESS", 1, ("zone:local",)),
        ("hot/part-2.parquet", 500, ("node-hot",)),
        ("part-0.parquet", 1000, ("zone:local",)),
        ("part-1.parquet", 3000, ("zone:local",)),
    ]
    assert source.chunk_base == f"file://{tree}/events"
    assert all(Path(source.chunk_base[len("file://") :], c.id).is_file() for c in source.chunks)
    assert source.locality.nodes == ("node-hot",) and source.locality.zones == ("local",)


async def test_glob_and_single_object(tree: Path) -> None:
    resolver = local(tree)
    only = await resolver.resolve(prefix(f"file://{tree}/events", glob="part-*.parquet"))
    assert [c.id for c in only.chunks] == ["part-0.parquet", "part-1.parquet"]
    one = await resolver.resolve(prefix(f"file://{tree}/events/part-1.parquet"))
    assert [(c.id, c.size) for c in one.chunks] == [("part-1.parquet", 3000)]
    assert one.chunk_base == f"file://{tree}/events"


async def test_nothing_there_is_not_found(tree: Path) -> None:
    with pytest.raises(DataSourceNotFound, match="no objects"):
        await local(tree).resolve(prefix(f"file://{tree}/missing"))
    with pytest.raises(DataSourceNotFound, match="matching"):
        await local(tree).resolve(prefix(f"file://{tree}/events", glob="*.csv"))


async def test_disallowed_protocols_and_bad_urls(tree: Path) -> None:
    resolver = local(tree)
    with pytest.raises(SpecError, match="protocol 'http' is not allowed"):
        await resolver.resolve(prefix("http://example.com/data"))
    with pytest.raises(SpecError, match="storage URL"):
        await resolver.resolve(prefix(f"{tree}/events"))


def test_credentials_in_storage_options_are_rejected() -> None:
    with pytest.raises(SpecError) as caught:
        ObjectStoreResolver.from_config(
            {"storageOptions": {"s3": {"secret": "hunter2"}}}, ResolverContext(env={})
        )
    assert caught.value.field == "storageOptions.s3.secret"
    assert "hunter2" not in str(caught.value)
    deep = {"s3": {"config_kwargs": {"proxies": {"auth": {"password": "hunter2"}}}}}
    with pytest.raises(SpecError) as caught:
        ObjectStoreResolver.from_config({"storageOptions": deep}, ResolverContext(env={}))
    assert caught.value.field == "storageOptions.s3.config_kwargs.proxies.auth.password"
    assert "hunter2" not in str(caught.value)
    # option names that merely contain a credential word's letters are options
    innocent = {"s3": {"max_sessions": 4, "client_kwargs": {"keyspace": "a"}}}
    resolver = ObjectStoreResolver.from_config(
        {"storageOptions": innocent}, ResolverContext(env={})
    )
    assert resolver.config.storage_options == innocent
    with pytest.raises(SpecError, match="not in protocols"):
        ObjectStoreResolver.from_config(
            {"protocols": ["file"], "storageOptions": {"s3": {"anon": True}}},
            ResolverContext(env={}),
        )


def s3_config(endpoint: str, **extra: Any) -> dict[str, Any]:
    return {
        "storageOptions": {
            "s3": {"endpoint_url": endpoint, "client_kwargs": {"region_name": "us-east-1"}}
        },
        "secretOptions": {"s3": {"key": {"env": "S3_KEY"}, "secret": {"env": "S3_SECRET"}}},
        "locationMapping": {
            "s3://clicks-eu/": ["cluster:eu", "zone:eu-1b"],
            "s3://clicks-eu/cache": "node-9",
        },
        **extra,
    }


@pytest.fixture(scope="module")
def bucket(moto_endpoint: str) -> str:
    import boto3  # type: ignore[import-untyped]  # boto3 ships no stubs

    s3 = boto3.client(
        "s3",
        endpoint_url=moto_endpoint,
        aws_access_key_id=KEYS["S3_KEY"],
        aws_secret_access_key=KEYS["S3_SECRET"],
        region_name="us-east-1",
    )
    s3.create_bucket(Bucket="clicks-eu")
    for key, size in {
        "day=1/a.parquet": 2048,
        "day=1/b.parquet": 4096,
        "day=10/c.parquet": 99,  # "day=1" must not match "day=10"
        "cache/day=1/d.parquet": 10,
    }.items():
        s3.put_object(Bucket="clicks-eu", Key=key, Body=b"0" * size)
    return "clicks-eu"


async def test_s3_prefix_on_moto(moto_endpoint: str, bucket: str) -> None:
    config = {"objectstore": s3_config(moto_endpoint)}
    async with ResolverSet.from_config(config, context=ResolverContext(env=KEYS)) as resolvers:
        day1 = await resolvers.resolve(prefix(f"s3://{bucket}/day=1"))
        cache = await resolvers.resolve(prefix(f"s3://{bucket}/cache"))
    assert [(c.id, c.size, c.locations) for c in day1.chunks] == [
        ("a.parquet", 2048, ("cluster:eu", "zone:eu-1b")),
        ("b.parquet", 4096, ("cluster:eu", "zone:eu-1b")),
    ]
    assert [(c.id, c.locations) for c in cache.chunks] == [("day=1/d.parquet", ("node-9",))]


async def test_s3_missing_prefix_and_health(moto_endpoint: str, bucket: str) -> None:
    resolver = ObjectStoreResolver.from_config(
        s3_config(moto_endpoint, healthUrl=f"s3://{bucket}"), ResolverContext(env=KEYS)
    )
    with pytest.raises(DataSourceNotFound):
        await resolver.resolve(prefix(f"s3://{bucket}/day=2"))
    assert (await resolver.health()).ok
    missing = ObjectStoreResolver.from_config(
        s3_config(moto_endpoint, healthUrl="s3://no-such-bucket"), ResolverContext(env=KEYS)
    )
    assert (await missing.health()).state == "misconfigured"


async def test_s3_without_credentials_is_a_config_error(moto_endpoint: str) -> None:
    resolver = ObjectStoreResolver.from_config(s3_config(moto_endpoint), ResolverContext(env={}))
    with pytest.raises(ResolverConfigError, match="S3_KEY is not set"):
        await resolver.resolve(prefix("s3://clicks-eu/day=1"))


async def test_two_prefixes_with_the_same_file_names_plan_together_with_openable_ids(
    tree: Path,
) -> None:
    from datalocality.operators.entries import join_chunk_bases
    from datalocality.placement import plan

    (tree / "copy").mkdir()
    for name, size in (("part-0.parquet", 10), ("part-1.parquet", 20)):
        (tree / "copy" / name).write_bytes(b"y" * size)
    resolver = local(tree)
    first = await resolver.resolve(prefix(f"file://{tree}/events"))
    second = await resolver.resolve(prefix(f"file://{tree}/copy"))
    topology = Topology(nodes=[Node(name="node-hot", zone="local"), Node(name="n2", zone="local")])
    with pytest.raises(SpecError, match="duplicate chunk id"):  # the relative ids collide
        PlacementRequest(topology=topology, consumer=Consumer(), sources=(first, second))
    joined = join_chunk_bases([first, second])
    assert [s.chunk_base for s in joined] == ["", ""]
    request = PlacementRequest(topology=topology, consumer=Consumer(replicas=2), sources=joined)
    ids = [c for replica in plan(request, "optimal").replicas for c in replica.chunks]
    assert len(ids) == 6
    sizes = {c.id: c.size for s in joined for c in s.chunks}
    for chunk_id in ids:  # every id opens its own file, of the size the chunk says
        assert max(1, Path(chunk_id.removeprefix("file://")).stat().st_size) == sizes[chunk_id]
    assert join_chunk_bases([first, first]) == [first, first]  # one base: ids stay relative
