"""Local search over the chunk assignment of uneven sizes, for a fixed replica layout.

Packing chunks of uneven sizes into replicas under a byte cap, local data first, is a
generalised assignment problem: a greedy pass can strand a large remote chunk that one
or two small local ones could have made room for. Moves (one chunk), swaps (one for one)
and ejections (one for two) between replicas on different nodes are applied while they
cut cost within the cap. The search is bounded by a budget of candidate checks.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from itertools import combinations

from datalocality.model import Chunk
from datalocality.placement.build import Context

EXCHANGE_BUDGET = 4_000_000


def improve_by_exchange(ctx: Context, nodes: list[str], loads: list[list[Chunk]], cap: int) -> bool:
    """Improve ``loads`` in place by moves, swaps and one-for-two ejections; True if any."""
    names = sorted(set(nodes))
    if len(names) < 2 or len(ctx.request.chunks) ** 2 > EXCHANGE_BUDGET:
        return False
    by_name = ctx.request.topology.by_name
    cost = {
        (c.id, name): ctx.costs.cost(c, by_name[name]) for c in ctx.request.chunks for name in names
    }
    search = _Search(ctx, nodes, loads, cap, cost)
    changed = False
    while search.budget > 0 and search.sweep():
        changed = True
    return changed


class _Search:
    """The state of one exchange search: loads, bytes used per replica, budget left."""

    def __init__(
        self,
        ctx: Context,
        nodes: list[str],
        loads: list[list[Chunk]],
        cap: int,
        cost: dict[tuple[str, str], float],
    ) -> None:
        self.ctx, self.nodes, self.loads, self.cap, self.cost = ctx, nodes, loads, cap, cost
        self.used = [sum(c.size for c in chunks) for chunks in loads]
        self.budget = EXCHANGE_BUDGET

    def sweep(self) -> bool:
        """One pass over ordered replica pairs on different nodes; True if anything moved."""
        improved = False
        for i in range(len(self.nodes)):
            for j in range(len(self.nodes)):
                if self.nodes[i] != self.nodes[j] and self.budget > 0:
                    improved |= self._pair(i, j)
        return improved

    def _gain(self, i: int, j: int, out_i: Sequence[Chunk], out_j: Sequence[Chunk]) -> float:
        """Cost saved by sending ``out_i`` from i to j and ``out_j`` from j to i."""
        ni, nj, cost = self.nodes[i], self.nodes[j], self.cost
        before = sum(cost[(c.id, ni)] for c in out_i) + sum(cost[(c.id, nj)] for c in out_j)
        after = sum(cost[(c.id, nj)] for c in out_i) + sum(cost[(c.id, ni)] for c in out_j)
        return before - after

    def _twos(self, a: Chunk, i: int, j: int) -> Iterable[tuple[Chunk, Chunk]]:
        """Pairs of j's chunks worth trading for ``a``: all of them if ``a`` would rather be
        on j, else only pairs holding a chunk that would rather be on i."""
        others = list(self.loads[j])
        if self._prefers(a, j, i):
            return combinations(others, 2)
        keen = [k for k, b in enumerate(others) if self._prefers(b, i, j)]
        keen_set = set(keen)
        return (
            (others[k], others[m])
            for k in keen
            for m in range(len(others))
            if m != k and (m not in keen_set or m > k)
        )

    def _prefers(self, chunk: Chunk, there: int, here: int) -> bool:
        """``chunk`` costs less on replica ``there``'s node than on ``here``'s."""
        return self.cost[(chunk.id, self.nodes[there])] < self.cost[(chunk.id, self.nodes[here])]

    def _fits(self, i: int, j: int, out_i: Sequence[Chunk], out_j: Sequence[Chunk]) -> bool:
        delta = sum(c.size for c in out_i) - sum(c.size for c in out_j)
        return self.used[i] - delta <= self.cap and self.used[j] + delta <= self.cap

    def _apply(self, i: int, j: int, out_i: Sequence[Chunk], out_j: Sequence[Chunk]) -> None:
        for chunk in out_i:
            self.loads[i].remove(chunk)
            self.loads[j].append(chunk)
        for chunk in out_j:
            self.loads[j].remove(chunk)
            self.loads[i].append(chunk)
        delta = sum(c.size for c in out_i) - sum(c.size for c in out_j)
        self.used[i] -= delta
        self.used[j] += delta

    def _try(self, i: int, j: int, out_i: Sequence[Chunk], out_j: Sequence[Chunk]) -> bool:
        self.budget -= 1
        gain = self._gain(i, j, out_i, out_j)
        if self.ctx.below(0.0, gain) and self._fits(i, j, out_i, out_j):
            self._apply(i, j, out_i, out_j)
            return True
        return False

    def _pair(self, i: int, j: int) -> bool:
        """Best-effort improvements sending one chunk of replica i to replica j."""
        improved = False
        for a in list(self.loads[i]):
            if self._try(i, j, [a], []):
                improved = True
                continue
            if any(self._try(i, j, [a], [b]) for b in list(self.loads[j])):
                improved = True
                continue
            # Trading a for two chunks of j can only pay if one of the three would rather
            # be on the other side.
            if any(
                self.budget > 0 and self._try(i, j, [a], list(bs)) for bs in self._twos(a, i, j)
            ):
                improved = True
        return improved
