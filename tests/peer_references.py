"""What the peer strategies should answer, worked out from the rules their modules document.

Nothing here imports placement code. Each ``expected_*`` function reads a
``PlacementRequest`` (the model) and follows, plainly, the rule written in the strategy's
module docstring: every node rescored for every replica, every (chunk, node) and
(chunk, replica) pair looked at. Tests compare these answers with ``plan(request,
strategy)``, so a bug in a helper of a strategy module shows up instead of cancelling out.

Where each rule comes from:

* which nodes may host replicas and how many: ``placement/candidates.py`` (node selector,
  required clusters, overloaded gateways, room for the replica's requests, at most
  ``replicas`` per node); with a topology rule, peers keep the fitting domain with the most
  room, ties first in name order (``plan``);
* the balance quota: ``placement/balance.py`` (unit chunks: counts differ by at most one;
  otherwise at most ``ceil(total / replicas) + largest`` bytes a replica);
* ``round_robin.py``, ``vineyard.py``, ``spread.py`` and ``mcdm.py`` for the strategies.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from datalocality.model import CRITERIA, Chunk, Node, PlacementRequest, Resources
from tests.strategies_support import chunk_tier, clusters_of

# kube-scheduler's non-zero requests for a pod that requests nothing (spread.py).
DEFAULT_CPU = 0.1
DEFAULT_MEMORY = 200 * 2**20
# The data-locality-scheduler's weight profiles, in CRITERIA order (the hand-worked mcdm
# tests in test_peer_strategies.py add these numbers up).
PROFILES: dict[str, tuple[float, ...]] = {
    "default": (0.15, 0.10, 0.15, 0.10, 0.50),
    "data-intensive": (0.10, 0.05, 0.10, 0.05, 0.70),
    "compute-intensive": (0.40, 0.15, 0.10, 0.15, 0.20),
}
# mcdm's data_locality weight of a byte by tier (node, zone, region, cluster, world), in
# tenths: summed as integers and divided once, so equal sums give equal floats.
LOCALITY_TENTHS = (10, 8, 5, 0, 0)
WORLD = 4  # the tier across clusters: a topology rule at this tier allows everything


class NoPlan(Exception):
    """The request cannot be placed (``plan`` should raise InfeasiblePlacement)."""


@dataclass(frozen=True)
class Expected:
    """One replica as a plan should show it."""

    node: str
    chunks: tuple[str, ...]  # ids in id order, as plans list them
    terms: dict[str, float]  # the strategy's own score terms
    reason: str  # the strategy's part of the reason


# --- shared facts ---------------------------------------------------------------------


def by_id(request: PlacementRequest) -> list[Chunk]:
    """Every chunk of every source, in id order."""
    return sorted((c for s in request.sources for c in s.chunks), key=lambda c: c.id)


def node_map(request: PlacementRequest) -> dict[str, Node]:
    """Nodes by name, in name order."""
    return {n.name: n for n in sorted(request.topology.nodes, key=lambda n: n.name)}


def replicas_fitting(node: Node, each: Resources) -> int:
    """Replicas (a pod each, with ``each``'s cpu and memory) that still fit on ``node``."""
    have, used = node.allocatable, node.requested
    fits = have.pods - used.pods
    if each.cpu > 0:  # a hair of tolerance: 3 x 0.1 cores fit in 0.3
        fits = min(fits, math.floor((have.cpu - used.cpu) / each.cpu + 1e-9))
    if each.memory > 0:
        fits = min(fits, (have.memory - used.memory) // each.memory)
    return max(0, fits)


def required_clusters(request: PlacementRequest) -> set[str] | None:
    """Clusters every ``requireLocality`` source allows: its declared clusters, else the
    clusters its chunks lie in; None when no source requires locality."""
    nodes = request.topology.nodes
    allowed: set[str] | None = None
    for source in request.sources:
        if not source.require_locality:
            continue
        clusters = set(source.locality.clusters)
        if not clusters:
            clusters = {
                c
                for chunk in source.chunks
                for loc in chunk.locations
                for c in clusters_of(loc, nodes)
            }
        allowed = clusters if allowed is None else allowed & clusters
    if allowed is not None and not allowed:
        raise NoPlan("inputs that require locality share no cluster")
    return allowed


def domain_of(node: Node, tier: int) -> tuple[str, ...]:
    """The node's domain at ``tier``: itself, its zone, region, cluster, or the world."""
    keys = ((node.name,), node.zone_key, node.region_key, (node.cluster,), ())
    return keys[tier]


def eligible_room(request: PlacementRequest) -> dict[str, int]:
    """Replicas each node the strategy may use can host, in name order."""
    consumer = request.consumer
    replicas = consumer.replicas
    allowed = required_clusters(request)
    nodes = node_map(request)
    room: dict[str, int] = {}
    for name, node in nodes.items():
        if any(node.labels.get(k) != v for k, v in consumer.node_selector.items()):
            continue
        if allowed is not None and node.cluster not in allowed:
            continue
        if node.gateway and node.load > request.topology.gateway_overload:
            continue
        fits = replicas_fitting(node, consumer.requests)
        if fits > 0:
            room[name] = min(fits, replicas)
    if sum(room.values()) < replicas:
        raise NoPlan(f"{replicas} replicas, room for {sum(room.values())}")
    rule = consumer.topology
    if rule is None or rule.highest_tier_allowed >= WORLD:
        return room
    domains: dict[tuple[str, ...], dict[str, int]] = {}
    for name, n in room.items():
        domains.setdefault(domain_of(nodes[name], rule.highest_tier_allowed), {})[name] = n
    fitting = [d for _, d in sorted(domains.items()) if sum(d.values()) >= replicas]
    if not fitting:
        if rule.mode == "hard":
            raise NoPlan("no domain of the hard topology rule fits every replica")
        return room  # a soft rule that cannot hold is dropped
    return max(fitting, key=lambda d: sum(d.values()))  # the first of the roomiest


def deal(chunks: Sequence[Chunk], replicas: int) -> list[list[Chunk]]:
    """Chunks in the given order, each to the replica reading the fewest bytes so far, then
    the fewest chunks, then the lowest index: plain round-robin when sizes are equal."""
    loads: list[list[Chunk]] = [[] for _ in range(replicas)]
    sizes = [0] * replicas
    for chunk in chunks:
        r = min(range(replicas), key=lambda r: (sizes[r], len(loads[r]), r))
        loads[r].append(chunk)
        sizes[r] += chunk.size
    return loads


def answer(
    nodes: Sequence[str],
    loads: Sequence[Sequence[Chunk]],
    reasons: Sequence[str],
    terms: Sequence[dict[str, float]] | None = None,
) -> list[Expected]:
    return [
        Expected(node, tuple(sorted(c.id for c in load)), terms[r] if terms else {}, reasons[r])
        for r, (node, load) in enumerate(zip(nodes, loads, strict=True))
    ]


# --- round-robin ----------------------------------------------------------------------


def expected_round_robin(request: PlacementRequest) -> list[Expected]:
    """Replica i on the i-th node in name order, cycling; a node whose turn comes when it
    is full passes the turn on; chunks dealt in id order."""
    left = eligible_room(request)
    names = list(left)
    nodes: list[str] = []
    reasons: list[str] = []
    turn = 0
    for _ in range(request.consumer.replicas):
        full: list[str] = []
        while left[names[turn % len(names)]] == 0:
            full.append(names[turn % len(names)])
            turn += 1
        name = names[turn % len(names)]
        left[name] -= 1
        nodes.append(name)
        where = f"{name} (#{turn % len(names)} in name order)"
        if not full:
            reasons.append(f"round-robin: its turn, node {where}")
        else:
            skipped = f"node {full[0]}" if len(full) == 1 else f"nodes {', '.join(full)}"
            reasons.append(f"round-robin: {skipped} in turn had no room, moved to {where}")
        turn += 1
    return answer(nodes, deal(by_id(request), len(nodes)), reasons)


# --- vineyard -------------------------------------------------------------------------


def expected_vineyard(request: PlacementRequest) -> list[Expected]:
    """Replica r on the first eligible node (name order) whose cumulative chunk count
    reaches ``nchunks * r + (nchunks + 1) // 2``; the r-th contiguous range of the chunks
    ordered by holding node, then id."""
    chunks = by_id(request)
    if not chunks:
        return expected_round_robin(request)
    left = eligible_room(request)
    eligible = list(left)
    replicas = request.consumer.replicas

    def holder(chunk: Chunk) -> str | None:
        on_nodes = sorted(loc for loc in chunk.locations if ":" not in loc)
        mine = [name for name in on_nodes if name in left]
        return mine[0] if mine else (on_nodes[0] if on_nodes else None)

    holders = {c.id: holder(c) for c in chunks}
    cumulative: list[tuple[str, int]] = []
    for name in node_map(request):  # every node counts, eligible or not
        held = sum(1 for h in holders.values() if h == name)
        cumulative.append((name, held + (cumulative[-1][1] if cumulative else 0)))
    everything = cumulative[-1][1]
    nchunks = -(-len(chunks) // replicas)  # ceil
    nodes: list[str] = []
    reasons: list[str] = []
    terms: list[dict[str, float]] = []
    for r in range(replicas):
        target = nchunks * r + (nchunks + 1) // 2
        reached = [(name, n) for name, n in cumulative if name in left and n >= target]
        if reached:
            chosen, count = reached[0]
            why = f"cumulative chunks {count} reach {target} at {chosen}"
        else:
            chosen, count = eligible[0], everything
            why = f"no node's cumulative chunks ({everything}) reach {target}; first eligible node"
        if left[chosen] == 0:  # the next eligible node with room, wrapping around
            at = eligible.index(chosen)
            after = eligible[at + 1 :] + eligible[:at]
            full, chosen = chosen, next(name for name in after if left[name] > 0)
            why += f"; {full} full, next with room {chosen}"
        left[chosen] -= 1
        nodes.append(chosen)
        reasons.append(why)
        terms.append({"target": float(target), "cumulative": float(count)})

    def place_in_order(c: Chunk) -> tuple[bool, str, str]:
        h = holders[c.id]
        return (h is None, h or "", c.id)

    ordered = sorted(chunks, key=place_in_order)
    total = sum(c.size for c in ordered)
    loads: list[list[Chunk]] = [[] for _ in range(replicas)]
    if total == 0:  # nothing to cut by bytes: by count, every replicas-th chunk
        loads = [ordered[r::replicas] for r in range(replicas)]
    else:  # a chunk goes to the range its first byte falls in
        offset = 0
        for chunk in ordered:
            loads[min(replicas - 1, offset * replicas // total)].append(chunk)
            offset += chunk.size
    return answer(nodes, loads, reasons, terms)


# --- spread ---------------------------------------------------------------------------


def free_fraction(node: Node, each: Resources, placed: int) -> float:
    """kube-scheduler's LeastAllocated score in 0..1 with ``placed`` replicas on ``node``
    and one more: per resource ``(allocatable - requested) / allocatable`` (0 once over),
    averaged over cpu and memory, a resource with no allocatable left out."""
    cpu = each.cpu if each.cpu else DEFAULT_CPU
    memory = float(each.memory if each.memory else DEFAULT_MEMORY)
    fractions: list[float] = []
    for allocatable, requested, one in (
        (node.allocatable.cpu, node.requested.cpu, cpu),
        (float(node.allocatable.memory), float(node.requested.memory), memory),
    ):
        if allocatable > 0:
            used = requested + one * (placed + 1)
            fractions.append(0.0 if used > allocatable else (allocatable - used) / allocatable)
    return sum(fractions) / len(fractions) if fractions else 0.0


def expected_spread(request: PlacementRequest) -> list[Expected]:
    """Each replica on the node with room that stays least allocated (ties by name);
    chunks dealt in id order."""
    consumer = request.consumer
    left = eligible_room(request)
    nodes_by_name = node_map(request)
    placed: Counter[str] = Counter()
    nodes: list[str] = []
    reasons: list[str] = []
    terms: list[dict[str, float]] = []
    for _ in range(consumer.replicas):
        options = [name for name, n in left.items() if n > 0]
        scores = {n: free_fraction(nodes_by_name[n], consumer.requests, placed[n]) for n in options}
        best = max(scores.values())
        name = min(n for n in options if scores[n] == best)
        left[name] -= 1
        placed[name] += 1
        nodes.append(name)
        reasons.append(f"least allocated {best:.2f} (best of {len(options)} with room)")
        terms.append({"least_allocated": best})
    return answer(nodes, deal(by_id(request), len(nodes)), reasons, terms)


# --- mcdm -----------------------------------------------------------------------------


def tier_finder(request: PlacementRequest) -> Callable[[Chunk, Node], int]:
    """``tier(chunk, node)``: the tier from ``node`` to the chunk's nearest copy (4 when it
    has none), remembered per (copy locations, node)."""
    nodes = node_map(request)
    known: dict[tuple[tuple[str, ...], str], int] = {}

    def tier(chunk: Chunk, node: Node) -> int:
        key = (chunk.locations, node.name)
        if key not in known:
            known[key] = chunk_tier(chunk, node, nodes)
        return known[key]

    return tier


def data_locality(
    request: PlacementRequest, tier: Callable[[Chunk, Node], int] | None = None
) -> dict[str, float]:
    """Per node: the request's bytes weighted by the tier of their nearest copy, 1.0 on the
    node, 0.8 in its zone, 0.5 in its region, 0 farther."""
    tier = tier or tier_finder(request)
    chunks = by_id(request)
    return {
        name: sum(c.size * LOCALITY_TENTHS[tier(c, node)] for c in chunks) / 10
        for name, node in node_map(request).items()
    }


def normalised(values: Sequence[float]) -> list[float]:
    """Min-max to 0..1; all equal (up to rounding) gives 1.0 to all."""
    low, high = min(values), max(values)
    if high - low <= 1e-12 * max(1.0, abs(high)):
        return [1.0] * len(values)
    return [(v - low) / (high - low) for v in values]


def expected_mcdm(request: PlacementRequest) -> list[Expected]:
    """Each replica on the best weighted sum of min-max normalised criteria over the nodes
    with room (ties by name); chunks largest first to the cheapest replica with room."""
    consumer = request.consumer
    if consumer.weights is not None:
        weights = tuple(consumer.weights.get(c, 0.0) for c in CRITERIA)
    else:
        weights = PROFILES[consumer.workload_class]
    top = CRITERIA[weights.index(max(weights))]  # named in the reason: the first heaviest
    left = eligible_room(request)
    nodes_by_name = node_map(request)
    tier = tier_finder(request)
    locality = data_locality(request, tier)
    selector = consumer.node_selector
    wanted = set(consumer.capabilities)
    preferred = consumer.preferred_node_type

    def fixed(node: Node) -> tuple[float, float, float, float]:
        """node_affinity, node_type, capabilities, data_locality: they never change."""
        matched = sum(1 for k, v in selector.items() if node.labels.get(k) == v)
        has = len(wanted & set(node.capabilities))
        return (
            matched / len(selector) if selector else 1.0,
            1.0 if not preferred or node.node_type == preferred else 0.0,
            has / len(wanted) if wanted else 1.0,
            locality[node.name],
        )

    static = {name: fixed(nodes_by_name[name]) for name in left}
    placed: Counter[str] = Counter()
    nodes: list[str] = []
    reasons: list[str] = []
    terms: list[dict[str, float]] = []
    for _ in range(consumer.replicas):
        options = [name for name, n in left.items() if n > 0]
        rows = [
            (free_fraction(nodes_by_name[n], consumer.requests, placed[n]), *static[n])
            for n in options
        ]
        columns = [normalised([row[i] for row in rows]) for i in range(len(CRITERIA))]
        scored: list[tuple[float, str, dict[str, float]]] = []
        for j, name in enumerate(options):
            values = {c: columns[i][j] for i, c in enumerate(CRITERIA)}
            total = sum(w * columns[i][j] for i, w in enumerate(weights))
            scored.append((-total, name, {**values, "total": total}))
        _, name, values = min(scored, key=lambda s: (s[0], s[1]))
        left[name] -= 1
        placed[name] += 1
        nodes.append(name)
        terms.append(values)
        reasons.append(
            f"score {values['total']:.2f} ({top} {values[top]:.2f}), "
            f"best of {len(options)} with room"
        )
    loads = cheapest_first(request, [nodes_by_name[n] for n in nodes], tier)
    return answer(nodes, loads, reasons, terms)


def cheapest_first(
    request: PlacementRequest, nodes: Sequence[Node], tier: Callable[[Chunk, Node], int]
) -> list[list[Chunk]]:
    """Largest chunk first (ties by id), each to the replica that reads it cheapest among
    those the balance quota still lets take it; ties: fewest bytes, then lowest index."""
    chunks = by_id(request)
    replicas = len(nodes)
    bandwidth = request.topology.bandwidth
    unit = len({c.size for c in chunks}) <= 1
    lo, extras = divmod(len(chunks), replicas)  # unit: every replica lo or lo + 1 chunks
    total = sum(c.size for c in chunks)
    cap = -(-total // replicas) + max((c.size for c in chunks), default=0)  # ceil + largest
    loads: list[list[Chunk]] = [[] for _ in nodes]
    sizes = [0] * replicas

    def seconds(chunk: Chunk, node: Node) -> float:
        t = tier(chunk, node)
        return chunk.size * (0.0 if t == 0 else 1.0 / bandwidth[t])

    for chunk in sorted(chunks, key=lambda c: (-c.size, c.id)):
        if unit:
            above = sum(1 for load in loads if len(load) > lo)
            may = [
                r
                for r in range(replicas)
                if len(loads[r]) < lo or (len(loads[r]) == lo and above < extras)
            ]
        else:
            may = [r for r in range(replicas) if sizes[r] + chunk.size <= cap]
        assert may, f"the quota leaves no replica for {chunk.id}"
        r = min(may, key=lambda r: (seconds(chunk, nodes[r]), sizes[r], r))
        loads[r].append(chunk)
        sizes[r] += chunk.size
    return loads


EXPECTED: dict[str, Callable[[PlacementRequest], list[Expected]]] = {
    "round-robin": expected_round_robin,
    "vineyard": expected_vineyard,
    "spread": expected_spread,
    "mcdm": expected_mcdm,
}
