"""Bottom-up packing of chunks into replicas whose nodes are fixed.

Each domain, from nodes up to the world, first feeds its own replicas from the chunks it
holds and passes what is left (chunks and room) to its parent. Chunks are handled in
groups of equal copy locations (100k chunks on 5k nodes are at most 5k groups), so the
per-level work is per group; only placement itself touches single chunks, and equal-sized
chunks are even placed in bulk.
"""

from __future__ import annotations

import heapq
from bisect import bisect_left, bisect_right
from collections.abc import Sequence
from functools import cached_property
from itertools import accumulate, chain, islice
from operator import itemgetter, le
from typing import NamedTuple, TypeVar

import numpy as np
from numpy.typing import NDArray

from datalocality.model import Chunk
from datalocality.placement.copies import LEVELS
from datalocality.placement.costs import REMOTE
from datalocality.placement.tree import Domain, DomainTree

Locations = tuple[str, ...]
_T = TypeVar("_T")


class _Packer:
    """The packing state: the chunks as columns by rank (largest first), and per replica
    its chunks, their sizes and ids, the tiers they are read across, and the room left.

    The columns are read from the chunks once, in the request's order: 100k objects read
    again in sorted order would cost a cache miss per attribute."""

    def __init__(
        self, tree: DomainTree, nodes: list[str], rooms: list[int], chunks: tuple[Chunk, ...]
    ) -> None:
        self.tree = tree
        self.room = list(rooms)
        self.node_of = [tree.costs.nodes[name] for name in nodes]
        self.loads: list[list[Chunk]] = [[] for _ in nodes]
        self.tiers: list[list[int]] = [[] for _ in nodes]
        self.sizes: list[list[int]] = [[] for _ in nodes]
        self.ids: list[list[str]] = [[] for _ in nodes]
        self.origins: list[list[str]] = [[] for _ in nodes]
        sizes = [c.size for c in chunks]
        ids = [c.id for c in chunks]
        # Groups of equal copy locations, numbered as the copy table numbers them.
        self.locations: list[Locations] = tree.copies.groups  # group -> locations
        self.single = [len(tree.copy_domains(locs)) == 1 for locs in self.locations]
        # Largest first (ties by id): packing uneven sizes largest first strands the
        # fewest bytes. A stable sort by size of chunks already in id order (request
        # chunks come sorted) needs no key tuples.
        if all(map(le, ids, islice(ids, 1, None))):
            order = np.argsort(-np.asarray(sizes, dtype=np.int64), kind="stable")
            perm: list[int] = order.tolist()
        else:
            perm = sorted(range(len(chunks)), key=ids.__getitem__)
            perm.sort(key=sizes.__getitem__, reverse=True)
            order = np.asarray(perm, dtype=np.int64)
        self.chunk = _gather(chunks, perm)
        self.size = _gather(sizes, perm)
        self.id = _gather(ids, perm)
        self.group_of = tree.copies.of_chunk[order]  # rank -> group
        self.group: list[int] = self.group_of.tolist()
        # Where a single-copy chunk is read from is its one location, whoever reads it.
        first = [_sole_copy(tree, locs) for locs in self.locations]
        self.origin = list(map(first.__getitem__, self.group))

    @cached_property
    def falling(self) -> list[int]:
        """Minus the size of every rank: ascending, for bisecting to the first rank at or
        below a size (built when first needed; equal sizes never need it)."""
        return [-size for size in self.size]

    def place(self, index: int, rank: int, level: int) -> None:
        """Give one chunk to a replica. Data with one copy is read at the level where it
        is matched; data with several copies is read from the copy nearest the node."""
        chunk, size = self.chunk[rank], self.size[rank]
        self.loads[index].append(chunk)
        self.sizes[index].append(size)
        self.ids[index].append(self.id[rank])
        if self.single[self.group[rank]]:
            tier, origin = level, self.origin[rank]
        else:
            tier, origin = self.tree.costs.nearest(chunk, self.node_of[index])
        self.tiers[index].append(tier)
        self.origins[index].append(origin)
        self.room[index] -= size

    def place_run(
        self, index: int, ranks: list[int], level: int, charged: bool = False, size: int = 0
    ) -> None:
        """Give single-copy chunks matched at ``level`` to one replica at once (``charged``:
        its room was already taken down; ``size``: they all have this size)."""
        self.loads[index].extend(map(self.chunk.__getitem__, ranks))
        sizes = [size] * len(ranks) if size else list(map(self.size.__getitem__, ranks))
        self.sizes[index].extend(sizes)
        self.ids[index].extend(map(self.id.__getitem__, ranks))
        self.origins[index].extend(map(self.origin.__getitem__, ranks))
        self.tiers[index].extend([level] * len(ranks))
        if not charged:
            self.room[index] -= sum(sizes)


def _sole_copy(tree: DomainTree, locations: Locations) -> str:
    """Where data whose copies lie in one domain is read from (as costs.nearest picks)."""
    if len(locations) == 1:
        return locations[0]
    known = [loc for loc in locations if tree.location_domains(loc)[0]]
    return known[0] if known else (locations[0] if locations else REMOTE)


def _gather(values: Sequence[_T], order: list[int]) -> list[_T]:
    """``[values[i] for i in order]``, in C."""
    if len(order) < 2:
        return [values[i] for i in order]
    return list(itemgetter(*order)(values))


class Packed(NamedTuple):
    """Per replica: its chunks, the tier each is read across, their sizes and ids, and
    where each is read from."""

    loads: list[list[Chunk]]
    tiers: list[list[int]]
    sizes: list[list[int]]
    ids: list[list[str]]
    origins: list[list[str]]


def pack(tree: DomainTree, nodes: list[str], rooms: list[int], chunks: tuple[Chunk, ...]) -> Packed:
    """Assign every chunk to a replica (replica ``i`` on ``nodes[i]`` with ``rooms[i]``
    bytes of room). ``chunks`` are the request's: their groups are the tree's copy table's.

    At each level, chunks whose copies all lie in one domain of that level are packed into
    that domain's replicas, the one with most room first; chunks with copies in several
    domains then go to the replica with most room among all of them.
    """
    packer = _Packer(tree, nodes, rooms, chunks)
    under: list[dict[Domain, list[int]]] = [{} for _ in range(LEVELS)]
    for index, name in enumerate(nodes):
        for level, domain in enumerate(tree.path[name]):
            under[level].setdefault(domain, []).append(index)
    size = packer.size
    uniform = bool(size) and size[0] == size[-1] > 0
    group_of = packer.group_of
    groups = _by_group(group_of, list(range(len(size))))
    for level in range(LEVELS):
        alone: dict[Domain, list[int]] = {}
        shared: list[tuple[int, list[Domain]]] = []
        left: list[int] = []  # starts with chunks readable only from a higher level
        for number, ranks in groups.items():
            domains = _domains_at(tree, packer.locations[number], level)
            if len(domains) == 1:
                alone.setdefault(domains[0], []).append(number)
            elif domains:
                shared.extend((rank, domains) for rank in ranks)
            else:
                left.extend(ranks)
        for domain in sorted(alone, key=repr):
            members = [i for i in under[level].get(domain, []) if packer.room[i] > 0]
            numbers = alone[domain]
            ranks = (
                groups[numbers[0]]
                if len(numbers) == 1
                else sorted(chain.from_iterable(groups[n] for n in numbers))
            )
            single = all(packer.single[n] for n in numbers)
            if uniform and single:
                left.extend(_fill_uniform(packer, members, ranks, level))
            else:
                left.extend(_fill(packer, members, ranks, level, single))
        shared.sort(key=lambda pair: pair[0])
        for rank, domains in shared:
            options = [i for d in domains for i in under[level].get(d, [])]
            index = max(options, key=lambda i: (packer.room[i], -i), default=-1)
            if index >= 0 and packer.room[index] >= size[rank]:
                packer.place(index, rank, level)
            else:
                left.append(rank)
        left.sort()
        groups = _by_group(group_of, left)
    if groups:
        unplaced = [packer.id[r] for ranks in groups.values() for r in ranks]
        raise AssertionError(f"chunks left unassigned: {unplaced[:3]}")
    return Packed(packer.loads, packer.tiers, packer.sizes, packer.ids, packer.origins)


def _by_group(group_of: NDArray[np.int64], ranks: list[int]) -> dict[int, list[int]]:
    """The ranks (ascending) split by copy-location group, each group's in rank order."""
    if not ranks:
        return {}
    at = np.asarray(ranks, dtype=np.int64)
    of = group_of[at]
    order = np.argsort(of, kind="stable")
    of, at = of[order], at[order]
    cuts = (np.flatnonzero(np.diff(of)) + 1).tolist()
    numbers = of[[0, *cuts]].tolist()
    return dict(zip(numbers, (part.tolist() for part in np.split(at, cuts)), strict=True))


def _fill(
    packer: _Packer, members: list[int], ranks: list[int], level: int, single: bool
) -> list[int]:
    """Chunks of one domain, largest first, each to the member with most room; returns
    the ranks that fit nowhere. This loop is the hot spot of packing uneven sizes, so it
    stops as soon as nothing left can fit, updates the heap in place, and (for data with
    one copy) hands each member its chunks in one run at the end."""
    if not members or not ranks:
        return ranks
    if len(members) == 1:
        return _fill_one(packer, members[0], ranks, level, single)
    room, size = packer.room, packer.size
    place = packer.place
    got: dict[int, list[int]] = {i: [] for i in members} if single else {}
    heap = [(-room[i], i) for i in members]
    heapq.heapify(heap)
    left: list[int] = []
    smallest = size[ranks[-1]]  # ranks run largest first
    pos, end = 0, len(ranks)
    while pos < end:
        rank = ranks[pos]
        most, index = heap[0]
        if -most < size[rank]:
            if -most < smallest:  # nothing after this fits either
                left.extend(ranks[pos:])
                break
            # nothing is placed until a chunk fits the most room: skip to it at once
            fits = bisect_left(ranks, bisect_left(packer.falling, most, lo=rank), lo=pos)
            left.extend(ranks[pos:fits])
            pos = fits
            continue
        pos += 1
        if single:
            got[index].append(rank)
            room[index] -= size[rank]
        else:
            place(index, rank, level)
        if room[index] > 0:
            heapq.heapreplace(heap, (-room[index], index))
        else:
            heapq.heappop(heap)
            if not heap:
                left.extend(ranks[pos:])
                break
    for index, run in got.items():
        if run:
            packer.place_run(index, run, level, charged=True)
    return left


def _fill_one(packer: _Packer, index: int, ranks: list[int], level: int, single: bool) -> list[int]:
    """:func:`_fill` with one member, by runs: the longest run of chunks that fits at once
    (prefix sums), then a jump past every chunk too big for the room left (sizes fall)."""
    size = packer.size
    sizes = [size[r] for r in ranks]
    prefix = list(accumulate(sizes, initial=0))
    falling = [-s for s in sizes]
    room = packer.room[index]
    taken: list[int] = []
    left: list[int] = []
    pos = 0
    while pos < len(ranks) and room > 0:
        end = bisect_right(prefix, prefix[pos] + room, lo=pos) - 1
        if end > pos:
            taken.extend(ranks[pos:end])
            room -= prefix[end] - prefix[pos]
            pos = end
        else:  # ranks[pos] does not fit: skip to the first chunk that does
            fits = bisect_left(falling, -room, lo=pos)
            left.extend(ranks[pos:fits])
            pos = fits
    left.extend(ranks[pos:])
    if single:
        packer.place_run(index, taken, level)
    else:
        for rank in taken:
            packer.place(index, rank, level)
    return left


def _fill_uniform(packer: _Packer, members: list[int], ranks: list[int], level: int) -> list[int]:
    """:func:`_fill` for equal-sized single-copy chunks, in bulk: the most-room-first
    rule then takes each member's room down to a common water level, lowest index first
    on ties. Which chunk a member gets does not change any read tier, only how many."""
    size = packer.size[ranks[0]] if ranks else 1
    slots = {i: packer.room[i] // size for i in members}
    taken = _water_fill(slots, len(ranks))
    start = 0
    for index in sorted(taken):
        count = taken[index]
        packer.place_run(index, ranks[start : start + count], level, size=size)
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
