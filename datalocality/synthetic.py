"""Seeded synthetic placement requests (small, medium, large) for benchmarks and tests.

The data looks like a real producer's output: a producer ran on about 30% of the nodes and
some of its tasks wrote far more than others (Zipf-like weights), so chunks pile up on a
few nodes. Nodes are grouped in zones, zones in regions, regions in one or more clusters.
Pure standard library (``random.Random(seed)``): the same seed gives the same request.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass, replace
from itertools import accumulate

from datalocality.errors import SpecError
from datalocality.model import PlacementRequest

MiB = 2**20
GiB = 2**30


@dataclass(frozen=True)
class InstanceParams:
    """The shape of a synthetic instance; presets are in :data:`PRESETS`."""

    name: str
    chunks: int
    nodes: int
    replicas: int
    nodes_per_zone: int = 10
    zones_per_region: int = 5
    clusters: int = 1
    producer_fraction: float = 0.3
    zipf_exponent: float = 1.0
    copies: int = 1
    unit_size: int = 64 * MiB
    min_size: int = 1 * MiB
    max_size: int = 512 * MiB
    size_sigma: float = 1.0
    pods_per_node: int = 8
    cpu_per_node: int = 16
    memory_per_node: int = 64 * GiB
    replica_cpu: float = 1.0
    replica_memory: int = 2 * GiB


PRESETS: dict[str, InstanceParams] = {
    "small": InstanceParams("small", chunks=100, nodes=10, replicas=4),
    "medium": InstanceParams("medium", chunks=10_000, nodes=500, replicas=100),
    "large": InstanceParams("large", chunks=100_000, nodes=5_000, replicas=1_000),
}


# Shapes of real inputs beyond the default (a third of the nodes produced, Zipf-skewed):
# each overrides some fields of a size preset.
FAMILIES: dict[str, dict[str, object]] = {
    "hot": {},
    "random-hot": {"nodes_per_zone": 50, "min_size": 16 * MiB, "max_size": 256 * MiB},
    "uniform": {"producer_fraction": 1.0, "zipf_exponent": 0.0},
    "zipf": {"producer_fraction": 1.0, "zipf_exponent": 1.5},
    "hdfs": {"copies": 3, "unit_size": 128 * MiB, "producer_fraction": 1.0, "zipf_exponent": 0.0},
    "multi-cluster": {"clusters": 4},
    "tight": {"pods_per_node": 1},
}
FAMILY_NOTES: dict[str, str] = {
    "hot": "producers on 30% of the nodes, Zipf-skewed output",
    "random-hot": "the same in zones of 50 nodes, sizes 16-256 MiB",
    "uniform": "every node produced, equal shares",
    "zipf": "every node produced, Zipf exponent 1.5",
    "hdfs": "HDFS blocks: 128 MiB, 3 copies on random nodes",
    "multi-cluster": "4 clusters",
    "tight": "one replica per node at most",
}


def family(name: str, size: str, /, **overrides: object) -> InstanceParams:
    """A size preset in one of :data:`FAMILIES`, named ``<family>-<size>``."""
    if name not in FAMILIES:
        raise SpecError("family", name, f"unknown family; choose one of {list(FAMILIES)}")
    return preset(size, name=f"{name}-{size}", **{**FAMILIES[name], **overrides})


def preset(name: str, /, **overrides: object) -> InstanceParams:
    """A preset by name, optionally with some fields replaced (for scaling runs)."""
    try:
        base = PRESETS[name]
    except KeyError:
        raise SpecError(
            "instance", name, f"unknown instance; choose one of {list(PRESETS)}"
        ) from None
    return replace(base, **overrides)  # type: ignore[arg-type]


def build_instance(
    name_or_params: str | InstanceParams, seed: int = 0, unit: bool = True
) -> PlacementRequest:
    """Build a validated request: unit-sized chunks (64 MiB) or uneven lognormal sizes."""
    params = preset(name_or_params) if isinstance(name_or_params, str) else name_or_params
    _check(params)
    rng = random.Random(f"{params.name}/{seed}/{'unit' if unit else 'uneven'}")
    nodes = _nodes(params)
    names = [str(node["name"]) for node in nodes]
    producers = _producers(rng, names, params)
    return PlacementRequest.parse(
        {
            "topology": {"nodes": nodes},
            "consumer": {
                "name": "consumer",
                "replicas": params.replicas,
                "requests": {"cpu": params.replica_cpu, "memory": params.replica_memory},
            },
            "sources": [
                {
                    "system": "synthetic",
                    "dataSourceName": params.name,
                    "chunks": _chunks(rng, producers, names, params, unit),
                }
            ],
        }
    )


def _check(params: InstanceParams) -> None:
    """Reject shapes the generator cannot build, naming the field."""
    for field in ("chunks", "nodes", "replicas", "nodes_per_zone", "zones_per_region"):
        if getattr(params, field) < 1:
            raise SpecError(field, getattr(params, field), "must be >= 1")
    if not 1 <= params.clusters <= params.nodes:
        raise SpecError("clusters", params.clusters, "must be between 1 and the node count")
    if not 0 < params.producer_fraction <= 1:
        raise SpecError("producer_fraction", params.producer_fraction, "must be in (0, 1]")
    if not 1 <= params.copies <= params.nodes:
        raise SpecError("copies", params.copies, "must be between 1 and the node count")


def _nodes(params: InstanceParams) -> list[dict[str, object]]:
    """Nodes in contiguous cluster blocks; zones of ``nodes_per_zone``, regions of zones."""
    width = len(str(params.nodes - 1))
    nodes: list[dict[str, object]] = []
    zone_offset = region_offset = 0
    for cluster in range(params.clusters):
        start = cluster * params.nodes // params.clusters
        stop = (cluster + 1) * params.nodes // params.clusters
        zones = 0
        for local in range(stop - start):
            zone = local // params.nodes_per_zone
            region = zone // params.zones_per_region
            zones = zone + 1
            nodes.append(
                {
                    "name": f"node-{start + local:0{width}d}",
                    "zone": f"zone-{zone_offset + zone:03d}",
                    "region": f"region-{region_offset + region:02d}",
                    "cluster": f"cluster-{cluster}",
                    "allocatable": {
                        "cpu": params.cpu_per_node,
                        "memory": params.memory_per_node,
                        "pods": params.pods_per_node,
                    },
                }
            )
        zone_offset += zones
        region_offset += -(-zones // params.zones_per_region)
    return nodes


def _producers(
    rng: random.Random, names: list[str], params: InstanceParams
) -> tuple[list[int], list[float]]:
    """Indices of the producer nodes and their cumulative Zipf weights (heaviest first)."""
    count = max(1, round(params.producer_fraction * len(names)))
    chosen = rng.sample(range(len(names)), count)
    weights = [1.0 / (rank**params.zipf_exponent) for rank in range(1, count + 1)]
    return chosen, list(accumulate(weights))


def _chunks(
    rng: random.Random,
    producers: tuple[list[int], list[float]],
    names: list[str],
    params: InstanceParams,
    unit: bool,
) -> list[dict[str, object]]:
    """Chunks placed on producers by weight; extra copies on other random nodes."""
    chosen, cumulative = producers
    homes = rng.choices(chosen, cum_weights=cumulative, k=params.chunks)
    width = len(str(params.chunks - 1))
    mu = math.log(params.unit_size)
    chunks: list[dict[str, object]] = []
    for index, home in enumerate(homes):
        locations = {home}
        while len(locations) < params.copies:
            locations.add(rng.randrange(len(names)))
        if unit:
            size = params.unit_size
        else:
            drawn = rng.lognormvariate(mu, params.size_sigma)
            size = round(min(max(drawn, params.min_size), params.max_size))
        chunks.append(
            {
                "id": f"chunk-{index:0{width}d}",
                "size": size,
                "locations": [names[i] for i in sorted(locations)],
            }
        )
    return chunks
