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

Nothing works per (chunk, node) or (chunk, replica) pair: data_locality is
``0.2 B_node + 0.3 B_zone + 0.5 B_region`` (B_X: bytes with a copy in the node's domain at
that level), :class:`Scores` rescores only what changed, and the greedy looks at a chunk's
replicas tier by tier (its copies' nodes, zones, regions, clusters).
"""

from __future__ import annotations

import heapq
from collections import Counter
from collections.abc import Hashable, Sequence
from dataclasses import dataclass, field

from datalocality.model import CRITERIA, Chunk, Consumer, Node
from datalocality.model.topology import OTHER_CLUSTER
from datalocality.placement.balance import Quota
from datalocality.placement.build import Context, Decision
from datalocality.placement.candidates import Candidates
from datalocality.placement.costs import CostModel
from datalocality.placement.spread import least_allocated

# data_locality weight of a byte by tier: node, zone, region, cluster, world.
TIER_WEIGHTS = (1.0, 0.8, 0.5, 0.0, 0.0)
# The same weights in tenths gained per level a copy shares: node 2, zone 3, region 5.
LEVEL_TENTHS = (2, 3, 5)
# Criteria fixed per node (all but the first, resource), as indices into CRITERIA.
STATIC = range(1, len(CRITERIA))

Reach = tuple[frozenset[Hashable], ...]


class CopyDomains:
    """Which domains read a chunk within each tier, per tuple of copy locations."""

    def __init__(self, costs: CostModel) -> None:
        self.keys = costs.keys  # node name -> (name, zone_key, region_key, cluster)
        self.zones: dict[str, set[tuple[str, str, str]]] = {}
        self.regions: dict[str, set[tuple[str, str]]] = {}
        for node in costs.topology.nodes:
            if node.zone:
                self.zones.setdefault(node.zone, set()).add(node.zone_key)
            if node.region:
                self.regions.setdefault(node.region, set()).add(node.region_key)
        self._cache: dict[tuple[str, ...], Reach] = {}

    def of(self, locations: tuple[str, ...]) -> Reach:
        """Node names, zone keys, region keys and clusters whose nodes are within tier 0,
        1, 2 and 3 of a copy (as ``CostModel.location_tier`` counts tiers)."""
        if (found := self._cache.get(locations)) is not None:
            return found
        levels: tuple[set[Hashable], ...] = (set(), set(), set(), set())
        for loc in locations:
            kind, _, name = loc.rpartition(":")
            if not kind:
                for level, key in zip(levels, self.keys[name], strict=True):
                    level.add(key)
            elif kind == "zone":
                for zone in self.zones.get(name, ()):
                    levels[1].add(zone)
                    levels[2].add(zone[:2])
                    levels[3].add(zone[0])
            elif kind == "region":
                for region in self.regions.get(name, ()):
                    levels[2].add(region)
                    levels[3].add(region[0])
            else:
                levels[3].add(name)
        self._cache[locations] = tuple(frozenset(level) for level in levels)
        return self._cache[locations]


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


def data_locality(ctx: Context, nodes: Sequence[Node], domains: CopyDomains) -> list[float]:
    """Per node, bytes of the request readable on it weighted by the tier of the nearest
    copy (``TIER_WEIGHTS``): summed exactly in integer tenths, rounded once."""
    by_locations: Counter[tuple[str, ...]] = Counter()
    for chunk in ctx.request.chunks:
        by_locations[chunk.locations] += chunk.size
    held: list[Counter[Hashable]] = [Counter(), Counter(), Counter()]
    for locations, size in by_locations.items():
        for level, reached in zip(held, domains.of(locations), strict=False):
            for key in reached:
                level[key] += size
    out: list[float] = []
    for node in nodes:
        keys = domains.keys[node.name]
        out.append(sum(t * held[i][keys[i]] for i, t in enumerate(LEVEL_TENTHS)) / 10)
    return out


@dataclass
class _Group:
    """Nodes with room and one resource value, in buckets of equal static criteria."""

    heap: list[tuple[float, int]] = field(default_factory=list)  # (-key, bucket), lazy
    members: dict[int, list[int]] = field(default_factory=dict)  # bucket -> nodes, lazy
    count: Counter[int] = field(default_factory=Counter)  # bucket -> nodes with room
    size: int = 0


class Scores:
    """The replica loop's choices, kept up to date instead of rescoring every node.

    Nodes with one resource value form a group; in it, nodes with equal static criteria
    (affinity, type, capabilities, data_locality) a bucket, which scores as one (its first
    node by name wins). A group's heap orders its buckets by a key that follows their
    static score: the raw value when one static criterion varies, else the normalised
    weighted sum, recomputed when the min or max of a varying one changes (a node filling
    up leaves). Per replica every bucket whose estimate is within a rounding margin of the
    best is scored exactly as a plain rescoring loop would, so ties come out the same.
    """

    def __init__(
        self,
        nodes: Sequence[Node],
        rows: Sequence[tuple[float, ...]],
        room: list[int],
        consumer: Consumer,
    ) -> None:
        self.nodes, self.rows, self.room = nodes, rows, room
        self.weights, self.requests = consumer.weight_vector, consumer.requests
        self.placed = [0] * len(nodes)
        self.resource = [least_allocated(node, self.requests, 0) for node in nodes]
        buckets: dict[tuple[float, ...], int] = {}
        self.bucket = [buckets.setdefault(row, len(buckets)) for row in rows]
        self.bucket_rows, self.keys = list(buckets), [0.0] * len(buckets)
        self.state: object = None
        # Per static criterion: nodes by value, and where the first and last with room are.
        self.order = [
            sorted(range(len(nodes)), key=lambda j: rows[j][i]) for i in range(len(STATIC))
        ]
        self.ends = [[0, len(nodes) - 1] for _ in STATIC]
        self.groups: dict[float, _Group] = {}
        for j in range(len(nodes)):
            if room[j] > 0:
                self._enter(j)
        self.with_room = sum(1 for n in room if n > 0)

    def _enter(self, j: int) -> None:
        group, b = self.groups.setdefault(self.resource[j], _Group()), self.bucket[j]
        heapq.heappush(group.members.setdefault(b, []), j)
        group.count[b] += 1
        group.size += 1
        if group.count[b] == 1:  # may duplicate a stale entry: harmless
            heapq.heappush(group.heap, (-self.keys[b], b))

    def _leave(self, j: int) -> None:
        group = self.groups[self.resource[j]]
        group.count[self.bucket[j]] -= 1
        group.size -= 1
        if group.size == 0:
            del self.groups[self.resource[j]]

    def _bounds(self) -> list[tuple[float, float, bool]]:
        """Per criterion over the nodes with room: min, max, and whether all count equal."""
        spans = [(min(self.groups), max(self.groups))]
        for i, (order, ends) in enumerate(zip(self.order, self.ends, strict=True)):
            while self.room[order[ends[0]]] == 0:
                ends[0] += 1
            while self.room[order[ends[1]]] == 0:
                ends[1] -= 1
            spans.append((self.rows[order[ends[0]]][i], self.rows[order[ends[1]]][i]))
        return [(lo, hi, hi - lo <= 1e-12 * max(1.0, abs(hi))) for lo, hi in spans]

    def _refresh(self, bounds: list[tuple[float, float, bool]]) -> None:
        """Recompute bucket keys and group heaps when the static order may have changed."""
        w = self.weights
        on = [i for i in STATIC if w[i] > 0 and not bounds[i][2]]
        state = (on, [bounds[i] for i in on] if len(on) > 1 else None)
        if state == self.state:
            return
        self.state = state
        for b, row in enumerate(self.bucket_rows):
            spans = [(row[i - 1] - bounds[i][0]) / (bounds[i][1] - bounds[i][0]) for i in on]
            self.keys[b] = (
                row[on[0] - 1]
                if len(on) == 1
                else sum(w[i] * s for i, s in zip(on, spans, strict=True))
            )
        for group in self.groups.values():
            group.heap = [(-self.keys[b], b) for b, n in group.count.items() if n > 0]
            heapq.heapify(group.heap)

    def pick(self) -> tuple[int, dict[str, float]]:
        """Place one replica on the best node; return its index and normalised criteria."""
        bounds = self._bounds()
        self._refresh(bounds)
        w = self.weights

        def norm(value: float, i: int) -> float:
            lo, hi, flat = bounds[i]
            return 1.0 if flat else (value - lo) / (hi - lo)

        def estimate(value: float, b: int) -> float:
            row = self.bucket_rows[b]
            return w[0] * norm(value, 0) + sum(w[i] * norm(row[i - 1], i) for i in STATIC)

        tops: list[tuple[float, float, _Group]] = []
        for value, group in self.groups.items():
            while group.count[group.heap[0][1]] == 0:
                heapq.heappop(group.heap)
            tops.append((estimate(value, group.heap[0][1]), value, group))
        floor = max(top[0] for top in tops) - 2e-9 * (1.0 + sum(w))
        best: tuple[float, str, int, list[float]] | None = None
        for top, value, group in tops:
            popped: list[tuple[float, int]] = []
            while top >= floor and group.heap:
                entry = heapq.heappop(group.heap)
                if group.count[entry[1]] == 0:
                    continue
                popped.append(entry)
                if estimate(value, entry[1]) < floor:
                    break
                members = group.members[entry[1]]  # its first node by name still here
                while self.room[members[0]] == 0 or self.resource[members[0]] != value:
                    heapq.heappop(members)
                j = members[0]
                columns = [norm(v, i) for i, v in enumerate((self.resource[j], *self.rows[j]))]
                total = sum(wi * c for wi, c in zip(w, columns, strict=True))
                mine = (-total, self.nodes[j].name, j, columns)
                best = mine if best is None or mine < best else best
            for entry in popped:
                heapq.heappush(group.heap, entry)
        assert best is not None
        negative, _, j, columns = best
        self._place(j)
        return j, {**dict(zip(CRITERIA, columns, strict=True)), "total": -negative}

    def _place(self, j: int) -> None:
        self.room[j] -= 1
        self.placed[j] += 1
        if self.room[j] == 0:
            self._leave(j)
            self.with_room -= 1
            return
        value = least_allocated(self.nodes[j], self.requests, self.placed[j])
        if value != self.resource[j]:
            self._leave(j)
            self.resource[j] = value
            self._enter(j)


def place(ctx: Context, candidates: Candidates) -> Decision:
    """Give each replica the best-scoring node with room; assign chunks greedily by cost."""
    consumer = ctx.request.consumer
    weights = consumer.weight_vector
    top = max(range(len(CRITERIA)), key=lambda i: (weights[i], -i))
    domains = CopyDomains(ctx.costs)
    nodes = sorted(candidates.nodes, key=lambda n: n.name)
    locality = data_locality(ctx, nodes, domains)
    rows = [(*static_criteria(consumer, n), dl) for n, dl in zip(nodes, locality, strict=True)]
    room = [candidates.capacity[n.name] for n in nodes]
    scores = Scores(nodes, rows, room, consumer)
    chosen: list[str] = []
    reasons: list[str] = []
    terms: list[dict[str, float]] = []
    for _ in range(consumer.replicas):
        options = scores.with_room
        index, values = scores.pick()
        chosen.append(nodes[index].name)
        terms.append(values)
        reasons.append(
            f"score {values['total']:.2f} ({CRITERIA[top]} {values[CRITERIA[top]]:.2f}), "
            f"best of {options} with room"
        )
    by_name = ctx.request.topology.by_name
    loads = assign_greedy(ctx, [by_name[name] for name in chosen], domains)
    return Decision(nodes=chosen, loads=loads, score_terms=terms, reasons=reasons)


def _fits(quota: Quota, count: int, size: int, chunk: Chunk, at_hi: int) -> bool:
    """Whether a replica holding ``count`` chunks / ``size`` bytes may take ``chunk``."""
    if quota.unit:
        if count + 1 < quota.hi:
            return True
        return count + 1 == quota.hi and (quota.extras == 0 or at_hi < quota.extras)
    return size + chunk.size <= quota.byte_cap


def assign_greedy(
    ctx: Context, nodes: Sequence[Node], domains: CopyDomains | None = None
) -> list[list[Chunk]]:
    """Largest chunk first, to the cheapest replica the quota still lets take it.

    Ties go to the fewest bytes, then the lowest index. A replica's room only shrinks as
    its bytes (and count) grow, so of a set of replicas only the one with the fewest bytes
    needs a look: each domain keeps its replicas in a heap of (bytes, index), fixed lazily.
    A chunk costs the same from every replica of one tier and no less from a farther one,
    so it looks within tier 0, 1, ... of its copies until a replica may take it, then
    widens to every tier of that same cost.
    """
    quota, per_byte = ctx.quota, ctx.costs.per_byte
    domains = domains or CopyDomains(ctx.costs)
    loads: list[list[Chunk]] = [[] for _ in nodes]
    sizes = [0] * len(nodes)
    at_hi = 0  # replicas holding quota.hi chunks (at most quota.extras when extras > 0)
    heaps: list[dict[Hashable, list[tuple[int, int]]]] = [{}, {}, {}, {}, {}]
    for r, node in enumerate(nodes):
        for level, key in zip(heaps, (*domains.keys[node.name], ""), strict=True):
            level.setdefault(key, []).append((0, r))
    within: dict[tuple[str, ...], list[list[list[tuple[int, int]]]]] = {}
    first_open = 0  # all chunks of 0 bytes: every cost and size ties, lowest index wins

    def smallest(found: list[list[tuple[int, int]]]) -> int:
        for heap in found:
            while heap[0][0] != sizes[heap[0][1]]:
                heapq.heapreplace(heap, (sizes[heap[0][1]], heap[0][1]))
        return min(heap[0] for heap in found)[1]

    def cheapest(chunk: Chunk) -> int | None:
        """The replica that reads ``chunk`` cheapest among those it fits in, if any."""
        tiers = within.get(chunk.locations)
        if tiers is None:
            reach = (*domains.of(chunk.locations), frozenset({""}))
            tiers = [
                [level[k] for k in keys if k in level]
                for level, keys in zip(heaps, reach, strict=True)
            ]
            within[chunk.locations] = tiers
        for tier, found in enumerate(tiers):
            if not found:
                continue
            r = smallest(found)
            if _fits(quota, len(loads[r]), sizes[r], chunk, at_hi):
                cost, widest = chunk.size * per_byte[tier], tier
                while widest < OTHER_CLUSTER and chunk.size * per_byte[widest + 1] == cost:
                    widest += 1
                return smallest(tiers[widest]) if widest > tier else r
        return None

    for chunk in sorted(ctx.request.chunks, key=lambda c: (-c.size, c.id)):
        if quota.unit and quota.unit_size == 0:
            while first_open < len(nodes) and not _fits(
                quota, len(loads[first_open]), 0, chunk, at_hi
            ):
                first_open += 1
            target = first_open if first_open < len(nodes) else None
        else:
            target = cheapest(chunk)
        if target is None:
            # Not reached: both quotas leave room for every chunk placed largest first.
            # Kept so a future quota rule degrades to the emptiest replica, not a crash.
            target = min(
                range(len(nodes)),
                key=lambda r: (len(loads[r]) if quota.unit else sizes[r], r),
            )
        loads[target].append(chunk)
        sizes[target] += chunk.size
        if quota.unit and len(loads[target]) == quota.hi:
            at_hi += 1
    return loads
