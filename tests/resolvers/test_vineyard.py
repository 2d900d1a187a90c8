"""The vineyard resolver against a real two-instance vineyard cluster (vineyardd + etcd)."""

from __future__ import annotations

import socket
import warnings
from collections.abc import Iterator
from typing import Any

import pytest

from datalocality.errors import DataSourceNotFound, ResolverUnavailable, SpecError
from datalocality.model import DataInput
from datalocality.resolvers import ResolverContext
from datalocality.resolvers.builtin.vineyard import VineyardResolver, format_object_id
from tests.resolvers.support import VineyardCluster

pytestmark = pytest.mark.anyio


def import_vineyard() -> Any:
    """vineyard, imported when first needed (it takes seconds) and without its import warning."""
    with warnings.catch_warnings():
        warnings.filterwarnings(
            "ignore", message="pkg_resources is deprecated", category=UserWarning
        )
        import vineyard

    return vineyard


@pytest.fixture(scope="module")
def objects(vineyard_cluster: VineyardCluster) -> Iterator[dict[str, Any]]:
    """A global tensor with one member on each instance, and a local tensor."""
    import numpy as np

    vineyard = import_vineyard()
    clients = [vineyard.connect(str(path)) for path in vineyard_cluster.sockets]
    small = clients[0].put(np.arange(1000, dtype="int64"))  # 8000 bytes
    large = clients[1].put(np.arange(5000, dtype="int64"))  # 40000 bytes
    for client, member in zip(clients, (small, large), strict=True):
        client.persist(member)
    meta = vineyard.ObjectMeta()
    meta["typename"] = "vineyard::GlobalTensor"
    meta.set_global(True)
    meta.add_member("partitions_-0", small)
    meta.add_member("partitions_-1", large)
    meta["partitions_-size"] = 2
    global_object = clients[0].create_metadata(meta)
    clients[0].persist(global_object.id)
    clients[0].put_name(global_object.id, "clicks_features")
    local = clients[1].put(np.zeros(64, dtype="float64"))
    clients[1].persist(local)
    yield {
        "global": format_object_id(int(global_object.id)),
        "small": format_object_id(int(small)),
        "large": format_object_id(int(large)),
        "local": format_object_id(int(local)),
        "instances": [client.instance_id for client in clients],
    }
    for client in clients:
        client.close()


def make(cluster: VineyardCluster, index: int = 1, **config: Any) -> VineyardResolver:
    settings = {"socket": str(cluster.sockets[index]), **config}
    return VineyardResolver.from_config(settings, ResolverContext(env={}))


def obj(name: str) -> DataInput:
    return DataInput(system="vineyard", name=name, data_source_type="object")


async def test_global_object_members_on_the_nodes_of_their_instances(
    vineyard_cluster: VineyardCluster, objects: dict[str, Any]
) -> None:
    first, second = objects["instances"]
    resolver = make(vineyard_cluster, instanceNodes={first: "node-a", second: "node-b"})
    source = await resolver.resolve(obj("clicks_features"))  # by name, through instance 1
    assert sorted((c.id, c.size, c.locations) for c in source.chunks) == sorted(
        [(objects["small"], 8000, ("node-a",)), (objects["large"], 40000, ("node-b",))]
    )
    assert source.locality.nodes == ("node-a", "node-b")
    by_id = await resolver.resolve(obj(objects["global"]))
    assert by_id.chunks == source.chunks


async def test_hosts_from_cluster_metadata(
    vineyard_cluster: VineyardCluster, objects: dict[str, Any]
) -> None:
    host = socket.gethostname()
    source = await make(vineyard_cluster, 0).resolve(obj(objects["global"]))
    assert {c.locations for c in source.chunks} == {(host,)}
    aliased = make(vineyard_cluster, 0, hostAliases={host: "worker-1"})
    source = await aliased.resolve(obj(objects["local"]))
    assert [(c.id, c.size, c.locations) for c in source.chunks] == [
        (objects["local"], 512, ("worker-1",))
    ]


async def test_missing_objects_and_unreachable_daemon(
    vineyard_cluster: VineyardCluster, objects: dict[str, Any], tmp_path: Any
) -> None:
    resolver = make(vineyard_cluster)
    with pytest.raises(DataSourceNotFound):
        await resolver.resolve(obj("no_such_name"))
    with pytest.raises(DataSourceNotFound):
        await resolver.resolve(obj("o0000000000000001"))
    gone = VineyardResolver.from_config(
        {"socket": str(tmp_path / "absent.sock"), "deadline": 20}, ResolverContext(env={})
    )
    with pytest.raises(ResolverUnavailable, match="no IPC socket"):
        await gone.resolve(obj(objects["global"]))
    assert (await gone.health()).state == "unavailable"


async def test_health(vineyard_cluster: VineyardCluster, objects: dict[str, Any]) -> None:
    health = await make(vineyard_cluster).health()
    assert health.ok and "2-instance cluster" in health.detail


def test_config_needs_exactly_one_way_in() -> None:
    with pytest.raises(SpecError, match="exactly one of socket, rpcEndpoint"):
        VineyardResolver.from_config({}, ResolverContext(env={}))
    with pytest.raises(SpecError, match="host:port"):
        VineyardResolver.from_config({"rpcEndpoint": "nohost"}, ResolverContext(env={}))
