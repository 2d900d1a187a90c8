"""Chunk assignment once the replica nodes are fixed.

Bottom-up matching on the domain tree: each domain first feeds its own replicas from the
chunks it holds, and passes what is left (chunks and room) to its parent. On a tree metric
this is exactly optimal for unit chunks with one copy each (every domain then sends out
only its unavoidable surplus); the spare "+1" slots of non-divisible counts go first where
they save most (a greedy over convex gains, exact on a laminar family). Unit chunks with
several copies go through a min-cost flow instead (a numpy matching when there are many:
:mod:`.matching`); chunks of uneven sizes are packed
largest first into the replica with most room, which keeps every replica under its cap.
"""

from __future__ import annotations

import heapq
from collections.abc import Mapping
from itertools import chain

import numpy as np

from datalocality.placement.build import Context, Decision, replica_nodes
from datalocality.placement.copies import WORLD
from datalocality.placement.exchange import improve_by_exchange
from datalocality.placement.flow import Runs, assign_by_flow
from datalocality.placement.matching import assign_by_matching
from datalocality.placement.packing import Packed, pack
from datalocality.placement.tree import Domain, DomainTree

# Copy locations (summed over distinct location tuples) up to which unit chunks with
# several copies go through the exact min-cost flow; above it, the numpy matching.
FLOW_COPIES = 6_000


def assign_fixed(
    ctx: Context, tree: DomainTree, counts: Mapping[str, int], *, polish: bool = True
) -> Decision:
    """Assign every chunk to one replica on the given nodes, cheaply and balanced.

    ``polish`` runs the exchange search on uneven sizes (a search over many layouts
    polishes only the most promising ones)."""
    nodes = replica_nodes(counts)
    quota = ctx.quota
    chunks = ctx.request.chunks
    if tree.multi_copy and len(tree.copies.group) > FLOW_COPIES:
        return assign_by_matching(ctx, tree, counts)
    if quota.unit and tree.multi_copy:
        return _split_nodes(ctx, nodes, assign_by_flow(ctx, tree, counts))
    if quota.unit:
        extras = _extras(tree, counts)
        rooms = [quota.unit_size * quota.lo] * len(nodes)
        first: dict[str, int] = {}
        for index, name in enumerate(nodes):  # nodes.index per name is quadratic
            first.setdefault(name, index)
        for name, extra in extras.items():
            for offset in range(extra):
                rooms[first[name] + offset] += quota.unit_size
        packed = pack(tree, nodes, rooms, chunks)
        return _decision(nodes, packed)
    packed = pack(tree, nodes, [quota.byte_cap] * len(nodes), chunks)
    loads = packed.loads
    if polish and improve_by_exchange(ctx, nodes, loads, quota.byte_cap):
        return Decision(nodes=nodes, loads=loads)  # exchanged: tiers are found again
    return _decision(nodes, packed)


def _decision(nodes: list[str], packed: Packed) -> Decision:
    """A decision keeping the columns packing already has (tiers, sizes, ids, origins)."""
    return Decision(
        nodes,
        packed.loads,
        tiers=packed.tiers,
        sizes=packed.sizes,
        ids=packed.ids,
        origins=packed.origins,
    )


def _extras(tree: DomainTree, counts: Mapping[str, int]) -> dict[str, int]:
    """Where the ``extras`` replicas that read one chunk more should sit (unit chunks)."""
    quota = tree.quota
    if quota.extras == 0:
        return {}
    demand: dict[Domain, int] = {}
    for name, k in counts.items():
        for domain in tree.path[name]:
            demand[domain] = demand.get(domain, 0) + quota.lo * k * quota.unit_size

    def gain(name: str) -> float:
        saved = 0.0
        for domain in tree.path[name][:WORLD]:  # no read leaves the world
            if tree.supply.get(domain, 0) - demand.get(domain, 0) >= quota.unit_size:
                saved += tree.delta[domain[0]] * quota.unit_size
        return saved

    extras: dict[str, int] = {}
    heap = [(-gain(name), name) for name in sorted(counts)]
    heapq.heapify(heap)
    for _ in range(quota.extras):
        while True:
            stale, name = heapq.heappop(heap)
            fresh = -gain(name)
            if fresh <= stale or not heap or fresh <= heap[0][0]:
                break
            heapq.heappush(heap, (fresh, name))
        extras[name] = extras.get(name, 0) + 1
        for domain in tree.path[name]:
            demand[domain] = demand.get(domain, 0) + quota.unit_size
        if extras[name] < counts[name]:
            heapq.heappush(heap, (-gain(name), name))
    return extras


def _split_nodes(ctx: Context, nodes: list[str], runs: Runs) -> Decision:
    """Cut each node's unit chunks, by id, among its replicas: ``lo`` each, the spare ones
    to the first; with their ids, sizes and tiers (found once per run of one copy-location
    tuple), never touching the chunks but to hand them out."""
    lo, unit, by_id = ctx.quota.lo, ctx.quota.unit_size, ctx.by_id
    tier, by_name = ctx.costs.locations_tier, ctx.request.topology.by_name
    decision = Decision(nodes=nodes, loads=[], ids=[], sizes=[], tiers=[])
    for name in sorted(set(nodes)):
        mine = runs.get(name, [])
        ranks = np.fromiter(chain.from_iterable(r for _, r in mine), dtype=np.int64)
        known = [tier(locations, by_name[name]) for locations, _ in mine]
        tiers = np.repeat(np.asarray(known, dtype=np.int64), [len(r) for _, r in mine])
        order = np.argsort(ranks, kind="stable")
        ranked, tiered = ranks[order].tolist(), tiers[order].tolist()
        replicas = nodes.count(name)
        spare = len(ranked) - lo * replicas
        start = 0
        for r in range(replicas):
            end = start + lo + (1 if r < spare else 0)
            take = ranked[start:end]
            decision.loads.append([by_id.chunks[i] for i in take])
            decision.ids.append([by_id.ids[i] for i in take])  # type: ignore[union-attr]
            decision.tiers.append(tiered[start:end])  # type: ignore[union-attr]
            decision.sizes.append([unit] * len(take))  # type: ignore[union-attr]
            start = end
    return decision
