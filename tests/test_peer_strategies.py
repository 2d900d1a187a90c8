"""Peer strategies (vineyard, spread, mcdm, round-robin): their rules on hand-worked cases,
invariants, and plans compared with references worked out in tests/peer_references.py."""

from __future__ import annotations

import math
import random
from collections import Counter
from collections.abc import Sequence
from typing import Any

import pytest

from datalocality.errors import InfeasiblePlacement
from datalocality.model import CRITERIA, PlacementPlan, PlacementRequest
from datalocality.placement import Context, plan
from datalocality.placement.mcdm import CopyDomains, data_locality
from datalocality.synthetic import build_instance, preset
from tests.peer_references import EXPECTED, Expected, NoPlan, tier_finder
from tests.peer_references import data_locality as expected_locality
from tests.strategies_support import MULTI_COPY, SHAPES, random_spec, shuffled

PEERS = ("vineyard", "spread", "mcdm")
Spec = dict[str, Any]


def request(
    nodes: Sequence[Any], chunks: Sequence[Any], replicas: int = 1, **consumer: Any
) -> PlacementRequest:
    """A request reading ``chunks`` (one source) on ``nodes``."""
    spec_consumer: Spec = {**consumer, "replicas": replicas}
    sources = [{"system": "demo", "dataSourceName": "d", "chunks": chunks}] if chunks else []
    return PlacementRequest.parse(
        {
            "topology": {"nodes": nodes},
            "consumer": spec_consumer,
            "sources": sources,
        }
    )


def vineyard_case(with_node3_chunk: bool) -> PlacementRequest:
    """12 unit chunks, 9 on node1 and 3 on node2 (ids interleaved), maybe a 13th on node3."""
    on_node2 = {"c00", "c05", "c10"}
    chunks = [
        {"id": f"c{i:02d}", "locations": ["node2" if f"c{i:02d}" in on_node2 else "node1"]}
        for i in range(12)
    ]
    if with_node3_chunk:
        chunks.append({"id": "c12", "locations": ["node3"]})
    nodes = [{"name": n, "zone": "z"} for n in ("node1", "node2", "node3")]
    return request(nodes, chunks, replicas=3)


# --- vineyard ---------------------------------------------------------------------------


def test_vineyard_nine_and_three_chunks_gives_node1_node1_node2() -> None:
    result = plan(vineyard_case(with_node3_chunk=False), "vineyard")
    assert [r.node for r in result.replicas] == ["node1", "node1", "node2"]
    # Chunks ordered by holder then id, cut into contiguous ranges of 4.
    assert [r.chunks for r in result.replicas] == [
        ("c01", "c02", "c03", "c04"),
        ("c06", "c07", "c08", "c09"),
        ("c00", "c05", "c10", "c11"),
    ]
    assert [r.score_terms["target"] for r in result.replicas] == [2.0, 6.0, 10.0]
    assert "cumulative chunks 9 reach 6 at node1" in result.replicas[1].reason
    assert "cumulative chunks 12 reach 10 at node2" in result.replicas[2].reason


def test_vineyard_thirteenth_chunk_on_node3_moves_last_replica_there() -> None:
    result = plan(vineyard_case(with_node3_chunk=True), "vineyard")
    assert [r.node for r in result.replicas] == ["node1", "node1", "node3"]
    assert [r.score_terms["target"] for r in result.replicas] == [3.0, 8.0, 13.0]
    assert result.replicas[2].score_terms["cumulative"] == 13.0
    # The last range holds node2's three chunks and node3's one.
    assert result.replicas[2].chunks == ("c00", "c05", "c10", "c12")


def test_vineyard_full_node_passes_replica_to_next_node_with_room() -> None:
    req = vineyard_case(with_node3_chunk=False)
    nodes = [{"name": "node1", "allocatable": {"pods": 1}}, {"name": "node2"}, {"name": "node3"}]
    req = request(nodes, [c.model_dump() for c in req.chunks], replicas=3)
    result = plan(req, "vineyard")
    assert [r.node for r in result.replicas] == ["node1", "node2", "node2"]
    assert "node1 full, next with room node2" in result.replicas[1].reason


def test_vineyard_full_last_node_wraps_to_first_with_room() -> None:
    nodes = [{"name": "a"}, {"name": "b", "allocatable": {"pods": 1}}]
    chunks = [{"id": f"c{i}", "locations": ["b"]} for i in range(4)]
    result = plan(request(nodes, chunks, replicas=2), "vineyard")
    assert [r.node for r in result.replicas] == ["b", "a"]


def test_vineyard_chunks_off_nodes_sort_last_and_targets_past_them_fall_back() -> None:
    nodes = [{"name": "a", "zone": "z1"}, {"name": "b", "zone": "z1"}]
    chunks = [
        {"id": "a1", "locations": []},
        {"id": "a2", "locations": ["zone:z1"]},
        {"id": "a3"},
        {"id": "z9", "locations": ["b"]},
    ]
    result = plan(request(nodes, chunks, replicas=2), "vineyard")
    # nchunks 2: target 1 is reached at b (cumulative 1); target 3 by no node -> first node.
    assert [r.node for r in result.replicas] == ["b", "a"]
    assert result.replicas[0].chunks == ("a1", "z9")  # b's chunk first, then a1 by id
    assert result.replicas[1].chunks == ("a2", "a3")
    assert "first eligible node" in result.replicas[1].reason


def test_vineyard_counts_a_chunk_for_an_eligible_holder() -> None:
    nodes = [
        {"name": "a", "labels": {"pool": "batch"}},
        {"name": "b", "labels": {"pool": "data"}},
        {"name": "c", "labels": {"pool": "data"}},
    ]
    # Both chunks are on a (not eligible); one also on c.
    chunks = [{"id": "x", "locations": ["a", "c"]}, {"id": "y", "locations": ["a"]}]
    result = plan(request(nodes, chunks, nodeSelector={"pool": "data"}), "vineyard")
    # Cumulative: a 1 (y), b 1, c 2 (x held by c): target 1 -> first eligible reaching it: b.
    assert [r.node for r in result.replicas] == ["b"]
    assert result.replicas[0].chunks == ("x", "y")


def test_vineyard_without_data_is_round_robin() -> None:
    nodes = [{"name": n} for n in ("a", "b", "c")]
    result = plan(request(nodes, [], replicas=4), "vineyard")
    assert [r.node for r in result.replicas] == ["a", "b", "c", "a"]


# --- round-robin ------------------------------------------------------------------------


def test_round_robin_reasons_name_the_node_each_replica_got() -> None:
    # a has room for one replica: the replicas whose turn falls on it are moved on to b.
    nodes = [{"name": "a", "allocatable": {"pods": 1}}, {"name": "b"}]
    chunks = [{"id": f"c{i}", "locations": ["a"]} for i in range(4)]
    result = plan(request(nodes, chunks, replicas=4), "round-robin")
    assert [r.node for r in result.replicas] == ["a", "b", "b", "b"]
    reasons = [r.reason.split("; ", 1)[1] for r in result.replicas]
    assert reasons == [
        "round-robin: its turn, node a (#0 in name order)",
        "round-robin: its turn, node b (#1 in name order)",
        "round-robin: node a in turn had no room, moved to b (#1 in name order)",
        "round-robin: node a in turn had no room, moved to b (#1 in name order)",
    ]


def test_round_robin_reason_lists_every_full_node_it_moved_past() -> None:
    nodes = [
        {"name": "a", "allocatable": {"pods": 1}},
        {"name": "b", "allocatable": {"pods": 1}},
        {"name": "c"},
    ]
    result = plan(request(nodes, [], replicas=4), "round-robin")
    assert [r.node for r in result.replicas] == ["a", "b", "c", "c"]
    assert result.replicas[3].reason.endswith(
        "round-robin: nodes a, b in turn had no room, moved to c (#2 in name order)"
    )


# --- spread -----------------------------------------------------------------------------


def busy_nodes() -> list[Spec]:
    """Three 4-core 8Gi nodes: a is busy (and holds the data), b half busy, c idle."""
    alloc = {"cpu": "4", "memory": "8Gi", "pods": 10}
    return [
        {"name": "a", "allocatable": alloc, "requested": {"cpu": "3", "memory": "6Gi"}},
        {"name": "b", "allocatable": alloc, "requested": {"cpu": "1", "memory": "2Gi"}},
        {"name": "c", "allocatable": alloc},
    ]


def test_spread_picks_least_allocated_nodes_and_ignores_data() -> None:
    chunks = [{"id": f"c{i}", "locations": ["a"]} for i in range(4)]
    req = request(busy_nodes(), chunks, replicas=2, requests={"cpu": "1", "memory": "2Gi"})
    result = plan(req, "spread")
    # c: (4-1)/4 = 0.75 on both; then c again (4-2)/4 = 0.5 ties b (4-2)/4 = 0.5 -> b by name.
    assert [r.node for r in result.replicas] == ["c", "b"]
    assert [r.score_terms["least_allocated"] for r in result.replicas] == [0.75, 0.5]
    assert "least allocated 0.75" in result.replicas[0].reason
    # Chunks dealt round-robin in id order, though every one of them sits on a.
    assert [r.chunks for r in result.replicas] == [("c0", "c2"), ("c1", "c3")]
    assert result.totals.moved_bytes == 4


def test_spread_counts_replicas_already_placed() -> None:
    nodes = [
        {"name": "a", "allocatable": {"cpu": "8", "memory": "8Gi", "pods": 10}},
        {"name": "b", "allocatable": {"cpu": "4", "memory": "4Gi", "pods": 10}},
    ]
    req = request(nodes, [], replicas=3, requests={"cpu": "1", "memory": "1Gi"})
    # a: 7/8, b: 3/4, a: 6/8 ties b 3/4 -> a by name, then b 3/4 beats a 5/8.
    assert [r.node for r in plan(req, "spread").replicas] == ["a", "a", "b"]


def test_spread_with_empty_requests_still_spreads_by_nonzero_defaults() -> None:
    nodes = [{"name": n} for n in ("c", "a", "b")]
    result = plan(request(nodes, [], replicas=4), "spread")
    assert [r.node for r in result.replicas] == ["a", "b", "c", "a"]


# --- mcdm -------------------------------------------------------------------------------


def data_vs_idle(workload_class: str) -> PlacementRequest:
    """One replica: node data (busy, holds all bytes) against node idle (free, no data)."""
    nodes = [
        {
            "name": "data",
            "zone": "z1",
            "allocatable": {"cpu": "4", "pods": 10},
            "requested": {"cpu": "3"},
        },
        {"name": "idle", "zone": "z2", "allocatable": {"cpu": "4", "pods": 10}},
    ]
    chunks = [{"id": f"c{i}", "size": 1000, "locations": ["data"]} for i in range(3)]
    return request(nodes, chunks, requests={"cpu": "1"}, workloadClass=workload_class)


def test_mcdm_data_intensive_picks_the_data_node() -> None:
    replica = plan(data_vs_idle("data-intensive"), "mcdm").replicas[0]
    assert replica.node == "data"
    # resource 0 (the busiest), every other criterion 1: 0.05 + 0.10 + 0.05 + 0.70.
    assert replica.score_terms["resource"] == 0.0
    assert replica.score_terms["data_locality"] == 1.0
    assert replica.score_terms["total"] == pytest.approx(0.90)
    assert "score 0.90 (data_locality 1.00)" in replica.reason


def test_mcdm_compute_intensive_picks_the_idle_node() -> None:
    replica = plan(data_vs_idle("compute-intensive"), "mcdm").replicas[0]
    assert replica.node == "idle"
    # 0.40 resource + 0.15 + 0.10 + 0.15; data_locality 0 (other zone, other region).
    assert replica.score_terms["data_locality"] == 0.0
    assert replica.score_terms["total"] == pytest.approx(0.80)
    assert set(replica.score_terms) >= {*CRITERIA, "total"}


def test_mcdm_default_profile_weighs_zone_locality() -> None:
    alloc = {"cpu": "8", "memory": "16Gi"}
    nodes = [
        {"name": "far", "zone": "z2", "region": "r2", "allocatable": {**alloc, "pods": 10}},
        {"name": "holder", "zone": "z1", "region": "r1", "allocatable": {**alloc, "pods": 1}},
        {"name": "near", "zone": "z1", "region": "r1", "allocatable": {**alloc, "pods": 10}},
    ]
    chunks = [{"id": f"c{i}", "locations": ["holder"]} for i in range(4)]
    result = plan(request(nodes, chunks, replicas=2), "mcdm")
    # holder first (locality 1.0); then near (0.8 of the bytes) beats far (0).
    assert [r.node for r in result.replicas] == ["holder", "near"]
    assert result.replicas[1].score_terms["data_locality"] == 1.0


def test_mcdm_explicit_weights_follow_capabilities_and_node_type() -> None:
    nodes = [
        {"name": "a", "node_type": "edge"},
        {"name": "b", "capabilities": ["gpu", "nvme"]},
        {"name": "c", "capabilities": ["gpu"], "node_type": "cloud"},
    ]
    chunks = [{"id": "x", "locations": ["a"]}]
    caps = request(nodes, chunks, capabilities=["gpu", "nvme"], weights={"capabilities": 1.0})
    assert plan(caps, "mcdm").replicas[0].node == "b"
    kind = request(nodes, chunks, preferredNodeType="cloud", weights={"node_type": 1.0})
    assert plan(kind, "mcdm").replicas[0].node == "c"
    terms = plan(kind, "mcdm").replicas[0].score_terms
    assert terms["capabilities"] == 1.0  # none required: equal for all, normalised to 1


def test_mcdm_recomputes_resource_after_each_replica() -> None:
    nodes = [{"name": n, "allocatable": {"cpu": "4", "pods": 10}} for n in ("a", "b", "c")]
    result = plan(request(nodes, [], replicas=3, requests={"cpu": "1"}), "mcdm")
    assert [r.node for r in result.replicas] == ["a", "b", "c"]


def test_mcdm_assigns_chunks_to_their_local_replicas() -> None:
    nodes = [{"name": n, "zone": "z"} for n in ("a", "b", "c")]
    chunks = [{"id": f"c{i}", "locations": ["a" if i % 2 else "b"]} for i in range(6)]
    result = plan(request(nodes, chunks, replicas=2, workloadClass="data-intensive"), "mcdm")
    assert sorted(r.node for r in result.replicas) == ["a", "b"]
    assert result.totals.moved_bytes == 0
    for replica in result.replicas:
        assert len(replica.chunks) == 3


def test_mcdm_unit_quota_lets_only_one_replica_take_an_extra_chunk() -> None:
    # 7 unit chunks, 3 replicas: quota 2 each plus 1 extra. Six chunks are on a, which hosts
    # two replicas; without the extras rule both would take 3, leaving 1 for b's replica.
    alloc = {"cpu": "8", "memory": "16Gi"}
    nodes = [
        {"name": "a", "zone": "z", "allocatable": {**alloc, "pods": 2}},
        {"name": "b", "zone": "z", "allocatable": {**alloc, "pods": 10}},
    ]
    chunks = [{"id": f"c{i}", "locations": ["a" if i < 6 else "b"]} for i in range(7)]
    result = plan(request(nodes, chunks, replicas=3, workloadClass="data-intensive"), "mcdm")
    assert [r.node for r in result.replicas] == ["a", "a", "b"]
    assert [len(r.chunks) for r in result.replicas] == [3, 2, 2]
    assert "c6" in result.replicas[2].chunks
    assert result.totals.moved_bytes == 1


# --- shared invariants -------------------------------------------------------------------


@pytest.mark.parametrize("strategy", PEERS)
def test_node_with_room_for_one_never_gets_two(strategy: str) -> None:
    nodes = [
        {"name": "a", "allocatable": {"pods": 1, "cpu": "64", "memory": "64Gi"}},
        {
            "name": "b",
            "allocatable": {"cpu": "4", "memory": "4Gi", "pods": 10},
            "requested": {"cpu": "3"},
        },
        {
            "name": "c",
            "allocatable": {"cpu": "4", "memory": "4Gi", "pods": 10},
            "requested": {"cpu": "3"},
        },
    ]
    chunks = [{"id": f"c{i}", "locations": ["a"]} for i in range(6)]
    req = request(nodes, chunks, replicas=3, workloadClass="data-intensive")
    counts = Counter(r.node for r in plan(req, strategy).replicas)
    assert counts["a"] == 1
    assert sum(counts.values()) == 3


@pytest.mark.parametrize("strategy", PEERS)
def test_uneven_sizes_keep_the_byte_cap(strategy: str) -> None:
    nodes = [{"name": n, "zone": "z"} for n in ("a", "b", "c")]
    sizes = [900, 5, 700, 10, 10, 400, 300, 30, 1, 600]
    chunks: list[Spec] = [
        {"id": f"c{i}", "size": s, "locations": ["a" if i < 7 else "b"]}
        for i, s in enumerate(sizes)
    ]
    result = plan(request(nodes, chunks, replicas=3), strategy)
    cap = math.ceil(sum(sizes) / 3) + max(sizes)
    assert sorted(c for r in result.replicas for c in r.chunks) == sorted(c["id"] for c in chunks)
    assert all(0 < r.bytes <= cap for r in result.replicas)


@pytest.mark.parametrize("strategy", PEERS)
@pytest.mark.parametrize("seed", range(40))
def test_same_plan_when_inputs_are_shuffled(strategy: str, seed: int) -> None:
    spec = random_spec(seed, MULTI_COPY if seed % 2 else SHAPES["domain-locations"])
    expected = plan(PlacementRequest.parse(spec), strategy)
    rng = random.Random(seed)
    for _ in range(3):
        again = plan(PlacementRequest.parse(shuffled(spec, rng)), strategy)
        assert again.replicas == expected.replicas
        assert again.totals == expected.totals


@pytest.mark.parametrize("strategy", PEERS)
def test_random_requests_give_checked_plans(strategy: str) -> None:
    for seed in range(200):
        req = PlacementRequest.parse(random_spec(1000 + seed, SHAPES["everything"]))
        result = plan(req, strategy)  # build_plan checks coverage, balance and capacity
        assert len(result.replicas) == req.consumer.replicas
        assert result.totals.bytes == req.total_bytes


# --- references: each rule worked out plainly, with no placement code -------------------
#
# tests/peer_references.py reads the request and follows the rule each strategy's module
# docstring states (which nodes are eligible, the balance quota, the strategy's own rule),
# looking at every node for every replica and every (chunk, replica) pair. The fast modules
# (heaps, per-domain sums) must give the same nodes, chunks, score terms and reasons.

# Score terms every plan shows beside the strategy's own (build_plan adds them).
PLAN_TERMS = {"cost_seconds", "local_fraction"}


def observed(result: PlacementPlan) -> list[Expected]:
    """A plan's replicas in the shape of the references' answers."""
    return [
        Expected(
            node=r.node,
            chunks=r.chunks,
            terms={k: v for k, v in r.score_terms.items() if k not in PLAN_TERMS},
            reason=r.reason.partition("; ")[2],  # after "N chunks, X% of bytes local; "
        )
        for r in result.replicas
    ]


def scored_spec(seed: int) -> Spec:
    """A random request that varies every mcdm criterion, with many exact ties."""
    rng = random.Random(seed)
    spec = random_spec(seed, SHAPES[rng.choice(sorted(SHAPES))])
    caps = ("gpu", "nvme", "fpga")
    for node in spec["topology"]["nodes"]:
        node["allocatable"] = {
            **node.get("allocatable", {}),
            "cpu": rng.choice([2, 4, 8]),
            "memory": rng.choice(["4Gi", "8Gi", "16Gi"]),
        }
        node["requested"] = {**node.get("requested", {}), "cpu": rng.choice([0, 0, 1, 2])}
        node["node_type"] = rng.choice(["", "edge", "cloud"])
        node["capabilities"] = rng.sample(caps, rng.randint(0, 3))
    consumer = spec["consumer"]
    consumer["requests"] = rng.choice([{}, {"cpu": "500m"}, {"cpu": 1, "memory": "1Gi"}])
    consumer["preferredNodeType"] = rng.choice(["", "edge", "cloud"])
    consumer["capabilities"] = rng.sample(caps, rng.randint(0, 2))
    if rng.random() < 0.5:
        parts = {c: rng.choice([0, 0, 1, 2, 4]) for c in CRITERIA}
        parts[rng.choice(CRITERIA)] += 1
        consumer["weights"] = {c: n / sum(parts.values()) for c, n in parts.items() if n}
    else:
        consumer["workloadClass"] = rng.choice(["default", "data-intensive", "compute-intensive"])
    chunks = [chunk for source in spec["sources"] for chunk in source.get("chunks", [])]
    zero = rng.random()
    for chunk in chunks:
        if zero < 0.1 or (zero < 0.2 and rng.random() < 0.3):
            chunk["size"] = 0  # all chunks empty (unit quota of 0 bytes), or some
    return spec


def piled_spec(seed: int) -> Spec:
    """A random request with small chunks (sizes 1..4, or all 2) piled on one or two nodes:
    replicas there often fill up to the byte cap exactly, or up to the extra unit chunk."""
    rng = random.Random(seed)
    names = ["a", "b", "c", "d"][: rng.randint(2, 4)]
    nodes: list[Spec] = [
        {"name": n, "zone": rng.choice(["z1", "z2"]), "allocatable": {"pods": rng.randint(1, 3)}}
        for n in names
    ]
    holders = names[: rng.randint(1, 2)]
    unit = rng.random() < 0.3
    chunks: list[Spec] = [
        {"id": f"c{i:02d}", "size": 2 if unit else rng.randint(1, 4), "locations": [h]}
        for i, h in enumerate(rng.choice(holders) for _ in range(rng.randint(2, 9)))
    ]
    room = sum(n["allocatable"]["pods"] for n in nodes)
    consumer: Spec = {
        "replicas": rng.randint(2, min(4, room)),
        "workloadClass": rng.choice(["default", "data-intensive"]),
    }
    sources = [{"system": "demo", "dataSourceName": "d", "chunks": chunks}]
    return {"topology": {"nodes": nodes}, "consumer": consumer, "sources": sources}


def same_plans(request: PlacementRequest, strategy: str) -> None:
    """The strategy places every replica and chunk as its rule says, or both say no plan."""
    try:
        expected = EXPECTED[strategy](request)
    except NoPlan:
        with pytest.raises(InfeasiblePlacement):
            plan(request, strategy)
        return
    assert observed(plan(request, strategy)) == expected


ALL_PEERS = ["round-robin", *PEERS]


@pytest.mark.parametrize("strategy", ALL_PEERS)
def test_same_plans_as_reference_on_random_requests(strategy: str) -> None:
    for seed in range(150):
        for shape in sorted(SHAPES):
            same_plans(PlacementRequest.parse(random_spec(seed, SHAPES[shape])), strategy)
        same_plans(PlacementRequest.parse(scored_spec(seed)), strategy)
        same_plans(PlacementRequest.parse(piled_spec(seed)), strategy)


def zoned(request: PlacementRequest, rng: random.Random) -> PlacementRequest:
    """The same request with some chunks' first copy moved to its zone, region or cluster,
    and some chunks left with no copy at all."""
    spec = request.model_dump(by_alias=True, exclude_unset=True)
    nodes = {n["name"]: n for n in spec["topology"]["nodes"]}
    for chunk in (c for source in spec["sources"] for c in source["chunks"]):
        locations = list(chunk.get("locations", ()))
        if locations and rng.random() < 0.3:
            kind = rng.choice(["zone", "region", "cluster", ""])
            home = nodes[locations[0]]
            locations = [f"{kind}:{home[kind]}", *locations[1:]] if kind else []
            chunk["locations"] = locations
    return PlacementRequest.parse(spec)


@pytest.mark.parametrize("strategy", ALL_PEERS)
@pytest.mark.parametrize("unit", [True, False])
def test_same_plans_as_reference_on_synthetic_instances(strategy: str, unit: bool) -> None:
    rng = random.Random(0)
    for seed in range(8):
        same_plans(build_instance("small", seed, unit), strategy)
        two = build_instance(preset("small", copies=2), seed, unit)
        same_plans(two, strategy)
        same_plans(zoned(two, rng), strategy)
        tight = preset("small", clusters=2, pods_per_node=1, replicas=8, copies=2)
        same_plans(zoned(build_instance(tight, seed, unit), rng), strategy)
    medium = preset("medium", chunks=1500, nodes=60, replicas=24, copies=2, clusters=2)
    same_plans(zoned(build_instance(medium, 0, unit), rng), strategy)


@pytest.mark.parametrize("seed", range(30))
def test_data_locality_sums_per_domain_equal_the_per_pair_sums(seed: int) -> None:
    spec = scored_spec(seed) if seed % 2 else random_spec(seed, SHAPES["everything"])
    request = PlacementRequest.parse(spec)
    ctx = Context.of(request)
    nodes = request.topology.nodes
    fast = data_locality(ctx, nodes, CopyDomains(ctx.costs))
    expected = expected_locality(request)
    assert fast == [expected[node.name] for node in nodes]
    # Summed in float weights chunk by chunk, only rounding differs.
    tier = tier_finder(request)
    weights = (1.0, 0.8, 0.5, 0.0, 0.0)
    floats = [sum(c.size * weights[tier(c, n)] for c in request.chunks) for n in nodes]
    assert fast == pytest.approx(floats, rel=1e-12)
