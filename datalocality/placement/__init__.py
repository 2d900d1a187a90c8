"""Placement: chunk-aware assignment of data to replicas, one strategy per module.

``plan(request, strategy="optimal")`` filters the nodes, applies the topology rule, runs
the strategy and explains its decision. Strategies share one signature,
``place(ctx, candidates) -> Decision``, so they can be compared on equal terms.

>>> from datalocality.model import Topology, Node, Consumer, DataSource, Chunk
>>> req = PlacementRequest(
...     topology=Topology(nodes=[Node(name="a"), Node(name="b")]),
...     consumer=Consumer(replicas=2),
...     sources=[DataSource(system="demo", dataSourceName="d", chunks=[
...         Chunk(id="c1", locations=["a"]), Chunk(id="c2", locations=["b"])])],
... )
>>> [(r.node, r.chunks) for r in plan(req).replicas]
[('a', ('c1',)), ('b', ('c2',))]
"""

from __future__ import annotations

import gc
import importlib
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import replace
from typing import cast

from datalocality.errors import InfeasiblePlacement, UnknownStrategy
from datalocality.model import PlacementPlan, PlacementRequest
from datalocality.model.topology import OTHER_CLUSTER, TIER_NAMES
from datalocality.placement.build import Context, Decision, build_plan
from datalocality.placement.candidates import Candidates, build_candidates, constraint_domains
from datalocality.placement.lower_bound import lower_bound

Place = Callable[[Context, Candidates], Decision]

# name -> module holding ``place``; modules are imported on first use.
STRATEGIES: dict[str, str] = {
    "optimal": "datalocality.placement.optimal",
    "round-robin": "datalocality.placement.round_robin",
    "vineyard": "datalocality.placement.vineyard",
    "spread": "datalocality.placement.spread",
    "mcdm": "datalocality.placement.mcdm",
}

__all__ = [
    "STRATEGIES",
    "Context",
    "Decision",
    "PlacementRequest",
    "collection_paused",
    "plan",
    "strategy_names",
]


def strategy_names() -> list[str]:
    """Names accepted by :func:`plan`, the default first."""
    return list(STRATEGIES)


def _load(strategy: str) -> tuple[Place, bool]:
    module_name = STRATEGIES.get(strategy)
    if module_name is None:
        raise UnknownStrategy(
            f"strategy: unknown strategy {strategy!r}; choose one of {strategy_names()}"
        )
    module = importlib.import_module(module_name)
    return cast(Place, module.place), bool(getattr(module, "SEARCHES_DOMAINS", False))


@contextmanager
def collection_paused() -> Iterator[None]:
    """Pause Python's cyclic garbage collector, restoring its state on exit.

    Planning builds hundreds of thousands of small acyclic objects (chunk lists, tiers,
    transfers) beside a request that already holds as many; every 700 allocations the
    collector would walk the young ones and now and then the whole heap, which measured
    as a third of planning time on large requests. Nothing planning builds is cyclic,
    so pausing frees nothing late (Mercurial's ``util.nogc`` does the same).
    """
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def plan(request: PlacementRequest, strategy: str = "optimal") -> PlacementPlan:
    """Place the consumer's replicas and assign every chunk to one of them.

    Raises InfeasiblePlacement (with the reason) when capacity or a hard constraint cannot
    be met; never returns a partial plan.
    """
    place, searches = _load(strategy)
    with collection_paused():
        return _plan(request, strategy, place, searches)


def _plan(request: PlacementRequest, strategy: str, place: Place, searches: bool) -> PlacementPlan:
    """:func:`plan` once the strategy is loaded."""
    ctx = Context.of(request)
    candidates = build_candidates(request, ctx.costs)
    notes = list(candidates.notes)
    domains = _allowed_domains(ctx, candidates, notes)
    if domains is None:
        bound = lower_bound(ctx, candidates)
        return build_plan(ctx, candidates, strategy, place(ctx, candidates), bound, notes=notes)
    options = [candidates.restricted(names) for names in domains]
    bounds = [lower_bound(ctx, option) for option in options]
    bound = min(bounds)
    if not searches:
        # Peers keep one domain: the one with the most room (ties: first in name order).
        pick = max(range(len(options)), key=lambda i: (options[i].total_capacity, -i))
        decision = place(ctx, options[pick])
        return build_plan(ctx, options[pick], strategy, decision, bound, notes=notes)
    # A searching strategy tries domains by their bound and stops when no other can win.
    best: tuple[float, int, Decision] | None = None
    for i in sorted(range(len(options)), key=lambda i: (bounds[i], i)):
        if best is not None and not ctx.below(bounds[i], best[0]):
            break
        decision = place(ctx, options[i])
        cost = decision.cost(ctx)
        if best is None or ctx.below(cost, best[0]):
            best = (cost, i, decision)
    assert best is not None
    _, pick, decision = best
    # Proven only if no other domain's bound leaves room for a cheaper plan. A copy with
    # the verdict restated (sharing the columns already derived) leaves the strategy's own
    # decision as it was made.
    rivals = [b for j, b in enumerate(bounds) if j != pick]
    if decision.proven_optimal and any(ctx.below(b, best[0]) for b in rivals):
        decision = replace(decision, proven_optimal=False)
    return build_plan(ctx, options[pick], strategy, decision, bound, notes=notes)


def _allowed_domains(
    ctx: Context, candidates: Candidates, notes: list[str]
) -> list[set[str]] | None:
    """Domains the topology rule allows (None: no rule, or a soft rule that cannot hold)."""
    rule = ctx.request.consumer.topology
    if rule is None or rule.highest_tier_allowed >= OTHER_CLUSTER:
        return None
    replicas = ctx.request.consumer.replicas
    domains = constraint_domains(candidates, rule.highest_tier_allowed, replicas)
    tier = TIER_NAMES[rule.highest_tier_allowed]
    if domains:
        notes.append(f"{rule.mode} topology: all replicas in one {tier}")
        return domains
    if rule.mode == "hard":
        raise InfeasiblePlacement(
            f"hard topology: no single {tier} has room for {replicas} replicas"
        )
    notes.append(f"soft topology relaxed: no single {tier} has room for {replicas} replicas")
    return None
