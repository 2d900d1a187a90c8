"""What a plan says beyond the assignment: operations, clusters, explanations, JSON."""

from __future__ import annotations

import gc
from typing import Any

import pytest

from datalocality.errors import UnknownStrategy
from datalocality.model import PlacementRequest
from datalocality.placement import collection_paused, optimal, plan, strategy_names
from datalocality.placement.build import Context, Decision
from datalocality.placement.candidates import Candidates


def req(chunks: list[dict[str, Any]], **consumer: Any) -> PlacementRequest:
    nodes = [
        {"name": "n1", "zone": "z1", "region": "r1", "cluster": "west"},
        {"name": "n2", "zone": "z1", "region": "r1", "cluster": "west"},
        {"name": "n3", "zone": "z2", "region": "r2", "cluster": "east"},
    ]
    consumer_spec: dict[str, Any] = {"replicas": 2, **consumer}
    return PlacementRequest.parse(
        {
            "topology": {"nodes": nodes},
            "consumer": consumer_spec,
            "sources": [{"system": "s", "dataSourceName": "d", "chunks": chunks}],
        }
    )


def test_repartition_when_chunk_count_differs_from_replicas() -> None:
    chunks = [{"id": f"c{i}", "locations": ["n1" if i < 3 else "n3"]} for i in range(5)]
    result = plan(req(chunks, partitioning="one-per-replica"))
    ops = [op for op in result.operations if op.kind == "repartition"]
    # One operation per replica, on its node, reading exactly what the replica reads.
    assert sorted(op.replica for op in ops if op.replica is not None) == [0, 1]
    for op in ops:
        replica = result.replicas[op.replica or 0]
        assert op.node == replica.node
        assert set(op.chunks) == set(replica.chunks)
        assert "5 chunks for 2 replicas" in op.reason


def test_no_repartition_when_shapes_match_or_any_partitioning() -> None:
    chunks = [{"id": "a", "locations": ["n1"]}, {"id": "b", "locations": ["n3"]}]
    assert plan(req(chunks, partitioning="one-per-replica")).operations == ()
    three = [*chunks, {"id": "c", "locations": ["n2"]}]
    assert plan(req(three)).operations == ()


def test_stream_on_one_node_gets_a_local_assembly() -> None:
    chunks = [{"id": f"s{i}", "kind": "stream", "locations": ["n2"]} for i in range(3)]
    ops = plan(req(chunks)).operations
    assert [(op.kind, op.scope, op.node, op.chunks) for op in ops] == [
        ("assembly", "local", "n2", ("s0", "s1", "s2"))
    ]


def test_stream_over_nodes_gets_distributed_assembly_per_node() -> None:
    chunks = [
        {"id": "s0", "kind": "stream", "locations": ["n1"]},
        {"id": "s1", "kind": "stream", "locations": ["n3"]},
        {"id": "s2", "kind": "stream", "locations": ["n3"]},
    ]
    ops = plan(req(chunks)).operations
    assert [(op.scope, op.node, op.chunks) for op in ops] == [
        ("distributed", "n1", ("s0",)),
        ("distributed", "n3", ("s1", "s2")),
    ]


def test_stream_consumer_needs_no_assembly() -> None:
    chunks = [{"id": "s0", "kind": "stream", "locations": ["n1"]}]
    assert plan(req(chunks, inputFormat="stream")).operations == ()


def test_clusters_are_ranked_by_bytes_held() -> None:
    chunks = [
        {"id": "a", "size": 100, "locations": ["n3"]},
        {"id": "b", "size": 30, "locations": ["n1"]},
        {"id": "c", "size": 50, "locations": ["zone:z1"]},
    ]
    result = plan(req(chunks))
    assert [(c.name, c.bytes) for c in result.clusters] == [("east", 100), ("west", 80)]


def test_every_replica_is_explained() -> None:
    chunks = [{"id": f"c{i}", "size": 10, "locations": ["n1" if i < 3 else "n3"]} for i in range(4)]
    for strategy in strategy_names():
        result = plan(req(chunks), strategy)
        for replica in result.replicas:
            assert replica.bytes == replica.local_bytes + replica.moved_bytes
            share = replica.local_bytes / replica.bytes if replica.bytes else 1.0
            assert replica.score_terms["local_fraction"] == pytest.approx(share)
            assert replica.score_terms["cost_seconds"] == pytest.approx(replica.cost)
            assert f"{len(replica.chunks)} chunks" in replica.reason
        moved = sum(t.bytes for t in result.transfers)
        assert moved == result.totals.moved_bytes


def test_json_plan_has_the_documented_keys() -> None:
    chunks = [{"id": "a", "locations": ["n1"]}, {"id": "b", "locations": ["n3"]}]
    data: dict[str, Any] = plan(req(chunks, replicas=1)).to_json_dict()
    assert {"strategy", "replicas", "transfers", "operations", "totals"} <= set(data)
    replica = data["replicas"][0]
    assert {"index", "node", "cluster", "chunks", "bytes", "local_bytes", "moved_bytes"} <= set(
        replica
    )
    transfer = data["transfers"][0]
    assert set(transfer) == {"chunk", "from", "to", "bytes", "tier"}
    totals = data["totals"]
    assert {"bytes", "moved_bytes", "cost", "lower_bound_cost"} <= set(totals)


def test_unknown_strategy_names_the_choices() -> None:
    with pytest.raises(UnknownStrategy, match="round-robin"):
        plan(req([{"id": "a"}]), "fastest")


def test_plan_restores_the_garbage_collector_state_even_when_it_raises() -> None:
    assert gc.isenabled()
    with collection_paused():
        assert not gc.isenabled()
    assert gc.isenabled()
    gc.disable()
    try:
        with pytest.raises(RuntimeError), collection_paused():
            raise RuntimeError("boom")
        assert not gc.isenabled()  # a caller that had it off keeps it off
    finally:
        gc.enable()
    with pytest.raises(RuntimeError), collection_paused():
        raise RuntimeError("boom")
    assert gc.isenabled()


def two_region_request() -> PlacementRequest:
    """Four replicas in one region (hard): each region's plan meets its own bound, but
    the other region's bound is lower, so the whole plan is not proven optimal."""
    nodes = [
        {"name": "birch", "zone": "z2", "region": "r1", "allocatable": {"pods": 3}},
        {"name": "grove", "zone": "z1", "region": "r2", "allocatable": {"pods": 3}},
        {"name": "cedar", "zone": "z2", "region": "r1", "allocatable": {"pods": 2}},
        {"name": "elm", "allocatable": {"pods": 3}},
        {"name": "amber", "zone": "z1", "region": "r2", "allocatable": {"pods": 3}},
    ]
    copies = [
        ["grove"], ["elm", "cedar", "amber"], ["elm", "grove"], ["grove", "amber"], ["birch"],
        ["amber", "birch", "cedar"], ["cedar", "birch"], ["cedar", "amber"], ["cedar", "birch"],
        ["cedar", "amber"], ["birch", "cedar", "amber"],
    ]  # fmt: skip
    chunks = [{"id": f"c{i:02d}", "size": 1000, "locations": at} for i, at in enumerate(copies)]
    return PlacementRequest.parse(
        {
            "topology": {
                "nodes": nodes,
                "bandwidth": {"1": 1e9, "2": 2e8, "3": 1e8, "4": 2.5e7},
            },
            "consumer": {
                "replicas": 4,
                "partitioning": "one-per-replica",
                "topology": {"mode": "hard", "highestTierAllowed": 2},
            },
            "sources": [{"system": "demo", "dataSourceName": "d", "chunks": chunks}],
        }
    )


def test_plan_restates_the_verdict_without_changing_the_strategys_decision(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    made: list[tuple[Decision, bool, list[str] | None, list[str]]] = []
    place = optimal.place

    def spy(ctx: Context, candidates: Candidates) -> Decision:
        decision = place(ctx, candidates)
        made.append((decision, decision.proven_optimal, decision.reasons, decision.notes))
        return decision

    monkeypatch.setattr(optimal, "place", spy)
    result = plan(two_region_request(), "optimal")
    # Both regions were searched and each decision met its region's bound ...
    assert len(made) == 2 and all(proven for _, proven, _, _ in made)
    # ... but a rival region's bound leaves room for a cheaper plan.
    assert not result.totals.proven_optimal
    for decision, proven, reasons, notes in made:
        assert decision.proven_optimal is proven
        assert decision.reasons is reasons and decision.notes is notes
