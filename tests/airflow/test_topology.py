"""The placement topology read from Node objects and the pods bound to them."""

from __future__ import annotations

import pytest

from datalocality.errors import SpecError
from datalocality.kube.names import ANNOTATION_LOAD
from datalocality.kube.topology import build_topology
from datalocality_testcluster.sandbox import load_inventory


def test_demo_inventory_gives_zones_regions_requests_and_the_gateway() -> None:
    inventory = load_inventory(None)
    topology = build_topology(inventory.nodes, inventory.reserved_pods, cluster="prod")
    nodes = topology.by_name
    assert sorted(nodes) == [
        "gateway-b",
        "worker-a1",
        "worker-a2",
        "worker-a3",
        "worker-b1",
        "worker-b2",
    ]
    a1 = nodes["worker-a1"]
    assert (a1.zone, a1.region, a1.cluster) == ("eu-west-1a", "eu-west-1", "prod")
    assert (a1.requested.cpu, a1.requested.pods) == (3.0, 1)
    assert a1.allocatable.cpu == 4.0 and a1.allocatable.pods == 110
    assert nodes["gateway-b"].gateway and not a1.gateway
    assert (nodes["gateway-b"].load, a1.load) == (0.9, 0.0)
    assert a1.labels["disktype"] == "ssd"


def test_finished_pods_and_unschedulable_nodes_do_not_count() -> None:
    nodes = [
        {"metadata": {"name": "n1"}, "status": {"allocatable": {"cpu": "2"}}},
        {"metadata": {"name": "n2"}, "spec": {"unschedulable": True}},
    ]
    done = {
        "spec": {"nodeName": "n1", "containers": [{"resources": {"requests": {"cpu": "1"}}}]},
        "status": {"phase": "Succeeded"},
    }
    topology = build_topology(nodes, [done])
    assert [n.name for n in topology.nodes] == ["n1"]
    assert topology.nodes[0].requested.cpu == 0.0


@pytest.mark.parametrize("load", ["busy", "1.5", "-0.1", "nan"])
def test_a_bad_load_annotation_names_the_node_and_value(load: str) -> None:
    node = {"metadata": {"name": "g1", "annotations": {ANNOTATION_LOAD: load}}}
    with pytest.raises(SpecError) as raised:
        build_topology([node])
    assert raised.value.field == f"nodes[g1].metadata.annotations.{ANNOTATION_LOAD}"
    assert raised.value.value == load


def test_a_placement_requests_nodes_keep_their_gateway_and_load() -> None:
    inventory = load_inventory(
        [{"name": "g", "gateway": True, "load": 0.85}, {"name": "w", "load": 0.2}]
    )
    nodes = build_topology(inventory.nodes).by_name
    assert (nodes["g"].gateway, nodes["g"].load) == (True, 0.85)
    assert (nodes["w"].gateway, nodes["w"].load) == (False, 0.2)
