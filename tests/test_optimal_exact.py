"""The "optimal" strategy against hand-worked cases and an exact MILP reference.

(a) Small cases worked out by hand: replica layout, bytes per tier, hard and soft
    topology, an overloaded gateway, clusters required by inputs.
(b) Unit-size chunks: the plan's cost equals the MILP optimum (tests/milp_reference.py),
    on seeded instances and on hypothesis-drawn ones (which shrink on failure).
(c) Uneven sizes: the MILP relaxation is a lower bound of every plan; the plan's
    reported lower bound is below both the plan and the exact optimum.

The reference is itself checked against exhaustive enumeration on tiny instances.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

import pytest
from hypothesis import given, settings

from datalocality.errors import InfeasiblePlacement
from datalocality.model import PlacementRequest
from datalocality.placement import plan, strategy_names
from tests.milp_reference import brute_force, close, reference_plan, solve
from tests.strategies_support import (
    DOMAIN_LOCATIONS,
    MULTI_COPY,
    SINGLE_COPY,
    Shape,
    Spec,
    at_most,
    available,
    check_plan,
    random_spec,
    request_specs,
)

S = 1000  # bytes per unit chunk in the hand-worked cases
BW = {1: 1.25e9, 2: 6.25e8, 3: 2.5e8, 4: 1.25e8}  # the default bandwidths


def node(name: str, zone: str = "z1", pods: int = 1, **extra: Any) -> Spec:
    return {"name": name, "zone": zone, "region": "r1", "allocatable": {"pods": pods}, **extra}


def chunks(prefix: str, count: int, where: str, size: int = S) -> list[Spec]:
    return [{"id": f"{prefix}{i:02d}", "size": size, "locations": [where]} for i in range(count)]


def request(
    nodes: list[Spec], data: list[Spec], replicas: int, rule: Spec | None = None
) -> PlacementRequest:
    consumer: Spec = {"replicas": replicas}
    if rule is not None:
        consumer["topology"] = rule
    source = {"system": "demo", "dataSourceName": "d", "chunks": data}
    return PlacementRequest.parse(
        {"topology": {"nodes": nodes}, "consumer": consumer, "sources": [source]}
    )


def layout(result: Any) -> Counter[str]:
    return Counter(r.node for r in result.replicas)


# (a) hand-worked cases ---------------------------------------------------------------


def test_two_replicas_go_where_most_data_is() -> None:
    # 12 chunks: 9 on "one", 3 on "two"; 3 replicas read 4 chunks each, 2 pods per node.
    # 2 replicas on "one" read 8 of its 9 chunks locally; the replica on "two" reads its
    # 3 and one chunk from "one" across the zone: 1 chunk moved. (1 on "one" and 2 on
    # "two" would move 5.)
    req = request(
        [node("one", pods=2), node("two", pods=2)],
        chunks("a", 9, "one") + chunks("b", 3, "two"),
        replicas=3,
    )
    result = plan(req)
    assert layout(result) == Counter({"one": 2, "two": 1})
    assert [len(r.chunks) for r in result.replicas] == [4, 4, 4]
    assert result.totals.moved_bytes == S
    assert result.totals.bytes_by_tier == (11 * S, S, 0, 0, 0)
    assert close(result.totals.cost, S / BW[1])
    (on_two,) = [r for r in result.replicas if r.node == "two"]
    assert {c for c in on_two.chunks if c.startswith("b")} == {"b00", "b01", "b02"}
    assert result.totals.proven_optimal
    assert close(result.totals.lower_bound_cost, result.totals.cost)


def test_one_byte_chunks_are_still_read_locally() -> None:
    # Chunks default to 1 byte, whose cost (8e-10 s across a zone) is below an absolute
    # tolerance of 1e-9 s: the replica must still sit on a node holding the copy.
    nodes = [{"name": name, "zone": "z1"} for name in ("amber", "birch", "cedar")]
    data = [{"id": "c1", "locations": ["birch", "cedar"]}]
    result = plan(request(nodes, data, replicas=1))
    assert result.replicas[0].node in {"birch", "cedar"}
    assert result.totals.cost == 0.0
    assert result.totals.bytes_by_tier == (1, 0, 0, 0, 0)


def test_zone_name_shared_by_two_clusters() -> None:
    # Zone z1 exists in west (w1, full) and in east (e1). A chunk at "zone:z1" is read at
    # tier 1 on e1, so e1 takes it and e2 the location-less chunk (tier 4 anywhere).
    nodes = [
        {**node("w1"), "cluster": "west", "requested": {"pods": 1}},
        {**node("e1"), "cluster": "east"},
        {"name": "e2", "cluster": "east", "allocatable": {"pods": 1}},
    ]
    data = [
        {"id": "a", "size": S, "locations": []},
        {"id": "b", "size": S, "locations": ["zone:z1"]},
    ]
    result = plan(request(nodes, data, replicas=2))
    assert {r.node: r.chunks for r in result.replicas} == {"e1": ("b",), "e2": ("a",)}
    assert result.totals.bytes_by_tier == (0, S, 0, 0, S)
    assert close(result.totals.cost, S / BW[1] + S / BW[4])


# Nodes a, b in zone z1 and c in zone z2 (one region), one pod each; 3 chunks on c, 1 on a.
ZONED = [node("a"), node("b"), node("c", zone="z2")]
ZONED_DATA = chunks("c", 3, "c") + chunks("a", 1, "a")


def test_without_a_rule_replicas_follow_the_data() -> None:
    result = plan(request(ZONED, ZONED_DATA, replicas=2))
    # c reads 2 of its chunks, a reads its own and one of c's across zones.
    assert layout(result) == Counter({"a": 1, "c": 1})
    assert result.totals.bytes_by_tier == (3 * S, 0, S, 0, 0)
    assert close(result.totals.cost, S / BW[2])


@pytest.mark.parametrize("mode", ["hard", "soft"])
def test_zone_rule_keeps_replicas_in_the_zone_that_fits(mode: str) -> None:
    # Zone z2 has room for 1 replica only, so both go to z1 and read c's 3 chunks remotely.
    rule = {"mode": mode, "highestTierAllowed": 1}
    result = plan(request(ZONED, ZONED_DATA, replicas=2, rule=rule))
    assert layout(result) == Counter({"a": 1, "b": 1})
    assert result.totals.bytes_by_tier == (S, 0, 3 * S, 0, 0)
    assert close(result.totals.cost, 3 * S / BW[2])
    assert any(f"{mode} topology" in note for note in result.notes), result.notes


def test_soft_rule_is_relaxed_when_no_zone_fits() -> None:
    nodes = [node("a"), node("c", zone="z2")]
    rule = {"mode": "soft", "highestTierAllowed": 1}
    result = plan(request(nodes, ZONED_DATA, replicas=2, rule=rule))
    assert layout(result) == Counter({"a": 1, "c": 1})
    assert close(result.totals.cost, S / BW[2])
    assert any("soft topology relaxed" in note for note in result.notes), result.notes


def test_hard_rule_no_zone_fits_is_infeasible() -> None:
    nodes = [node("a"), node("c", zone="z2")]
    rule = {"mode": "hard", "highestTierAllowed": 1}
    with pytest.raises(InfeasiblePlacement, match="hard topology"):
        plan(request(nodes, ZONED_DATA, replicas=2, rule=rule))


@pytest.mark.parametrize(
    ("load", "where", "tiers"), [(0.9, "a", (0, 3 * S)), (0.5, "g", (3 * S, 0))]
)
def test_overloaded_gateway_sends_its_reader_to_its_zone(
    load: float, where: str, tiers: tuple[int, int]
) -> None:
    nodes = [node("g", gateway=True, load=load), node("a"), node("b", zone="z2")]
    result = plan(request(nodes, chunks("g", 3, "g"), replicas=1))
    assert layout(result) == Counter({where: 1})
    assert result.totals.bytes_by_tier == (*tiers, 0, 0, 0)
    overloaded = any("gateway g is overloaded" in note for note in result.notes)
    assert overloaded == (load > 0.8), result.notes


def clustered(first: Spec, second: Spec) -> PlacementRequest:
    """Nodes e1, e2 in cluster east and w1, w2 in west; 4 chunks on w1, 1 on e1."""
    nodes = [
        {**node(name), "cluster": cluster}
        for name, cluster in [("e1", "east"), ("e2", "east"), ("w1", "west"), ("w2", "west")]
    ]
    sources = [
        {"system": "demo", "dataSourceName": "logs", "chunks": chunks("w", 4, "w1"), **first},
        {"system": "demo", "dataSourceName": "dims", "chunks": chunks("e", 1, "e1"), **second},
    ]
    return PlacementRequest.parse(
        {"topology": {"nodes": nodes}, "consumer": {"replicas": 2}, "sources": sources}
    )


def test_without_required_clusters_a_replica_goes_west() -> None:
    # Counts 3 and 2: w1 reads 3 of its chunks, e1 its own and the 4th from w1.
    result = plan(clustered({}, {}))
    assert layout(result) == Counter({"e1": 1, "w1": 1})
    assert result.totals.bytes_by_tier == (4 * S, 0, 0, 0, S)


def test_required_clusters_intersect_to_one() -> None:
    # logs allow east and west, dims (no locality given) lie in east: east it is, though
    # most data is in west.
    both = {"requireLocality": True, "locality": {"clusters": ["east", "west"]}}
    result = plan(clustered(both, {"requireLocality": True}))
    assert {r.cluster for r in result.replicas} == {"east"}
    assert layout(result) == Counter({"e1": 1, "e2": 1})
    assert result.totals.bytes_by_tier == (S, 0, 0, 0, 4 * S)
    assert close(result.totals.cost, 4 * S / BW[4])


@pytest.mark.parametrize(
    "first",
    [
        {"requireLocality": True},  # derived from the chunks: west
        {"requireLocality": True, "locality": {"clusters": ["west"]}},
    ],
)
def test_required_clusters_intersect_to_none(first: Spec) -> None:
    with pytest.raises(InfeasiblePlacement, match="share no cluster"):
        plan(clustered(first, {"requireLocality": True}))


# (b) unit sizes: equal to the MILP optimum -------------------------------------------

UNIT_SHAPES = [
    Shape(sizes="unit"),
    Shape(sizes="unit", max_copies=3),
    Shape(sizes="unit", max_copies=2, domain_locations=True, require_locality=True),
]


def compare_with_reference(spec: Spec) -> None:
    req = PlacementRequest.parse(spec)
    ref = solve(req)
    assert ref.feasible, spec
    result = plan(req)
    assert close(result.totals.cost, ref.cost), (
        f"optimal {result.totals.cost!r} != MILP {ref.cost!r} (layout {dict(layout(result))} "
        f"vs {ref.replicas_on}) for\n{spec!r}"
    )
    assert at_most(result.totals.lower_bound_cost, ref.cost), (result.totals, ref.cost, spec)


@pytest.mark.parametrize("seed", range(60))
def test_unit_sizes_match_the_milp(seed: int) -> None:
    compare_with_reference(random_spec(seed, UNIT_SHAPES[seed % len(UNIT_SHAPES)]))


@settings(max_examples=120, deadline=None)
@given(spec=request_specs(Shape(sizes="unit", max_copies=3, domain_locations=True)))
def test_unit_sizes_match_the_milp_drawn(spec: Spec) -> None:
    compare_with_reference(spec)


@pytest.mark.parametrize("seed", range(40))
def test_no_strategy_beats_the_milp(seed: int) -> None:
    shape = [SINGLE_COPY, MULTI_COPY, DOMAIN_LOCATIONS][seed % 3]
    spec = random_spec(1000 + seed, shape)
    req = PlacementRequest.parse(spec)
    ref = solve(req)
    for strategy in strategy_names():
        if available(strategy):
            result = plan(req, strategy)
            check_plan(spec, req, result)
            assert at_most(ref.cost, result.totals.cost), (strategy, ref.cost, spec)


# (c) uneven sizes: the MILP relaxation and the reported lower bound -------------------

UNEVEN_SHAPES = [
    Shape(sizes="uneven"),
    Shape(sizes="uneven", max_copies=3),
    Shape(sizes="uneven", max_copies=2, domain_locations=True),
]


@pytest.mark.parametrize("seed", range(40))
def test_uneven_sizes_against_the_relaxation(seed: int) -> None:
    spec = random_spec(2000 + seed, UNEVEN_SHAPES[seed % len(UNEVEN_SHAPES)])
    req = PlacementRequest.parse(spec)
    ref = solve(req)
    result = plan(req)
    totals = result.totals
    assert at_most(ref.cost, totals.cost), ("plan below the relaxation", ref.cost, spec)
    assert at_most(totals.lower_bound_cost, totals.cost), (totals, spec)
    assert at_most(totals.lower_bound_cost, ref.cost), (
        f"lower bound {totals.lower_bound_cost!r} above the MILP relaxation {ref.cost!r}\n{spec!r}"
    )


TINY = Shape(chunks=(1, 7), replicas=(1, 3), max_copies=2, domain_locations=True)


@pytest.mark.parametrize("seed", range(40))
def test_tiny_instances_against_enumeration(seed: int) -> None:
    """The reference agrees with brute force; optimal and its bound bracket the optimum."""
    spec = random_spec(3000 + seed, TINY)
    req = PlacementRequest.parse(spec)
    exact = brute_force(req)
    assert exact is not None, spec
    ref = solve(req)
    if req.unit_sized:
        assert close(ref.cost, exact), (ref.cost, exact, spec)
        assert close(reference_plan(req).totals.cost, exact)
    else:
        assert at_most(ref.cost, exact), (ref.cost, exact, spec)
    result = plan(req)
    assert at_most(exact, result.totals.cost), (exact, result.totals, spec)
    assert at_most(result.totals.lower_bound_cost, exact), (result.totals, exact, spec)
    if req.unit_sized:
        assert close(result.totals.cost, exact), (result.totals.cost, exact, spec)
