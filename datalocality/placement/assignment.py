"""Chunk assignment once the replica nodes are fixed.

Bottom-up matching on the domain tree: each domain first feeds its own replicas from the
chunks it holds, and passes what is left (chunks and room) to its parent. On a tree metric
this is exactly optimal for unit chunks with one copy each (every domain then sends out
only its unavoidable surplus); the spare "+1" slots of non-divisible counts go first where
they save most (a greedy over convex gains, exact on a laminar family). Unit chunks with
several copies go through a min-cost flow instead; chunks of uneven sizes are packed
largest first into the replica with most room, which keeps every replica under its cap.
"""

from __future__ import annotations

import heapq
from collections.abc import Mapping

from datalocality.model import Chunk
from datalocality.placement.build import Context, Decision
from datalocality.placement.costs import REMOTE
from datalocality.placement.exchange import improve_by_exchange
from datalocality.placement.flow import assign_by_flow
from datalocality.placement.tree import Domain, DomainTree


def replica_nodes(counts: Mapping[str, int]) -> list[str]:
    """Replica index order: nodes by name, each repeated by its replica count."""
    return [name for name in sorted(counts) for _ in range(counts[name])]


def assign_fixed(
    ctx: Context, tree: DomainTree, counts: Mapping[str, int], *, polish: bool = True
) -> Decision:
    """Assign every chunk to one replica on the given nodes, cheaply and balanced.

    ``polish`` runs the exchange search on uneven sizes (a search over many layouts
    polishes only the most promising ones)."""
    nodes = replica_nodes(counts)
    quota = ctx.quota
    chunks = ctx.request.chunks
    if quota.unit and tree.multi_copy:
        per_node = assign_by_flow(ctx, tree, counts)
        return Decision(nodes=nodes, loads=_split_nodes(nodes, per_node, quota.lo))
    if quota.unit:
        extras = _extras(tree, counts)
        rooms = [quota.unit_size * quota.lo] * len(nodes)
        first = {name: nodes.index(name) for name in counts}
        for name, extra in extras.items():
            for offset in range(extra):
                rooms[first[name] + offset] += quota.unit_size
        loads, reads = _pack(tree, nodes, rooms, chunks)
        return Decision(nodes=nodes, loads=loads, reads=reads)
    loads, reads = _pack(tree, nodes, [quota.byte_cap] * len(nodes), chunks)
    if polish and improve_by_exchange(ctx, nodes, loads, quota.byte_cap):
        return Decision(nodes=nodes, loads=loads)  # exchanged: reads are found again
    return Decision(nodes=nodes, loads=loads, reads=reads)


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
        for domain in tree.path[name][:4]:
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


def _split_nodes(
    nodes: list[str], per_node: Mapping[str, list[Chunk]], lo: int
) -> list[list[Chunk]]:
    """Cut each node's chunks among its replicas: ``lo`` each, the spare ones to the first."""
    loads: list[list[Chunk]] = []
    for name in sorted(set(nodes)):
        chunks = sorted(per_node.get(name, []), key=lambda c: c.id)
        replicas = nodes.count(name)
        spare = len(chunks) - lo * replicas
        start = 0
        for r in range(replicas):
            take = lo + (1 if r < spare else 0)
            loads.append(chunks[start : start + take])
            start += take
    return loads


def _pack(
    tree: DomainTree, nodes: list[str], rooms: list[int], chunks: tuple[Chunk, ...]
) -> tuple[list[list[Chunk]], list[list[tuple[int, str]]]]:
    """Bottom-up matching: every domain serves its own replicas before passing data up.

    At each level, chunks whose copies all lie in one domain of that level are packed into
    that domain's replicas first; chunks with copies in several domains then go to the
    replica with most room among all of them.
    """
    loads: list[list[Chunk]] = [[] for _ in nodes]
    reads: list[list[tuple[int, str]]] = [[] for _ in nodes]
    room = list(rooms)
    costs = tree.costs
    # Data with one copy is read at the level where it is matched: record the tier now
    # instead of searching it again for every chunk when the plan is built.
    one_copy: dict[tuple[str, ...], bool] = {}

    def place(index: int, chunk: Chunk, level: int) -> None:
        loads[index].append(chunk)
        single = one_copy.get(chunk.locations)
        if single is None:
            single = one_copy[chunk.locations] = len(tree.copy_domains(chunk.locations)) == 1
        if single:
            reads[index].append((level, chunk.locations[0] if chunk.locations else REMOTE))
        else:
            reads[index].append(costs.nearest(chunk, costs.nodes[nodes[index]]))

    under: list[dict[Domain, list[int]]] = [{} for _ in range(5)]
    for index, name in enumerate(nodes):
        for level, domain in enumerate(tree.path[name]):
            under[level].setdefault(domain, []).append(index)
    # Chunks are handled by their rank in "largest first" order, as plain ints: sorting
    # ints is cheap, and packing uneven sizes largest first strands the fewest bytes.
    order = sorted(chunks, key=lambda c: (-c.size, c.id))
    remaining = list(range(len(order)))
    for level in range(5):
        alone: dict[Domain, list[int]] = {}
        shared: list[tuple[int, list[Domain]]] = []
        left: list[int] = []  # starts with chunks readable only from a higher level
        seen: dict[tuple[str, ...], list[Domain]] = {}
        for rank in remaining:
            locations = order[rank].locations
            domains = seen.get(locations)
            if domains is None:
                domains = seen[locations] = _domains_at(tree, locations, level)
            if len(domains) == 1:
                alone.setdefault(domains[0], []).append(rank)
            elif domains:
                shared.append((rank, domains))
            else:
                left.append(rank)
        for domain in sorted(alone, key=repr):
            heap = [(-room[i], i) for i in under[level].get(domain, []) if room[i] > 0]
            heapq.heapify(heap)
            for rank in alone[domain]:
                size = order[rank].size
                if heap and -heap[0][0] >= size:
                    free, index = heapq.heappop(heap)
                    place(index, order[rank], level)
                    room[index] -= size
                    if room[index] > 0:
                        heapq.heappush(heap, (free + size, index))
                else:
                    left.append(rank)
        for rank, domains in shared:
            size = order[rank].size
            options = [i for d in domains for i in under[level].get(d, [])]
            index = max(options, key=lambda i: (room[i], -i), default=-1)
            if index >= 0 and room[index] >= size:
                place(index, order[rank], level)
                room[index] -= size
            else:
                left.append(rank)
        left.sort()
        remaining = left
    if remaining:
        raise AssertionError(f"chunks left unassigned: {[order[r].id for r in remaining][:3]}")
    return loads, reads


def _domains_at(tree: DomainTree, locations: tuple[str, ...], level: int) -> list[Domain]:
    """The level-``level`` domains in which some copy at these locations can be read."""
    if len(locations) == 1 and ":" not in locations[0]:
        return [tree.path[locations[0]][level]]
    found = {
        tree.ancestors(home)[level - home[0]]
        for home, _ in tree.copy_domains(locations)
        if home[0] <= level
    }
    return sorted(found, key=repr)
