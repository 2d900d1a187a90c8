"""The synthetic generator: deterministic per seed, the advertised sizes, skewed placement."""

from __future__ import annotations

from collections import Counter
from dataclasses import replace

import pytest

from datalocality.errors import SpecError
from datalocality.model import PlacementRequest
from datalocality.placement import plan
from datalocality.synthetic import PRESETS, MiB, build_instance, preset


def _chunks_per_node(request: PlacementRequest) -> Counter[str]:
    return Counter(loc for chunk in request.chunks for loc in chunk.locations)


def test_same_seed_gives_the_same_request() -> None:
    first = build_instance("small", seed=7, unit=False)
    again = build_instance("small", seed=7, unit=False)
    assert first.model_dump() == again.model_dump()


def test_other_seeds_and_variants_differ() -> None:
    base = build_instance("small", seed=1)
    other = build_instance("small", seed=2)
    assert [c.locations for c in base.chunks] != [c.locations for c in other.chunks]
    uneven = build_instance("small", seed=1, unit=False)
    assert [c.size for c in base.chunks] != [c.size for c in uneven.chunks]


@pytest.mark.parametrize("name", ["small", "medium", "large"])
def test_presets_have_the_advertised_sizes(name: str) -> None:
    request = build_instance(name)
    expected = {
        "small": (100, 10, 4),
        "medium": (10_000, 500, 100),
        "large": (100_000, 5_000, 1_000),
    }[name]
    assert (len(request.chunks), len(request.topology.nodes), request.consumer.replicas) == (
        expected
    )
    assert len({c.id for c in request.chunks}) == expected[0]


def test_unit_chunks_are_64_mib_and_uneven_ones_vary_within_bounds() -> None:
    unit = build_instance("medium")
    assert {c.size for c in unit.chunks} == {64 * MiB}
    assert unit.unit_sized
    sizes = [c.size for c in build_instance("medium", unit=False).chunks]
    assert all(isinstance(s, int) and MiB <= s <= 512 * MiB for s in sizes)
    assert len(set(sizes)) > len(sizes) // 2
    assert min(sizes) < 16 * MiB and max(sizes) > 256 * MiB
    # Lognormal around 64 MiB: the median sits near it.
    assert 48 * MiB < sorted(sizes)[len(sizes) // 2] < 86 * MiB


@pytest.mark.parametrize("name", ["small", "medium"])
def test_placement_is_skewed_onto_a_minority_of_producers(name: str) -> None:
    request = build_instance(name)
    per_node = _chunks_per_node(request)
    nodes = len(request.topology.nodes)
    assert len(per_node) <= round(0.3 * nodes)
    top = sorted(per_node.values(), reverse=True)[: max(1, nodes // 10)]
    assert sum(top) > 0.4 * len(request.chunks)


def test_topology_groups_nodes_in_zones_and_regions() -> None:
    nodes = build_instance("medium").topology.nodes
    zones = Counter(n.zone for n in nodes)
    assert len(zones) == 50 and set(zones.values()) == {10}
    regions = {n.region for n in nodes}
    assert len(regions) == 10
    zones_per_region = Counter(region for _, region in {(n.zone, n.region) for n in nodes})
    assert set(zones_per_region.values()) == {5}
    assert {n.cluster for n in nodes} == {"cluster-0"}


def test_several_clusters_keep_zones_inside_one_cluster() -> None:
    params = replace(PRESETS["medium"], name="multi", clusters=3)
    nodes = build_instance(params).topology.nodes
    clusters = Counter(n.cluster for n in nodes)
    assert len(clusters) == 3 and sum(clusters.values()) == 500
    assert all(
        len({n.cluster for n in nodes if n.zone == zone}) == 1 for zone in {n.zone for n in nodes}
    )


def test_extra_copies_land_on_distinct_nodes() -> None:
    request = build_instance(replace(PRESETS["small"], copies=3))
    assert {len(c.locations) for c in request.chunks} == {3}


def test_every_node_has_room_for_eight_replicas() -> None:
    request = build_instance("small")
    per_replica = request.consumer.requests
    assert (per_replica.cpu, per_replica.memory) == (1.0, 2 * 2**30)
    assert {n.replica_capacity(per_replica) for n in request.topology.nodes} == {8}


def test_bad_parameters_are_spec_errors_naming_the_field() -> None:
    with pytest.raises(SpecError) as unknown:
        preset("tiny")
    assert unknown.value.field == "instance"
    with pytest.raises(SpecError) as zero:
        build_instance(replace(PRESETS["small"], replicas=0))
    assert zero.value.field == "replicas"


@pytest.mark.parametrize("unit", [True, False])
def test_instances_can_be_planned(unit: bool) -> None:
    request = build_instance("small", seed=3, unit=unit)
    result = plan(request)
    assert result.totals.bytes == request.total_bytes
    assert len(result.replicas) == 4
    assert sorted(c for r in result.replicas for c in r.chunks) == [c.id for c in request.chunks]
