"""MCDM: the data-locality-scheduler's weighted multi-criteria node score, one replica at a time.

A peer baseline after the thesis project's Kubernetes scheduler. Criteria, in ``CRITERIA``
order: resource (the free fraction of :func:`.spread.least_allocated`), node_affinity
(fraction of the consumer's nodeSelector labels the node carries, 1.0 with no selector),
node_type (1 when the node has the preferred type or none is preferred), capabilities
(fraction of the required ones the node has, 1.0 when none) and data_locality (bytes of the
request readable on the node, weighted 1.0 local, 0.8 same zone, 0.5 same region, 0
farther). Like a scheduler's filter-then-score cycle, each replica is scored over the
eligible nodes that still have room: every criterion is min-max normalised over them
(1.0 for all when they are equal) and averaged with ``consumer.weight_vector``; the best
total wins, ties by node name. A placed replica lowers its node's resource criterion;
data_locality does not change.

Chunks then go to the chosen nodes greedily, largest first: each to the replica with room
under the balance quota that reads it cheapest (ties: fewest bytes, then index).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence

from datalocality.model import CRITERIA, Chunk, Consumer, Node
from datalocality.placement.balance import Quota
from datalocality.placement.build import Context, Decision
from datalocality.placement.candidates import Candidates
from datalocality.placement.spread import least_allocated

# data_locality weight of a byte by tier: node, zone, region, cluster, world.
TIER_WEIGHTS = (1.0, 0.8, 0.5, 0.0, 0.0)


def static_criteria(consumer: Consumer, node: Node) -> tuple[float, float, float]:
    """node_affinity, node_type and capabilities of a node, each in 0..1."""
    selector = consumer.node_selector
    matched = sum(1 for k, v in selector.items() if node.labels.get(k) == v)
    affinity = matched / len(selector) if selector else 1.0
    preferred = consumer.preferred_node_type
    node_type = 1.0 if not preferred or node.node_type == preferred else 0.0
    wanted = set(consumer.capabilities)
    capabilities = len(wanted & set(node.capabilities)) / len(wanted) if wanted else 1.0
    return affinity, node_type, capabilities


def data_locality(ctx: Context, node: Node) -> float:
    """Bytes of the request readable on ``node``, weighted by the tier of the nearest copy."""
    return sum(
        chunk.size * TIER_WEIGHTS[ctx.costs.nearest(chunk, node)[0]] for chunk in ctx.request.chunks
    )


def normalise(values: Sequence[float]) -> list[float]:
    """Min-max to 0..1; all equal gives 1.0 to everyone."""
    low, high = min(values), max(values)
    if high - low <= 1e-12 * max(1.0, abs(high)):
        return [1.0] * len(values)
    return [(v - low) / (high - low) for v in values]


def place(ctx: Context, candidates: Candidates) -> Decision:
    """Give each replica the best-scoring node with room; assign chunks greedily by cost."""
    consumer = ctx.request.consumer
    weights = consumer.weight_vector
    top = max(range(len(CRITERIA)), key=lambda i: (weights[i], -i))
    fixed = {
        node.name: (*static_criteria(consumer, node), data_locality(ctx, node))
        for node in candidates.nodes
    }
    room = dict(candidates.capacity)
    placed: Counter[str] = Counter()
    nodes: list[str] = []
    reasons: list[str] = []
    terms: list[dict[str, float]] = []
    for _ in range(consumer.replicas):
        options = [node for node in candidates.nodes if room[node.name] > 0]
        raw = [
            (least_allocated(node, consumer.requests, placed[node.name]), *fixed[node.name])
            for node in options
        ]
        columns = [normalise([row[i] for row in raw]) for i in range(len(CRITERIA))]
        scored: list[tuple[float, str, dict[str, float]]] = []
        for j, node in enumerate(options):
            values = {name: columns[i][j] for i, name in enumerate(CRITERIA)}
            total = sum(w * columns[i][j] for i, w in enumerate(weights))
            scored.append((-total, node.name, {**values, "total": total}))
        scored.sort(key=lambda item: (item[0], item[1]))
        _, name, values = scored[0]
        room[name] -= 1
        placed[name] += 1
        nodes.append(name)
        terms.append(values)
        reasons.append(
            f"score {values['total']:.2f} ({CRITERIA[top]} {values[CRITERIA[top]]:.2f}), "
            f"best of {len(options)} with room"
        )
    by_name = ctx.request.topology.by_name
    loads = assign_greedy(ctx, [by_name[name] for name in nodes])
    return Decision(nodes=nodes, loads=loads, score_terms=terms, reasons=reasons)


def _fits(quota: Quota, count: int, size: int, chunk: Chunk, at_hi: int) -> bool:
    """Whether a replica holding ``count`` chunks / ``size`` bytes may take ``chunk``."""
    if quota.unit:
        if count + 1 < quota.hi:
            return True
        return count + 1 == quota.hi and (quota.extras == 0 or at_hi < quota.extras)
    return size + chunk.size <= quota.byte_cap


def assign_greedy(ctx: Context, nodes: Sequence[Node]) -> list[list[Chunk]]:
    """Largest chunk first, to the cheapest replica the quota still lets take it."""
    quota = ctx.quota
    loads: list[list[Chunk]] = [[] for _ in nodes]
    sizes = [0] * len(nodes)
    at_hi = 0  # replicas holding quota.hi chunks (at most quota.extras when extras > 0)
    for chunk in sorted(ctx.request.chunks, key=lambda c: (-c.size, c.id)):
        fits = [r for r in range(len(nodes)) if _fits(quota, len(loads[r]), sizes[r], chunk, at_hi)]
        if fits:
            r = min(fits, key=lambda r: (ctx.costs.cost(chunk, nodes[r]), sizes[r], r))
        else:
            # Not reached: both quotas leave room for every chunk placed largest first.
            # Kept so a future quota rule degrades to the emptiest replica, not a crash.
            r = min(
                range(len(nodes)),
                key=lambda r: (len(loads[r]) if quota.unit else sizes[r], r),
            )
        loads[r].append(chunk)
        sizes[r] += chunk.size
        if quota.unit and len(loads[r]) == quota.hi:
            at_hi += 1
    return loads
