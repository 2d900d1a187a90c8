"""Optimal: choose replica nodes and chunk assignment together to minimise transfer cost.

1. The convex programme on the domain tree (:mod:`.tree`) gives replica counts per node
   and a lower bound of every plan.
2. The chunks are assigned to those nodes (:mod:`.assignment`); when the cost equals the
   bound the plan is proven optimal.
3. Otherwise (several copies per chunk, a chunk count that does not divide, uneven sizes)
   small instances are searched exhaustively over replica counts in order of their
   bound, stopping once the bound reaches the best cost found; larger ones get a bounded
   local search that moves one replica at a time.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import replace

from datalocality.placement.assignment import assign_fixed
from datalocality.placement.build import Context, Decision
from datalocality.placement.candidates import Candidates
from datalocality.placement.lower_bound import lower_bound
from datalocality.placement.tree import DomainTree

SEARCHES_DOMAINS = True
ENUMERATION_LIMIT = 4000
LOCAL_SEARCH_EVALUATIONS = 60
LOCAL_SEARCH_MOVES = 20_000


def place(ctx: Context, candidates: Candidates) -> Decision:
    """The cheapest placement found, proven optimal when its cost meets the bound."""
    tree = ctx.tree(candidates)
    bound, counts = lower_bound(ctx, candidates), tree.solve()[1]
    best = _evaluate(ctx, tree, counts)
    how = "replica counts from the tree programme"
    exhaustive = False
    if not _meets(ctx, best[0], bound):
        space = _count_vectors(candidates.capacity, ctx.quota.replicas, ENUMERATION_LIMIT + 1)
        if space <= ENUMERATION_LIMIT:
            best = _search_all(ctx, tree, candidates.capacity, best)
            how = f"exhaustive search over {space} replica layouts"
            exhaustive = True
        elif len(best[1]) * len(candidates.capacity) <= LOCAL_SEARCH_MOVES:
            best = _local_search(ctx, tree, candidates.capacity, best)
            how = "tree programme, then local search"
    cost, _, decision = best
    # Exhaustive search is a proof only where the fixed-layout assignment is exact.
    return replace(
        decision,
        proven_optimal=_meets(ctx, cost, bound) or (exhaustive and ctx.quota.unit),
        reasons=_reasons(ctx, decision.nodes),
        notes=[f"optimal: {how}; cost {cost:.6g} s, lower bound {bound:.6g} s"],
    )


_Best = tuple[float, dict[str, int], Decision]


def _meets(ctx: Context, cost: float, bound: float) -> bool:
    return not ctx.below(bound, cost)


def _evaluate(
    ctx: Context, tree: DomainTree, counts: Mapping[str, int], polish: bool = True
) -> _Best:
    decision = assign_fixed(ctx, tree, counts, polish=polish)
    return decision.cost(ctx), dict(counts), decision


def _count_vectors(capacity: Mapping[str, int], replicas: int, stop: int) -> int:
    """Number of ways to spread ``replicas`` over nodes within capacity (capped at stop)."""
    hosts = sum(1 for cap in capacity.values() if cap > 0)
    if hosts >= stop and 1 <= replicas < hosts:
        return stop  # one replica each on any ``replicas`` of the hosts: >= hosts ways
    ways = [1] + [0] * replicas
    for cap in capacity.values():
        prefix = [0]
        for value in ways:
            prefix.append(prefix[-1] + value)
        ways = [prefix[t + 1] - prefix[max(0, t - cap)] for t in range(replicas + 1)]
        if ways[replicas] >= stop:
            return stop
    return ways[replicas]


def _vectors(names: list[str], capacity: Mapping[str, int], left: int) -> Iterator[dict[str, int]]:
    if not names:
        if left == 0:
            yield {}
        return
    head, rest = names[0], names[1:]
    room_after = sum(capacity[n] for n in rest)
    for k in range(min(capacity[head], left), -1, -1):
        if left - k > room_after:
            break
        for tail in _vectors(rest, capacity, left - k):
            yield {head: k, **tail} if k else tail


def _search_all(ctx: Context, tree: DomainTree, capacity: Mapping[str, int], best: _Best) -> _Best:
    """Every replica layout, cheapest bound first, until the bound passes the best cost.

    Layouts are compared on the quick assignment; only the winner is then polished by the
    exchange search (uneven sizes), which is too slow to run on hundreds of layouts."""
    layouts = list(_vectors(sorted(capacity), capacity, ctx.quota.replicas))
    ranked = sorted(layouts, key=lambda c: (tree.bound(c), sorted(c.items())))
    quick = _evaluate(ctx, tree, ranked[0], polish=False)
    for counts in ranked[1:]:
        if not ctx.below(tree.bound(counts), quick[0]):
            break
        candidate = _evaluate(ctx, tree, counts, polish=False)
        if ctx.below(candidate[0], quick[0]):
            quick = candidate
    polished = _evaluate(ctx, tree, quick[1])
    return polished if ctx.below(polished[0], best[0]) else best


def _local_search(
    ctx: Context, tree: DomainTree, capacity: Mapping[str, int], best: _Best
) -> _Best:
    """Move one replica at a time to where the bound gains most, while it helps."""
    budget = LOCAL_SEARCH_EVALUATIONS
    improved = True
    while improved and budget > 0:
        improved = False
        counts = best[1]
        moves = []
        for src in sorted(counts):
            for dst in sorted(capacity):
                if dst != src and counts.get(dst, 0) < capacity[dst]:
                    trial = dict(counts)
                    trial[src] -= 1
                    if trial[src] == 0:
                        del trial[src]
                    trial[dst] = trial.get(dst, 0) + 1
                    moves.append((tree.bound(trial), src, dst, trial))
        moves.sort(key=lambda m: (m[0], m[1], m[2]))
        for bound, _, _, trial in moves[: min(budget, 12)]:
            budget -= 1
            if not ctx.below(bound, best[0]):
                break
            candidate = _evaluate(ctx, tree, trial)
            if ctx.below(candidate[0], best[0]):
                best, improved = candidate, True
                break
    return best


def _reasons(ctx: Context, nodes: list[str]) -> list[str]:
    """Per replica: how much of the input its node holds, which made it worth choosing."""
    held = ctx.copies.available(levels=(0,))
    return [f"node holds {held.get((0, name), 0)} bytes of the input" for name in nodes]
