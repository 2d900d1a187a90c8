"""Which nodes may host replicas, how many each, and the domains a topology rule allows.

Filters, each explained: node selector, room for the replica's requests, clusters the
inputs require (intersected, never overwritten), and overloaded gateway nodes (Datashim:
a replica then goes to another node of the gateway's zone or region, which the cost model
prefers anyway).
"""

from __future__ import annotations

from collections.abc import Callable, Hashable
from dataclasses import dataclass, field

from datalocality.errors import InfeasiblePlacement
from datalocality.model import Node, PlacementRequest
from datalocality.placement.costs import CostModel

DOMAIN_KEYS: tuple[Callable[[Node], Hashable], ...] = (
    lambda n: n.name,
    lambda n: n.zone_key,
    lambda n: n.region_key,
    lambda n: n.cluster,
    lambda n: "",
)


@dataclass(frozen=True)
class Candidates:
    """Eligible nodes (sorted by name) with the number of replicas each can host."""

    nodes: tuple[Node, ...]
    capacity: dict[str, int]
    excluded: dict[str, str] = field(default_factory=dict)
    notes: tuple[str, ...] = ()

    @property
    def total_capacity(self) -> int:
        """Replicas all eligible nodes can host together."""
        return sum(self.capacity.values())

    def restricted(self, names: set[str]) -> Candidates:
        """The same candidates limited to ``names``."""
        nodes = tuple(n for n in self.nodes if n.name in names)
        return Candidates(
            nodes, {n.name: self.capacity[n.name] for n in nodes}, self.excluded, self.notes
        )


def required_clusters(request: PlacementRequest, costs: CostModel) -> set[str] | None:
    """Intersection of the clusters each ``require_locality`` input allows (None: any)."""
    allowed: set[str] | None = None
    for source in request.sources:
        if not source.require_locality:
            continue
        clusters = set(source.locality.clusters)
        if not clusters:
            for chunk in source.chunks:
                for loc in chunk.locations:
                    clusters |= costs.clusters_of(loc)
        allowed = clusters if allowed is None else allowed & clusters
        if not allowed:
            raise InfeasiblePlacement(
                f"inputs that require locality share no cluster (after {source.key!r})"
            )
    return allowed


def build_candidates(request: PlacementRequest, costs: CostModel) -> Candidates:
    """Filter the topology's nodes for this consumer; raise if the replicas cannot fit."""
    consumer = request.consumer
    allowed = required_clusters(request, costs)
    threshold = request.topology.gateway_overload
    nodes: list[Node] = []
    capacity: dict[str, int] = {}
    excluded: dict[str, str] = {}
    notes: list[str] = []
    for node in request.topology.nodes:
        mismatch = [k for k, v in consumer.node_selector.items() if node.labels.get(k) != v]
        room = node.replica_capacity(consumer.requests)
        if mismatch:
            excluded[node.name] = f"nodeSelector {mismatch[0]!r} does not match"
        elif allowed is not None and node.cluster not in allowed:
            excluded[node.name] = f"cluster {node.cluster!r} not in required {sorted(allowed)}"
        elif node.gateway and node.load > threshold:
            excluded[node.name] = f"gateway overloaded (load {node.load:g} > {threshold:g})"
            notes.append(
                f"gateway {node.name} is overloaded (load {node.load:g} > {threshold:g}); "
                "its readers go to nodes of its zone, then region"
            )
        elif room == 0:
            excluded[node.name] = "no room for the replica's requests"
        else:
            nodes.append(node)
            capacity[node.name] = min(room, consumer.replicas)
    candidates = Candidates(tuple(nodes), capacity, excluded, tuple(notes))
    if candidates.total_capacity < consumer.replicas:
        raise InfeasiblePlacement(
            f"{consumer.replicas} replicas requested but eligible nodes fit only "
            f"{candidates.total_capacity} ({len(nodes)} eligible of "
            f"{len(request.topology.nodes)} nodes)"
        )
    return candidates


def constraint_domains(candidates: Candidates, tier: int, replicas: int) -> list[set[str]]:
    """Domains of ``tier`` whose eligible nodes can host every replica, in a stable order."""
    key = DOMAIN_KEYS[tier]
    groups: dict[Hashable, set[str]] = {}
    for node in candidates.nodes:
        groups.setdefault(key(node), set()).add(node.name)
    fitting = [
        names
        for _, names in sorted(groups.items(), key=lambda item: repr(item[0]))
        if sum(candidates.capacity[n] for n in names) >= replicas
    ]
    return fitting
