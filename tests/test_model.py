"""Bad input is rejected with a SpecError naming the field and the value; good input parses."""

from __future__ import annotations

import itertools
import math
from typing import Any

import pytest

from datalocality.errors import DataLocalityError, SpecError
from datalocality.model import (
    Chunk,
    Consumer,
    DataInput,
    DataSource,
    Node,
    PlacementRequest,
    Resources,
    Topology,
    parse_quantity,
)
from datalocality.model.topology import OTHER_CLUSTER, SAME_NODE, TIER_COUNT, TIER_NAMES, TIERS


def request(**overrides: Any) -> dict[str, Any]:
    """A valid request as plain data, with top-level parts replaced."""
    data: dict[str, Any] = {
        "topology": {"nodes": [{"name": "node1", "zone": "z1"}, {"name": "node2", "zone": "z1"}]},
        "consumer": {"replicas": 2},
        "sources": [
            {
                "system": "demo",
                "dataSourceName": "events",
                "chunks": [{"id": "a", "locations": ["node1"]}, {"id": "b"}],
            }
        ],
    }
    data.update(overrides)
    return data


@pytest.mark.parametrize(
    ("text", "expected"),
    [("500m", 0.5), ("2", 2.0), ("2Gi", 2 * 2**30), ("1.5k", 1500.0), ("1e3", 1000.0), (3, 3.0)],
)
def test_quantities_parse_kubernetes_strings(text: object, expected: float) -> None:
    assert math.isclose(parse_quantity("cpu", text), expected)


@pytest.mark.parametrize("bad", ["abc", "-1", "1Xi", True, None, float("nan"), "1e3Gi"])
def test_bad_quantities_name_the_field(bad: object) -> None:
    with pytest.raises(SpecError) as err:
        parse_quantity("requests.cpu", bad)
    assert err.value.field == "requests.cpu"
    assert err.value.value == bad or (isinstance(bad, float) and math.isnan(bad))


def test_tiers_are_numbered_nearest_first_and_counted_once() -> None:
    # Placement sizes its per-tier tables by TIER_COUNT and treats OTHER_CLUSTER as the
    # world level: both hold only if the tiers are 0, 1, ... in TIER_NAMES order.
    assert TIERS == tuple(range(TIER_COUNT)) == tuple(range(len(TIER_NAMES)))
    assert (TIERS[0], TIERS[-1]) == (SAME_NODE, OTHER_CLUSTER)
    assert TIER_NAMES[OTHER_CLUSTER] == "world"


def test_resources_accept_quantity_strings() -> None:
    res = Resources(cpu="250m", memory="1Gi", pods=3)
    assert (res.cpu, res.memory, res.pods) == (0.25, 2**30, 3)


@pytest.mark.parametrize(
    ("consumer", "field", "value"),
    [
        ({"replicas": 0}, "consumer.replicas", 0),
        ({"replicas": True}, "consumer.replicas", True),
        ({"replicas": 2.5}, "consumer.replicas", 2.5),
        ({"replicas": "3"}, "consumer.replicas", "3"),
        ({"topology": {"mode": "Hard"}}, "consumer.topology.mode", "Hard"),
        ({"topology": {"mode": "strict"}}, "consumer.topology.mode", "strict"),
        ({"topology": {"highestTierAllowed": 5}}, "consumer.topology.highestTierAllowed", 5),
        ({"topology": {"highestTierAllowed": -1}}, "consumer.topology.highestTierAllowed", -1),
        ({"weights": {"resource": -0.5, "data_locality": 1.5}}, "consumer.weights.resource", -0.5),
        ({"weights": {"resource": 0.5}}, "consumer.weights", {"resource": 0.5}),
        ({"weights": {"speed": 1.0}}, "consumer.weights.speed", "speed"),
        ({"name": "Trainer_1"}, "consumer.name", "Trainer_1"),
        ({"workloadClass": "gpu"}, "consumer.workloadClass", "gpu"),
    ],
)
def test_bad_consumer_fields_are_named(consumer: dict[str, Any], field: str, value: object) -> None:
    with pytest.raises(SpecError) as err:
        PlacementRequest.parse(request(consumer=consumer))
    assert err.value.field == field
    assert err.value.value == value
    assert field in str(err.value)


@pytest.mark.parametrize(
    ("consumer", "field", "suggestion"),
    [
        ({"replicsa": 2}, "consumer.replicsa", "replicas"),
        ({"topology": {"mdoe": "hard"}}, "consumer.topology.mdoe", "mode"),
        (
            {"topology": {"highestTierAlowed": 1}},
            "consumer.topology.highestTierAlowed",
            "highestTierAllowed",
        ),
        ({"inputFormt": "chunks"}, "consumer.inputFormt", "inputFormat"),
        ({"zzz": 1}, "consumer.zzz", None),
    ],
)
def test_a_misspelt_key_gets_the_closest_accepted_one(
    consumer: dict[str, Any], field: str, suggestion: str | None
) -> None:
    with pytest.raises(SpecError) as err:
        PlacementRequest.parse(request(consumer=consumer))
    assert err.value.field == field
    if suggestion is None:
        assert "did you mean" not in err.value.reason
    else:
        assert err.value.reason.endswith(f"did you mean {suggestion!r}?")


def test_a_misspelt_node_key_is_found_inside_lists() -> None:
    data = request()
    data["topology"]["nodes"][0]["zonee"] = "z"
    with pytest.raises(SpecError, match=r"nodes\[0\]\.zonee: .*did you mean 'zone'\?"):
        PlacementRequest.parse(data)


def test_nan_weight_is_rejected() -> None:
    with pytest.raises(SpecError) as err:
        Consumer(weights={"resource": float("nan"), "data_locality": 1.0})
    assert err.value.field == "weights.resource"


def test_spec_error_is_a_value_error_and_in_the_tree() -> None:
    with pytest.raises(ValueError):
        Consumer(replicas=0)
    assert issubclass(SpecError, DataLocalityError)


@pytest.mark.parametrize(
    ("sources", "field", "value"),
    [
        (
            [{"system": "s", "dataSourceName": "x", "chunks": [{"id": "a", "locations": ["n9"]}]}],
            "sources[0].chunks[0].locations",
            "n9",
        ),
        (
            [
                {
                    "system": "s",
                    "dataSourceName": "x",
                    "chunks": [{"id": "a"}, {"id": "a", "locations": ["node1"]}],
                }
            ],
            "sources[0].chunks[1].id",
            "a",
        ),
        (
            [{"system": "s", "dataSourceName": "x", "chunks": [{"id": "a", "size": -1}]}],
            "sources[0].chunks[0].size",
            -1,
        ),
        (
            [{"system": "s", "dataSourceName": "x", "chunks": [{"id": "a", "kind": "blob"}]}],
            "sources[0].chunks[0].kind",
            "blob",
        ),
        (
            [
                {
                    "system": "s",
                    "dataSourceName": "x",
                    "chunks": [{"id": "a", "locations": ["zone:z9"]}],
                }
            ],
            "sources[0].chunks[0].locations",
            "zone:z9",
        ),
    ],
)
def test_bad_chunks_are_named(sources: list[dict[str, Any]], field: str, value: object) -> None:
    with pytest.raises(SpecError) as err:
        PlacementRequest.parse(request(sources=sources))
    assert (err.value.field, err.value.value) == (field, value)


def test_duplicate_chunk_ids_across_sources_are_rejected() -> None:
    twice = {"system": "s", "dataSourceName": "x", "chunks": [{"id": "a"}]}
    with pytest.raises(SpecError, match="duplicate chunk id"):
        PlacementRequest.parse(request(sources=[twice, {**twice, "dataSourceName": "y"}]))


@pytest.mark.parametrize(
    ("topology", "field"),
    [
        ({"nodes": []}, "topology.nodes"),
        ({"nodes": [{"name": "Node_1"}]}, "topology.nodes[0].name"),
        ({"nodes": [{"name": "a"}, {"name": "a"}]}, "topology.nodes"),
        ({"nodes": [{"name": "a", "load": 1.5}]}, "topology.nodes[0].load"),
        ({"nodes": [{"name": "a"}], "bandwidth": {"7": 1}}, "topology.bandwidth.7"),
        ({"nodes": [{"name": "a"}], "bandwidth": {"2": "1e12"}}, "topology.bandwidth.2"),
        (
            {
                "nodes": [
                    {"name": "a", "zone": "z", "region": "r1"},
                    {"name": "b", "zone": "z", "region": "r2"},
                ]
            },
            "topology.nodes.b.region",
        ),
        ({"nodes": [{"name": "a", "cpu": 3}]}, "topology.nodes[0].cpu"),
    ],
)
def test_bad_topology_is_named(topology: dict[str, Any], field: str) -> None:
    with pytest.raises(SpecError) as err:
        PlacementRequest.parse(request(topology=topology, sources=[]))
    assert err.value.field == field


def test_models_are_frozen() -> None:
    node = Node(name="a")
    with pytest.raises(ValueError):
        node.load = 0.5  # type: ignore[misc]


def test_request_sorts_chunks_and_nodes_for_determinism() -> None:
    req = PlacementRequest.parse(request())
    assert [c.id for c in req.chunks] == ["a", "b"]
    assert [n.name for n in req.topology.nodes] == ["node1", "node2"]
    shuffled = request(
        topology={"nodes": [{"name": "node2", "zone": "z1"}, {"name": "node1", "zone": "z1"}]}
    )
    assert PlacementRequest.parse(shuffled) == req


def test_tiers_follow_the_domain_tree() -> None:
    topo = Topology(
        nodes=[
            Node(name="a", zone="z1", region="r1", cluster="c1"),
            Node(name="b", zone="z1", region="r1", cluster="c1"),
            Node(name="c", zone="z2", region="r1", cluster="c1"),
            Node(name="d", zone="z3", region="r2", cluster="c1"),
            Node(name="e", zone="z1", region="r1", cluster="c2"),
            Node(name="f"),
            Node(name="g"),
        ]
    )
    assert [topo.tier("a", x) for x in "abcde"] == [0, 1, 2, 3, 4]
    # Nodes without a zone share no zone or region with anyone.
    assert topo.tier("f", "g") == 3


def test_default_bandwidth_falls_with_the_tier() -> None:
    topo = Topology(nodes=[Node(name="a")])
    costs = [topo.cost_per_byte(t) for t in range(TIER_COUNT)]
    # Local reads are free and every tier farther costs strictly more per byte.
    assert costs[0] == 0
    assert all(near < far for near, far in itertools.pairwise(costs)), costs


def test_capacity_counts_pods_cpu_and_memory() -> None:
    node = Node(
        name="a",
        allocatable=Resources(cpu=4, memory="8Gi", pods=10),
        requested=Resources(cpu=1, memory="1Gi", pods=2),
    )
    assert node.replica_capacity(Resources(cpu="1", memory="1Gi")) == 3
    assert node.replica_capacity(Resources(cpu="100m", memory="3Gi")) == 2
    assert node.replica_capacity(Resources(cpu="0", memory="0")) == 8


def test_data_source_answers_its_input() -> None:
    data_input = DataInput(system="iceberg", name="db.t", attributes={"snapshot": "1"})
    source = DataSource.for_input(data_input, chunks=[Chunk(id="f1", size="1Mi")])
    assert source.key == data_input.key == "iceberg/table/db.t?snapshot=1"
    assert source.total_bytes == 2**20
