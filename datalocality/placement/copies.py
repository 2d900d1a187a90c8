"""Where each distinct tuple of copy locations can be read, as numpy columns.

The whole-input tallies of the domain tree (the smallest domain holding every copy, the
nearest tier a copy can be read at, the bytes of which some copy lies in each domain) and
the matching of unit chunks with several copies all work on one table: a row per copy
location, holding the domain it names at its own level and at every level above. 100,000
HDFS blocks of three copies are 300,000 rows that numpy tallies in milliseconds, where a
Python loop over them took seconds.
"""

from __future__ import annotations

from collections.abc import Hashable, Sequence
from itertools import chain, repeat
from typing import NamedTuple

import numpy as np
from numpy.typing import NDArray

from datalocality.model import Node
from datalocality.model.topology import OTHER_CLUSTER, TIER_COUNT

Domain = tuple[int, Hashable]
Ids = NDArray[np.int64]
# A domain's level is the tier of a read that stays inside it: node, zone, region,
# cluster, and the world above every cluster, which holds what only an OTHER_CLUSTER read
# reaches.
LEVELS = TIER_COUNT
WORLD = OTHER_CLUSTER
ROOT: Domain = (WORLD, "")
_KIND_LEVEL = {"zone": 1, "region": 2, "cluster": 3}


def node_path(node: Node) -> tuple[Domain, ...]:
    """The domains containing ``node``, itself first and the world last."""
    return ((0, node.name), (1, node.zone_key), (2, node.region_key), (3, node.cluster), ROOT)


class Groups(NamedTuple):
    """The chunks grouped by their tuple of copy locations: bytes per group (first seen
    first), each group's number, and the group of every chunk (in request order)."""

    held: dict[tuple[str, ...], int]
    number: dict[tuple[str, ...], int]
    of_chunk: Ids


def group_chunks(locations: Sequence[tuple[str, ...]], sizes: Sequence[int]) -> Groups:
    """:class:`Groups` of chunks given by their locations and sizes, with loops in C (1M
    chunks took a second as a Python loop)."""
    number = {key: g for g, key in enumerate(dict.fromkeys(locations))}
    of_chunk = np.fromiter(map(number.__getitem__, locations), np.int64, len(locations))
    totals = np.zeros(len(number), dtype=np.int64)
    np.add.at(totals, of_chunk, np.asarray(sizes, dtype=np.int64))
    return Groups(dict(zip(number, totals.tolist(), strict=True)), number, of_chunk)


class CopyIndex:
    """Domain ids per level, and per copy location of every group the domain it names.

    ``held`` maps the distinct location tuples (group ``g`` is the ``g``-th) to their
    bytes. Level ``l`` ids run over the level-``l`` domains; ``at[l][row]`` is the
    level-``l`` domain of a copy row, -1 when the copy names a domain above ``l``.
    """

    def __init__(self, nodes: Sequence[Node], grouped: Groups) -> None:
        held = grouped.held
        self.number = grouped.number  # group number of each location tuple
        self.of_chunk = grouped.of_chunk  # group of each request chunk
        self.nodes = {node.name: node for node in nodes}
        self.path: dict[str, tuple[Domain, ...]] = {n.name: node_path(n) for n in nodes}
        self._named: dict[str, tuple[list[Domain], int]] = {}
        groups, sizes = list(held), list(held.values())
        paths = self.path
        self.ids: list[dict[Domain, int]] = [{} for _ in range(LEVELS)]
        self.domains: list[list[Domain]] = [[] for _ in range(LEVELS)]
        up: list[list[int]] = [[] for _ in range(LEVELS - 1)]
        for path in paths.values():
            for level, domain in enumerate(path):
                if domain not in self.ids[level]:
                    self.ids[level][domain] = len(self.domains[level])
                    self.domains[level].append(domain)
            for level in range(LEVELS - 1):
                child = self.ids[level][path[level]]
                if child == len(up[level]):
                    up[level].append(self.ids[level + 1][path[level + 1]])
        # lift[m][l]: level-m id -> level-l id (m <= l)
        self.lift: list[list[Ids]] = []
        for m in range(LEVELS):
            row = [np.arange(len(self.domains[m]), dtype=np.int64)]
            for level in range(m, LEVELS - 1):
                row.append(np.asarray(up[level], dtype=np.int64)[row[-1]])
            self.lift.append([np.empty(0, dtype=np.int64)] * m + row)
        self.groups = list(groups)
        self.sizes = np.asarray(sizes, dtype=np.int64)
        # Node names first, in one flat pass; names of zones, regions and clusters (which
        # may name several domains) are expanded after.
        by_name = {domain[1]: i for domain, i in self.ids[0].items()}
        flat = list(chain.from_iterable(groups))
        owner = np.repeat(
            np.arange(len(groups), dtype=np.int64),
            np.fromiter(map(len, groups), dtype=np.int64, count=len(groups)),
        )
        node_of = np.fromiter(
            map(by_name.get, flat, repeat(-1, len(flat))), dtype=np.int64, count=len(flat)
        )
        is_node = node_of >= 0
        group_col = [owner[is_node]]
        level_col = [np.zeros(int(is_node.sum()), dtype=np.int64)]
        id_col = [node_of[is_node]]
        flat_col = [np.flatnonzero(is_node)]
        for at in np.flatnonzero(~is_node).tolist():
            found, _ = self.location_domains(flat[at])
            group_col.append(np.full(len(found), owner[at], dtype=np.int64))
            level_col.append(np.asarray([d[0] for d in found], dtype=np.int64))
            id_col.append(np.asarray([self.ids[d[0]][d] for d in found], dtype=np.int64))
            flat_col.append(np.full(len(found), at, dtype=np.int64))
        position = np.concatenate(flat_col)
        order = np.argsort(position, kind="stable")  # rows in group, then location order
        self.flat = flat  # the location each row came from is flat[self.position[row]]
        self.position = position[order]
        self.group = np.concatenate(group_col)[order]
        self.level = np.concatenate(level_col)[order]
        ids = np.concatenate(id_col)[order]
        self.at = np.full((LEVELS, len(ids)), -1, dtype=np.int64)
        for m in range(LEVELS):
            rows = np.flatnonzero(self.level == m)
            for level in range(m, LEVELS):
                self.at[level, rows] = self.lift[m][level][ids[rows]]
        # rows are in group order: group g owns rows start[g]:start[g + 1]
        counts = np.bincount(self.group, minlength=len(groups))
        self.start = np.concatenate(([0], np.cumsum(counts))).astype(np.int64)
        self.rows_per_group = counts
        self.widest = int(counts.max()) if len(counts) else 0
        self._homes()

    def _homes(self) -> None:
        """Per group: the nearest level a copy names, and the smallest domain holding all."""
        n = len(self.sizes)
        self.nearest = np.full(n, WORLD, dtype=np.int64)
        self.home_level = np.full(n, WORLD, dtype=np.int64)
        self.home_id = np.zeros(n, dtype=np.int64)
        has = np.flatnonzero(self.rows_per_group > 0)
        if not len(has):
            return
        starts = self.start[has]
        self.nearest[has] = np.minimum.reduceat(self.level, starts)
        undecided = np.ones(len(has), dtype=bool)
        for level in range(LEVELS):
            column = self.at[level]
            low = np.minimum.reduceat(column, starts)
            high = np.maximum.reduceat(column, starts)
            found = undecided & (low == high) & (low >= 0)
            self.home_level[has[found]] = level
            self.home_id[has[found]] = low[found]
            undecided &= ~found

    def location_domains(self, location: str) -> tuple[list[Domain], int]:
        """The domains a location names, and its level. A zone or region name used in
        several clusters names several domains: each is then like a copy of its own."""
        kind, _, name = location.rpartition(":")
        if not kind:
            return [(0, name)], 0
        if location not in self._named:
            level = _KIND_LEVEL[kind]
            found = {
                path[level]
                for node, path in self.path.items()
                if (kind == "cluster" and path[3][1] == name)
                or (kind == "zone" and self.nodes[node].zone == name)
                or (kind == "region" and self.nodes[node].region == name)
            }
            self._named[location] = (sorted(found, key=repr) or [ROOT], level)
        return self._named[location]

    @property
    def multi_copy(self) -> bool:
        """Some group can be read from several domains."""
        return bool(len(self.rows_per_group)) and int(self.rows_per_group.max()) > 1

    def supply(self) -> dict[Domain, int]:
        """Bytes whose copies all lie in each domain (the group's home and above)."""
        out: dict[Domain, int] = {}
        for level in range(LEVELS):
            mask = self.home_level <= level
            where = np.zeros(len(self.domains[level]), dtype=np.int64)
            for m in range(level + 1):
                pick = mask & (self.home_level == m)
                ids = self.lift[m][level][self.home_id[pick]]
                np.add.at(where, ids, self.sizes[pick])
            self._collect(level, where, out)
        return out

    def available(self, levels: Sequence[int] = (0, 1, 2, 3)) -> dict[Domain, int]:
        """Bytes of which some copy lies in each domain (of the given levels)."""
        out: dict[Domain, int] = {}
        for level in levels:
            column = self.at[level]
            rows = first_in_run(self.group, column, self.widest)
            where = np.zeros(len(self.domains[level]), dtype=np.int64)
            np.add.at(where, column[rows], self.sizes[self.group[rows]])
            self._collect(level, where, out)
        return out

    def bytes_by_nearest(self) -> list[int]:
        """Bytes per nearest tier a copy can be read at (``WORLD``: no copy anywhere)."""
        totals = np.zeros(LEVELS, dtype=np.int64)
        np.add.at(totals, self.nearest, self.sizes)
        return [int(v) for v in totals]

    def _collect(self, level: int, where: Ids, out: dict[Domain, int]) -> None:
        domains = self.domains[level]
        for i in np.flatnonzero(where).tolist():
            out[domains[i]] = int(where[i])


def first_in_run(owner: Ids, values: Ids, widest: int) -> Ids:
    """Indices of the rows whose value (>= 0) no earlier row of the same owner has; rows
    of one owner are contiguous and at most ``widest`` long."""
    keep = values >= 0
    if widest > 8:  # long runs: sort instead of comparing neighbours
        rows = np.flatnonzero(keep)
        key = owner[rows] * (int(values.max()) + 1) + values[rows]
        order = np.lexsort((rows, key))  # by key, the earliest row first
        first = np.ones(len(order), dtype=bool)
        first[1:] = key[order][1:] != key[order][:-1]
        return np.sort(rows[order][first])
    for back in range(1, widest):
        same = (owner[back:] == owner[:-back]) & (values[back:] == values[:-back])
        keep[back:] &= ~same
    return np.flatnonzero(keep)
