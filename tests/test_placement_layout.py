"""The ``layout`` XCom the Placement view draws: what each node holds, the replicas on
it, idle nodes counted, the moves summed; sized by nodes whatever the chunk count."""

from __future__ import annotations

import json

import pytest

from datalocality.model import PlacementRequest
from datalocality.operators.placement_view import MAX_FLOWS, build_placement_layout
from datalocality.placement import plan
from datalocality.synthetic import build_instance

MiB = 2**20


def _request() -> PlacementRequest:
    return PlacementRequest.parse(
        {
            "topology": {
                "nodes": [
                    {"name": "a1", "zone": "a", "region": "r", "cluster": "c"},
                    {"name": "a2", "zone": "a", "region": "r", "cluster": "c"},
                    {"name": "a3", "zone": "a", "region": "r", "cluster": "c"},
                    {"name": "b1", "zone": "b", "region": "r", "cluster": "c"},
                    {"name": "b2", "zone": "b", "region": "r", "cluster": "c"},
                ]
            },
            "consumer": {"name": "train", "replicas": 2},
            "sources": [
                {
                    "system": "s3",
                    "dataSourceName": "events",
                    "chunks": [
                        {"id": "p0", "size": 3 * MiB, "locations": ["a1"]},
                        {"id": "p1", "size": 5 * MiB, "locations": ["a1", "b1"]},
                        {"id": "p2", "size": 7 * MiB, "locations": ["b1"]},
                        {"id": "p3", "size": 1 * MiB, "locations": ["zone:b"]},
                    ],
                }
            ],
        }
    )


def test_nodes_hold_their_chunks_bytes_and_idle_nodes_are_counted_per_zone() -> None:
    request = _request()
    chosen = plan(request, "optimal")
    layout = build_placement_layout(request.topology, request.sources, chosen)
    nodes = {n["name"]: n for n in layout["nodes"]}
    # a chunk counts at each of its copies; data known by its zone only is drawn there
    assert nodes["a1"]["held_bytes"] == 8 * MiB and nodes["a1"]["held_chunks"] == 2
    assert nodes["b1"]["held_bytes"] == 12 * MiB
    assert nodes["zone:b"]["zone"] == "b" and nodes["zone:b"]["held_chunks"] == 1
    assert sorted(i for n in nodes.values() for i in n["replicas"]) == [0, 1]
    shown = set(nodes) - {"zone:b"}
    idle = {(z["zone"], z["count"]) for z in layout["idle_nodes"]}
    expected: dict[str, int] = {}
    for node in request.topology.nodes:
        if node.name not in shown:
            expected[node.zone] = expected.get(node.zone, 0) + 1
    assert idle == set(expected.items()) and expected  # some node is idle here


@pytest.mark.parametrize(("instance", "strategy"), [("medium", "optimal"), ("large", "spread")])
def test_moves_are_summed_to_the_plans_and_the_layout_stays_node_sized(
    instance: str, strategy: str
) -> None:
    """At 100,000 chunks the layout is a few hundred KB: nodes, not chunks."""
    request = build_instance(instance)
    chosen = plan(request, strategy)
    layout = build_placement_layout(request.topology, request.sources, chosen)
    moved = sum(t.bytes for t in chosen.transfers)
    assert sum(f["bytes"] for f in layout["flows"]) + layout["other_flow_bytes"] == moved
    assert len(layout["flows"]) == MAX_FLOWS < len(chosen.transfers)
    sizes = [f["bytes"] for f in layout["flows"]]
    assert sizes == sorted(sizes, reverse=True)  # the biggest moves are the ones drawn
    total_nodes = len(layout["nodes"]) + sum(z["count"] for z in layout["idle_nodes"])
    assert total_nodes == len(request.topology.nodes)
    assert len(json.dumps(layout)) < 512 * 1024
