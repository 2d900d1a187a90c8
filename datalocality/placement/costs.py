"""The cost model: tiers between a chunk's copies and a node, and seconds to move bytes."""

from __future__ import annotations

from datalocality.model import Chunk, Node, Topology
from datalocality.model.topology import (
    OTHER_CLUSTER,
    SAME_CLUSTER,
    SAME_REGION,
    SAME_ZONE,
    TIER_COUNT,
)

REMOTE = "remote"
RELATIVE_TOLERANCE = 1e-9


def below(a: float, b: float, scale: float) -> bool:
    """``a`` is meaningfully below ``b``. Costs run from 1e-9 s (a byte over 10 Gbit/s) to
    hours, and sums of them carry rounding relative to ``scale`` (the cost of reading all
    data from the farthest tier), so both a relative and a scaled absolute slack apply."""
    return a < b - RELATIVE_TOLERANCE * (abs(b) + 1e-3 * scale)


class CostModel:
    """Tier and cost of reading a chunk on a node; locations may be nodes or domains."""

    def __init__(self, topology: Topology) -> None:
        self.topology = topology
        self.nodes = topology.by_name
        self._zones: dict[str, set[tuple[str, str, str]]] = {}
        self._regions: dict[str, set[tuple[str, str]]] = {}
        for node in topology.nodes:
            if node.zone:
                self._zones.setdefault(node.zone, set()).add(node.zone_key)
            if node.region:
                self._regions.setdefault(node.region, set()).add(node.region_key)
        self.per_byte = tuple(topology.cost_per_byte(t) for t in range(TIER_COUNT))
        # (name, zone, region, cluster) per node, computed once: tiers are compared a lot.
        self.keys = {n.name: (n.name, n.zone_key, n.region_key, n.cluster) for n in topology.nodes}

    def node_tier(self, a: str, b: str) -> int:
        """Tier between two nodes by name (same as ``tier_between``, precomputed keys)."""
        ka, kb = self.keys[a], self.keys[b]
        for tier in range(OTHER_CLUSTER):
            if ka[tier] == kb[tier]:
                return tier
        return OTHER_CLUSTER

    def location_tier(self, location: str, node: Node) -> int:
        """Tier between one location (node name or ``zone:``/``region:``/``cluster:``)."""
        kind, _, name = location.rpartition(":")
        if not kind:
            return self.node_tier(name, node.name)
        if kind == "zone":
            keys = self._zones.get(name, set())
            if node.zone_key in keys:
                return SAME_ZONE
            if any(node.region_key == key[:2] for key in keys):
                return SAME_REGION
            clusters = {key[0] for key in keys}
        elif kind == "region":
            regions = self._regions.get(name, set())
            if node.region_key in regions:
                return SAME_REGION
            clusters = {key[0] for key in regions}
        else:
            clusters = {name}
        return SAME_CLUSTER if node.cluster in clusters else OTHER_CLUSTER

    def nearest(self, chunk: Chunk, node: Node) -> tuple[int, str]:
        """The tier to the nearest copy of ``chunk`` and that copy's location."""
        return self._nearest(chunk.locations, node)

    def locations_tier(self, locations: tuple[str, ...], node: Node) -> int:
        """The tier from ``node`` to the nearest of ``locations`` (a chunk's copies)."""
        if len(locations) == 1 and ":" not in locations[0]:
            return self.node_tier(locations[0], node.name)
        return self._nearest(locations, node)[0]

    def _nearest(self, locations: tuple[str, ...], node: Node) -> tuple[int, str]:
        if len(locations) == 1 and ":" not in locations[0]:
            return self.node_tier(locations[0], node.name), locations[0]
        best = (OTHER_CLUSTER, locations[0] if locations else REMOTE)
        for loc in locations:
            tier = self.location_tier(loc, node)
            if tier < best[0]:
                best = (tier, loc)
        return best

    def tier(self, chunk: Chunk, node: Node) -> int:
        """The tier to the nearest copy of ``chunk`` (:meth:`nearest` without the copy)."""
        return self.locations_tier(chunk.locations, node)

    def origin(self, chunk: Chunk, node: Node) -> str:
        """Where ``node`` reads ``chunk`` from: its nearest copy (the only one, if one)."""
        locations = chunk.locations
        return locations[0] if len(locations) == 1 else self.nearest(chunk, node)[1]

    def cost(self, chunk: Chunk, node: Node) -> float:
        """Seconds to read ``chunk`` on ``node`` from its nearest copy."""
        return chunk.size * self.per_byte[self.nearest(chunk, node)[0]]

    def clusters_of(self, location: str) -> set[str]:
        """Clusters a location lies in (a zone name may exist in several clusters)."""
        kind, _, name = location.rpartition(":")
        if not kind:
            return {self.nodes[name].cluster}
        if kind == "zone":
            return {key[0] for key in self._zones.get(name, set())}
        if kind == "region":
            return {key[0] for key in self._regions.get(name, set())}
        return {name}
