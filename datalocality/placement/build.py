"""Turn a strategy's decision (a node and a chunk list per replica) into a PlacementPlan.

Every strategy goes through here, so every plan is checked the same way (each chunk read
exactly once, balance, capacity) and explained the same way.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import cached_property

from datalocality.errors import PlacementError
from datalocality.model import (
    Chunk,
    ClusterShare,
    PlacementPlan,
    PlacementRequest,
    ReplicaPlacement,
    Totals,
    Transfer,
)
from datalocality.model.base import trusted
from datalocality.placement.balance import Quota
from datalocality.placement.candidates import Candidates
from datalocality.placement.costs import CostModel, below
from datalocality.placement.operations import plan_operations
from datalocality.placement.tree import DomainTree


@dataclass
class Context:
    """What every strategy gets: the request, its cost model and its balance quota."""

    request: PlacementRequest
    costs: CostModel
    quota: Quota
    _trees: dict[tuple[tuple[str, int], ...], DomainTree] = field(default_factory=dict)

    @cached_property
    def scale(self) -> float:
        """Cost of reading every byte from the farthest tier: the yardstick for rounding."""
        return self.request.total_bytes * max(self.costs.per_byte)

    def below(self, a: float, b: float) -> bool:
        """``a`` is meaningfully cheaper than ``b`` for this request."""
        return below(a, b, self.scale)

    def tree(self, candidates: Candidates) -> DomainTree:
        """The domain tree for these candidates, built once per plan."""
        key = tuple(sorted(candidates.capacity.items()))
        if key not in self._trees:
            self._trees[key] = DomainTree(
                self.costs, self.request.chunks, candidates.capacity, self.quota
            )
        return self._trees[key]

    @classmethod
    def of(cls, request: PlacementRequest) -> Context:
        """Build the context of a request."""
        return cls(request, CostModel(request.topology), Quota.of(request))


@dataclass
class Decision:
    """A strategy's answer: per replica a node and the chunks it reads, and why."""

    nodes: list[str]
    loads: list[list[Chunk]]
    score_terms: list[dict[str, float]] | None = None
    reasons: list[str] | None = None
    notes: list[str] = field(default_factory=list)
    proven_optimal: bool = False
    # Per replica, per chunk: (tier, location read from); filled by whoever knows it first.
    reads: list[list[tuple[int, str]]] | None = field(default=None, repr=False)

    def nearest(self, ctx: Context) -> list[list[tuple[int, str]]]:
        """Per replica, per chunk: the tier and location it is read from (computed once)."""
        if self.reads is None:
            nodes = ctx.request.topology.by_name
            self.reads = [
                [ctx.costs.nearest(chunk, nodes[name]) for chunk in chunks]
                for name, chunks in zip(self.nodes, self.loads, strict=True)
            ]
        return self.reads

    def cost(self, ctx: Context) -> float:
        """Total seconds of transfer this decision implies."""
        per_byte = ctx.costs.per_byte
        return sum(
            chunk.size * per_byte[tier]
            for chunks, reads in zip(self.loads, self.nearest(ctx), strict=True)
            for chunk, (tier, _) in zip(chunks, reads, strict=True)
        )


def check_decision(ctx: Context, candidates: Candidates, decision: Decision) -> None:
    """Raise PlacementError if a decision breaks a rule every plan must keep."""
    replicas = ctx.request.consumer.replicas
    if len(decision.nodes) != replicas or len(decision.loads) != replicas:
        raise PlacementError(f"decision has {len(decision.nodes)} replicas, wanted {replicas}")
    ids = [c.id for chunks in decision.loads for c in chunks]
    distinct = set(ids)
    if len(ids) != len(distinct) or len(distinct) != len(ctx.request.chunks):
        wrong = [cid for cid, n in Counter(ids).items() if n != 1]
        missing = len(ctx.request.chunks) - len(distinct)
        raise PlacementError(f"chunks read not exactly once: {wrong[:3]}, {missing} missing")
    for name, used in Counter(decision.nodes).items():
        if used > candidates.capacity.get(name, 0):
            raise PlacementError(
                f"node {name} given {used} replicas, room for {candidates.capacity.get(name)}"
            )
    ctx.quota.check(decision.loads)


def build_plan(
    ctx: Context,
    candidates: Candidates,
    strategy: str,
    decision: Decision,
    lower_bound: float,
    *,
    notes: Sequence[str] = (),
) -> PlacementPlan:
    """Check a decision and explain it as a plan."""
    check_decision(ctx, candidates, decision)
    topology = ctx.request.topology
    by_tier = [0] * 5
    replicas: list[ReplicaPlacement] = []
    transfers: list[Transfer] = []
    reads = decision.nearest(ctx)
    for index, (name, chunks) in enumerate(zip(decision.nodes, decision.loads, strict=True)):
        node = topology.by_name[name]
        local = moved = 0
        cost = 0.0
        for chunk, (tier, origin) in sorted(
            zip(chunks, reads[index], strict=True), key=lambda pair: pair[0].id
        ):
            by_tier[tier] += chunk.size
            cost += chunk.size * ctx.costs.per_byte[tier]
            if tier == 0:
                local += chunk.size
            else:
                moved += chunk.size
                # Trusted values built here: skip re-validating 100k small models.
                transfers.append(
                    trusted(
                        Transfer,
                        chunk=chunk.id,
                        from_node=origin,
                        to_node=name,
                        bytes=chunk.size,
                        tier=tier,
                    )
                )
        total = local + moved
        # Every replica shows what it costs and how local it is, beside the strategy's own
        # terms (mcdm's criteria, spread's allocation score).
        terms = {
            "cost_seconds": cost,
            "local_fraction": local / total if total else 1.0,
            **(decision.score_terms[index] if decision.score_terms else {}),
        }
        why = decision.reasons[index] if decision.reasons else ""
        share = f"{100 * local / total:.0f}%" if total else "n/a"
        replicas.append(
            ReplicaPlacement(
                index=index,
                node=name,
                cluster=node.cluster,
                zone=node.zone,
                chunks=tuple(sorted(c.id for c in chunks)),
                bytes=total,
                local_bytes=local,
                moved_bytes=moved,
                cost=cost,
                score_terms=terms,
                reason=f"{len(chunks)} chunks, {share} of bytes local"
                + (f"; {why}" if why else ""),
            )
        )
    total_cost = sum(r.cost for r in replicas)
    plan_notes = [*notes, *decision.notes]
    if ctx.below(total_cost, lower_bound):
        raise PlacementError(f"lower bound {lower_bound} above plan cost {total_cost}")
    return PlacementPlan(
        strategy=strategy,
        replicas=tuple(replicas),
        transfers=tuple(transfers),
        operations=tuple(plan_operations(ctx.request, decision.nodes, decision.loads)),
        clusters=tuple(_cluster_shares(ctx)),
        totals=Totals(
            bytes=sum(by_tier),
            moved_bytes=sum(by_tier) - by_tier[0],
            cost=total_cost,
            lower_bound_cost=min(lower_bound, total_cost),
            bytes_by_tier=(by_tier[0], by_tier[1], by_tier[2], by_tier[3], by_tier[4]),
            proven_optimal=decision.proven_optimal,
        ),
        notes=tuple(plan_notes),
    )


def _cluster_shares(ctx: Context) -> list[ClusterShare]:
    """Clusters ranked by the bytes they hold (for Karmada cluster affinity)."""
    if not any(n.cluster for n in ctx.request.topology.nodes):
        return []
    by_locations: Counter[tuple[str, ...]] = Counter()
    for chunk in ctx.request.chunks:
        by_locations[chunk.locations] += chunk.size
    held: Counter[str] = Counter()
    for locations, size in by_locations.items():
        clusters: set[str] = set()
        for loc in locations:
            clusters |= ctx.costs.clusters_of(loc)
        for cluster in clusters:
            held[cluster] += size
    for node in ctx.request.topology.nodes:
        held.setdefault(node.cluster, 0)
    ranked = sorted(held.items(), key=lambda item: (-item[1], item[0]))
    return [ClusterShare(name=name, bytes=size) for name, size in ranked]
