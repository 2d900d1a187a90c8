"""The domain tree's convex programme solved a level at a time, in numpy.

:meth:`.tree.DomainTree._function` defines a domain's function recursively (its children's
marginals merged and cut at its limit, plus its own steps). HDFS-style inputs solve that
programme under five mixes over thousands of domains, where the recursion in Python cost a
third of a second; here every domain of a level is done at once, with the same additions
element by element, so the floats (and the plans) are the same.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import NamedTuple

import numpy as np
from numpy.typing import NDArray

from datalocality.placement.copies import Domain

Floats = NDArray[np.float64]
Ints = NDArray[np.int64]


@dataclass
class Fn:
    """A convex function of a replica count, as its value at 0 and non-zero marginals."""

    base: float
    marginals: list[float]  # non-decreasing, all < 0; further steps up to ``limit`` are 0
    limit: int  # most replicas the domain can host


class Level(NamedTuple):
    """One level's domains (in ``repr`` order), their bytes held, bytes a copy lies in,
    replica limit, and each one's parent (its index among the next level's domains)."""

    domains: list[Domain]
    supply: Floats
    avail: Floats
    limit: Ints
    parent: Ints


@dataclass
class Levels:
    """Every domain's function: per level the marginals flat (domain by domain, ``owner``
    naming each one's domain) and the bases."""

    domains: list[list[Domain]]
    values: list[Floats]
    owner: list[Ints]
    base: list[list[float]]

    def marginals(self, level: int, index: int) -> list[float]:
        """The marginals of domain ``index`` of ``level``."""
        return list(self.values[level][self.owner[level] == index].tolist())

    def functions(self, limits: Mapping[Domain, int]) -> dict[Domain, Fn]:
        """Every domain's :class:`Fn` (to split the winning bound's replica counts)."""
        memo: dict[Domain, Fn] = {}
        for level, domains in enumerate(self.domains):
            values = self.values[level].tolist()
            ends = np.searchsorted(self.owner[level], np.arange(len(domains) + 1)).tolist()
            for i, domain in enumerate(domains):
                memo[domain] = Fn(
                    self.base[level][i], values[ends[i] : ends[i + 1]], limits[domain]
                )
        return memo


def solve_levels(
    levels: Sequence[Level], delta: Sequence[float], mix: Sequence[float], most: Floats
) -> Levels:
    """Every domain's function, nodes first; ``delta``/``mix`` per level below the world,
    ``most[k]`` the bytes ``k`` replicas may read."""
    out = Levels([level.domains for level in levels], [], [], [])
    for depth, level in enumerate(levels):
        terms = (delta[depth], mix[depth]) if depth < len(delta) else None
        base = level_bases(level, terms, most)
        steps, step_of = level_steps(level, terms, most)
        if depth == 0:
            values, owner = steps, step_of
        else:
            below = levels[depth - 1]
            roomy = np.bincount(below.parent[below.limit > 0], minlength=len(level.limit))
            values, owner = merge_level(
                (out.values[-1], below.parent[out.owner[-1]]),
                level.limit,
                (steps, step_of),
                sorts=roomy > 1,
            )
            child_base = out.base[-1]
            for child, up in enumerate(below.parent.tolist()):
                base[up] += child_base[child]
        kept = values < 0.0
        out.values.append(values[kept])
        out.owner.append(owner[kept])
        out.base.append(base)
    return out


def level_bases(level: Level, terms: tuple[float, float] | None, most: Floats) -> list[float]:
    """:meth:`~.tree.DomainTree.term` at 0 replicas of every domain of ``level``
    (``terms``: its delta and mix; None at the world, which costs nothing)."""
    if terms is None:
        return [0.0] * len(level.domains)
    delta, mix = terms
    cost = np.zeros(len(level.supply))
    if mix > 0.0:
        surplus = level.supply - most[0]
        cost = np.where(surplus > 0, 0.0 + mix * surplus, 0.0)
    if mix < 1.0:
        cost = cost - (1.0 - mix) * np.minimum(level.avail, most[0])
    return list((delta * cost).tolist())


def level_steps(
    level: Level, terms: tuple[float, float] | None, most: Floats
) -> tuple[Floats, Ints]:
    """:meth:`~.tree.DomainTree._steps` of every domain of ``level``: the steps, domain by
    domain, and each step's domain."""
    if terms is None:
        return np.zeros(0), np.zeros(0, dtype=np.int64)
    delta, mix = terms
    supply, avail, limit = level.supply, level.avail, level.limit
    # Steps k = 1..n per domain: out while most[k-1] < supply, in while < avail.
    n_out = np.minimum(limit, np.searchsorted(most, supply)) if mix > 0.0 else 0 * limit
    n_in = np.minimum(limit, np.searchsorted(most, avail)) if mix < 1.0 else 0 * limit
    length = np.maximum(n_out, n_in)
    starts = np.concatenate(([0], np.cumsum(length)))
    row = np.repeat(np.arange(len(supply)), length)
    k = np.arange(int(starts[-1])) - starts[row] + 1
    has_out, has_in = k <= n_out[row], k <= n_in[row]
    s, now, before = supply[row], most[k], most[k - 1]
    out = delta * (mix * np.maximum(0.0, s - now)) - delta * (mix * (s - before))
    inward = -((1.0 - mix) * delta) * (np.minimum(avail[row], now) - before)
    return np.where(has_in, np.where(has_out, out + inward, inward), out), row


def merge_level(
    children: tuple[Floats, Ints],
    limit: Ints,
    steps: tuple[Floats, Ints],
    *,
    sorts: NDArray[np.bool_],
) -> tuple[Floats, Ints]:
    """Per parent: its children's marginals (values, parent of each) merged and cut at its
    limit, plus its own steps (values, parent of each) position by position. Only parents
    marked in ``sorts`` (more than one child with room) sort what they merge, as the
    recursion does: a single child's marginals keep their order, rounding wobbles included."""
    values, parent = children
    key = np.where(sorts[parent], values, 0.0)
    order = np.lexsort((np.arange(len(values)), key, parent))
    values, parent = values[order], parent[order]
    rank = np.arange(len(parent)) - np.searchsorted(parent, parent, side="left")
    keep = rank < limit[parent]
    values, parent, rank = values[keep], parent[keep], rank[keep]
    step_values, step_of = steps
    step_rank = np.arange(len(step_of)) - np.searchsorted(step_of, step_of, side="left")
    width = len(limit)
    length = np.maximum(np.bincount(parent, minlength=width), np.bincount(step_of, minlength=width))
    offset = np.concatenate(([0], np.cumsum(length)))[:-1]
    merged = np.zeros(int(length.sum()))
    merged[offset[parent] + rank] = values
    at = offset[step_of] + step_rank
    merged[at] = merged[at] + step_values
    return merged, np.repeat(np.arange(width), length)
