"""Bottom-up packing of chunks into replicas whose nodes are fixed.

Each domain, from nodes up to the world, first feeds its own replicas from the chunks it
holds and passes what is left (chunks and room) to its parent. Chunks are handled in
groups of equal copy locations (100k chunks on 5k nodes are at most 5k groups), so the
per-level work is per group; only placement itself touches single chunks, and equal-sized
chunks are even placed in bulk.
"""

from __future__ import annotations

import heapq
from itertools import chain
from operator import attrgetter

from datalocality.model import Chunk
from datalocality.placement.tree import Domain, DomainTree

Locations = tuple[str, ...]


class _Packer:
    """The packing state: per replica its chunks, their read tiers, and the room left."""

    def __init__(self, tree: DomainTree, nodes: list[str], rooms: list[int]) -> None:
        self.tree = tree
        self.loads: list[list[Chunk]] = [[] for _ in nodes]
        self.tiers: list[list[int]] = [[] for _ in nodes]
        self.room = list(rooms)
        self.node_of = [tree.costs.nodes[name] for name in nodes]

    def place(self, index: int, chunk: Chunk, level: int, single: bool) -> None:
        """Give one chunk to a replica. Data with one copy is read at the level where it
        is matched; data with several copies is read from the copy nearest the node."""
        self.loads[index].append(chunk)
        tier = level if single else self.tree.costs.tier(chunk, self.node_of[index])
        self.tiers[index].append(tier)
        self.room[index] -= chunk.size

    def place_run(self, index: int, chunks: list[Chunk], level: int) -> None:
        """Give single-copy chunks matched at ``level`` to one replica at once."""
        self.loads[index].extend(chunks)
        self.tiers[index].extend([level] * len(chunks))
        self.room[index] -= sum(c.size for c in chunks)


def pack(
    tree: DomainTree, nodes: list[str], rooms: list[int], chunks: tuple[Chunk, ...]
) -> tuple[list[list[Chunk]], list[list[int]]]:
    """Assign every chunk to a replica (replica ``i`` on ``nodes[i]`` with ``rooms[i]``
    bytes of room); return each replica's chunks and the tier each is read across.

    At each level, chunks whose copies all lie in one domain of that level are packed into
    that domain's replicas, the one with most room first; chunks with copies in several
    domains then go to the replica with most room among all of them.
    """
    packer = _Packer(tree, nodes, rooms)
    under: list[dict[Domain, list[int]]] = [{} for _ in range(5)]
    for index, name in enumerate(nodes):
        for level, domain in enumerate(tree.path[name]):
            under[level].setdefault(domain, []).append(index)
    # Largest first (ties by id): packing uneven sizes largest first strands the fewest
    # bytes. Two stable key sorts avoid building 100k key tuples; chunks are then handled
    # by their rank in this order, as plain ints.
    order = sorted(chunks, key=attrgetter("id"))
    order.sort(key=attrgetter("size"), reverse=True)
    uniform = bool(order) and order[0].size == order[-1].size > 0
    groups: dict[Locations, list[int]] = {}
    for rank, chunk in enumerate(order):
        groups.setdefault(chunk.locations, []).append(rank)
    single = {locs: len(tree.copy_domains(locs)) == 1 for locs in groups}
    for level in range(5):
        alone: dict[Domain, list[Locations]] = {}
        shared: list[tuple[int, list[Domain]]] = []
        left: list[int] = []  # starts with chunks readable only from a higher level
        for locations, ranks in groups.items():
            domains = _domains_at(tree, locations, level)
            if len(domains) == 1:
                alone.setdefault(domains[0], []).append(locations)
            elif domains:
                shared.extend((rank, domains) for rank in ranks)
            else:
                left.extend(ranks)
        for domain in sorted(alone, key=repr):
            members = [i for i in under[level].get(domain, []) if packer.room[i] > 0]
            keys = alone[domain]
            ranks = (
                groups[keys[0]]
                if len(keys) == 1
                else sorted(chain.from_iterable(groups[k] for k in keys))
            )
            if uniform and all(single[k] for k in keys):
                left.extend(_fill_uniform(packer, members, [order[r] for r in ranks], ranks, level))
            else:
                left.extend(_fill(packer, members, order, ranks, level=level, single=single))
        shared.sort(key=lambda pair: pair[0])
        for rank, domains in shared:
            chunk = order[rank]
            options = [i for d in domains for i in under[level].get(d, [])]
            index = max(options, key=lambda i: (packer.room[i], -i), default=-1)
            if index >= 0 and packer.room[index] >= chunk.size:
                packer.place(index, chunk, level, single[chunk.locations])
            else:
                left.append(rank)
        left.sort()
        groups = {}
        for rank in left:
            groups.setdefault(order[rank].locations, []).append(rank)
    if groups:
        unplaced = [order[r].id for ranks in groups.values() for r in ranks]
        raise AssertionError(f"chunks left unassigned: {unplaced[:3]}")
    return packer.loads, packer.tiers


def _fill(
    packer: _Packer,
    members: list[int],
    order: list[Chunk],
    ranks: list[int],
    *,
    level: int,
    single: dict[Locations, bool],
) -> list[int]:
    """Chunks of one domain, largest first, each to the member with most room; returns
    the ranks that fit nowhere. This loop is the hot spot of packing uneven sizes, so it
    stops as soon as nothing left can fit and updates the heap in place."""
    if not members or not ranks:
        return ranks
    room, loads, tiers = packer.room, packer.loads, packer.tiers
    costs, nodes = packer.tree.costs, packer.node_of
    heap = [(-room[i], i) for i in members]
    heapq.heapify(heap)
    left: list[int] = []
    smallest = order[ranks[-1]].size  # ranks run largest first
    for pos, rank in enumerate(ranks):
        chunk = order[rank]
        size = chunk.size
        most, index = heap[0]
        if -most < size:
            if -most < smallest:  # nothing after this fits either
                left.extend(ranks[pos:])
                break
            left.append(rank)
            continue
        loads[index].append(chunk)
        tiers[index].append(level if single[chunk.locations] else costs.tier(chunk, nodes[index]))
        room[index] -= size
        if room[index] > 0:
            heapq.heapreplace(heap, (-room[index], index))
        else:
            heapq.heappop(heap)
            if not heap:
                left.extend(ranks[pos + 1 :])
                break
    return left


def _fill_uniform(
    packer: _Packer, members: list[int], chunks: list[Chunk], ranks: list[int], level: int
) -> list[int]:
    """:func:`_fill` for equal-sized single-copy chunks, in bulk: the most-room-first
    rule then takes each member's room down to a common water level, lowest index first
    on ties. Which chunk a member gets does not change any read tier, only how many."""
    size = chunks[0].size
    slots = {i: packer.room[i] // size for i in members}
    taken = _water_fill(slots, len(chunks))
    start = 0
    for index in sorted(taken):
        count = taken[index]
        packer.place_run(index, chunks[start : start + count], level)
        start += count
    return ranks[start:]


def _water_fill(slots: dict[int, int], n: int) -> dict[int, int]:
    """How many of ``n`` equal items each member takes when every item goes to the member
    with most slots left (ties: lowest index)."""
    total = sum(slots.values())
    if n >= total:
        return {i: s for i, s in slots.items() if s}
    # The smallest level L with sum(max(0, s - L)) <= n: everyone above L comes down to
    # it, and the rest go one each to the lowest indices standing at L.
    levels = sorted(set(slots.values()), reverse=True)
    level, above = levels[0], 0
    for lower in [*levels[1:], 0]:
        count = sum(1 for s in slots.values() if s >= level)
        if above + count * (level - lower) > n:
            level -= (n - above) // count
            above += count * ((n - above) // count)
            break
        above += count * (level - lower)
        level = lower
    taken = {i: max(0, s - level) for i, s in slots.items()}
    extra = n - above
    for i in sorted(i for i, s in slots.items() if s >= level):
        if extra == 0:
            break
        taken[i] += 1
        extra -= 1
    return {i: t for i, t in taken.items() if t}


def _domains_at(tree: DomainTree, locations: Locations, level: int) -> list[Domain]:
    """The level-``level`` domains in which some copy at these locations can be read."""
    if len(locations) == 1 and ":" not in locations[0]:
        return [tree.path[locations[0]][level]]
    found = {
        tree.ancestors(home)[level - home[0]]
        for home, _ in tree.copy_domains(locations)
        if home[0] <= level
    }
    return sorted(found, key=repr)
