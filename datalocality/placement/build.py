"""Turn a strategy's decision (a node and a chunk list per replica) into a PlacementPlan.

Every strategy goes through here, so every plan is checked the same way (each chunk read
exactly once, balance, capacity) and explained the same way.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from operator import attrgetter, mul

from datalocality.errors import PlacementError
from datalocality.model import (
    Chunk,
    ClusterShare,
    Node,
    PlacementPlan,
    PlacementRequest,
    ReplicaPlacement,
    Totals,
    Transfer,
)
from datalocality.model.base import trusted_maker
from datalocality.model.topology import TIER_COUNT
from datalocality.placement.balance import Quota
from datalocality.placement.candidates import Candidates
from datalocality.placement.copies import CopyIndex, Groups, group_chunks
from datalocality.placement.costs import CostModel, below
from datalocality.placement.operations import plan_operations
from datalocality.placement.tree import DomainTree

CHUNK_ID = attrgetter("id")
LOCATIONS = attrgetter("locations")
_SIZE = attrgetter("size")


@dataclass(frozen=True)
class IdOrder:
    """Chunks sorted by id (``chunks``, ``ids``), and per distinct tuple of copy locations
    the ranks (positions in that order) of its chunks, ascending."""

    chunks: list[Chunk]
    ids: list[str]
    members: dict[tuple[str, ...], list[int]]

    @classmethod
    def of(cls, chunks: Sequence[Chunk]) -> IdOrder:
        """Sort ``chunks`` by id and group their ranks by copy locations."""
        ranked = sorted(chunks, key=CHUNK_ID)
        members: dict[tuple[str, ...], list[int]] = {}
        for rank, locations in enumerate(map(LOCATIONS, ranked)):
            members.setdefault(locations, []).append(rank)
        return cls(ranked, list(map(CHUNK_ID, ranked)), members)


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

    @cached_property
    def grouped(self) -> Groups:
        """The chunks grouped by their tuple of copy locations (built once per plan)."""
        request = self.request
        return group_chunks(list(map(LOCATIONS, request.chunks)), request.chunk_sizes)

    @property
    def held(self) -> dict[tuple[str, ...], int]:
        """Bytes per distinct tuple of copy locations: what every whole-input tally needs,
        at one entry per producer instead of one per chunk."""
        return self.grouped.held

    @cached_property
    def by_id(self) -> IdOrder:
        """The chunks in id order, and each copy-location tuple's chunks as ranks in it:
        sorted once per plan, however many layouts are assigned."""
        return IdOrder.of(self.request.chunks)

    @cached_property
    def copies(self) -> CopyIndex:
        """Where each distinct tuple of copy locations can be read (built once per plan)."""
        return CopyIndex(self.request.topology.nodes, self.grouped)

    def below(self, a: float, b: float) -> bool:
        """``a`` is meaningfully cheaper than ``b`` for this request."""
        return below(a, b, self.scale)

    def tree(self, candidates: Candidates) -> DomainTree:
        """The domain tree for these candidates, built once per plan."""
        key = tuple(sorted(candidates.capacity.items()))
        if key not in self._trees:
            self._trees[key] = DomainTree(self.costs, self.copies, candidates.capacity, self.quota)
        return self._trees[key]

    @classmethod
    def of(cls, request: PlacementRequest) -> Context:
        """Build the context of a request."""
        return cls(request, CostModel(request.topology), Quota.of(request))


@dataclass
class Decision:
    """A strategy's answer: per replica a node and the chunks it reads, and why.

    Its fields are not reassigned once a strategy hands it back: whoever needs another
    verdict, reason or note builds a new one (``dataclasses.replace``, which shares the
    lists). Only the derived per-chunk columns (``tiers``, ``sizes``, ``ids``) are filled
    in later, on first use, and kept: they follow from ``nodes`` and ``loads``, which
    never change, so they stay right and are computed at most once per plan.
    """

    nodes: list[str]
    loads: list[list[Chunk]]
    score_terms: list[dict[str, float]] | None = None
    reasons: list[str] | None = None
    notes: list[str] = field(default_factory=list)
    proven_optimal: bool = False
    # Per replica, per chunk: the tier it is read across; filled by whoever knows it first.
    tiers: list[list[int]] | None = field(default=None, repr=False)
    # Per replica, per chunk: size and id, if whoever made the decision had them at hand.
    sizes: list[list[int]] | None = field(default=None, repr=False)
    ids: list[list[str]] | None = field(default=None, repr=False)
    # Per replica, per chunk: where it is read from (its nearest copy), if known already.
    origins: list[list[str]] | None = field(default=None, repr=False)

    def sizes_of(self) -> list[list[int]]:
        """Per replica, per chunk: its size (one pass over 100k chunks, done once)."""
        if self.sizes is None:
            self.sizes = [list(map(_SIZE, chunks)) for chunks in self.loads]
        return self.sizes

    def ids_of(self) -> list[list[str]]:
        """Per replica, per chunk: its id (done once)."""
        if self.ids is None:
            self.ids = [list(map(CHUNK_ID, chunks)) for chunks in self.loads]
        return self.ids

    def tiers_of(self, ctx: Context) -> list[list[int]]:
        """Per replica, per chunk: the tier to its nearest copy (computed once, per distinct
        tuple of copy locations on each replica rather than per chunk)."""
        if self.tiers is None:
            nodes = ctx.request.topology.by_name
            tier = ctx.costs.locations_tier
            self.tiers = []
            for name, chunks in zip(self.nodes, self.loads, strict=True):
                node, locations = nodes[name], list(map(LOCATIONS, chunks))
                known = {where: tier(where, node) for where in set(locations)}
                self.tiers.append(list(map(known.__getitem__, locations)))
        return self.tiers

    def cost(self, ctx: Context) -> float:
        """Total seconds of transfer this decision implies."""
        tier_cost = ctx.costs.per_byte.__getitem__
        return sum(
            sum(map(mul, sizes, map(tier_cost, tiers)))
            for sizes, tiers in zip(self.sizes_of(), self.tiers_of(ctx), strict=True)
        )


def replica_nodes(counts: Mapping[str, int]) -> list[str]:
    """Replica index order: nodes by name, each repeated by its replica count."""
    return [name for name in sorted(counts) for _ in range(counts[name])]


def _check_layout(ctx: Context, candidates: Candidates, decision: Decision) -> None:
    """One node and one chunk list per replica, and no node given more than it holds."""
    replicas = ctx.request.consumer.replicas
    if len(decision.nodes) != replicas or len(decision.loads) != replicas:
        raise PlacementError(f"decision has {len(decision.nodes)} replicas, wanted {replicas}")
    for name, used in Counter(decision.nodes).items():
        if used > candidates.capacity.get(name, 0):
            raise PlacementError(
                f"node {name} given {used} replicas, room for {candidates.capacity.get(name)}"
            )


def _check_reads(ctx: Context, distinct: set[str], read: int, decision: Decision) -> None:
    """Every chunk read exactly once: ``read`` reads of ``distinct`` chunk ids."""
    if read != len(distinct) or len(distinct) != len(ctx.request.chunks):
        ids = Counter(c.id for chunks in decision.loads for c in chunks)
        wrong = [cid for cid, n in ids.items() if n != 1]
        missing = len(ctx.request.chunks) - len(distinct)
        raise PlacementError(f"chunks read not exactly once: {wrong[:3]}, {missing} missing")


def build_plan(
    ctx: Context,
    candidates: Candidates,
    strategy: str,
    decision: Decision,
    lower_bound: float,
    *,
    notes: Sequence[str] = (),
) -> PlacementPlan:
    """Check a decision and explain it as a plan.

    One pass over the chunks does both: it is the part of planning every strategy pays,
    so it works on per-replica columns (ids, sizes, tiers) and touches moved chunks only
    to write their transfers."""
    _check_layout(ctx, candidates, decision)
    topology = ctx.request.topology
    costs = ctx.costs
    tier_cost = costs.per_byte.__getitem__
    # Trusted values built here: skip re-validating 100k small models.
    make_transfer = trusted_maker(Transfer)
    by_tier = [0] * TIER_COUNT
    replicas: list[ReplicaPlacement] = []
    transfers: list[Transfer] = []
    distinct: set[str] = set()
    counts: list[int] = []
    sizes_read: list[int] = []
    columns = (decision.tiers_of(ctx), decision.sizes_of(), decision.ids_of())
    rows = zip(decision.nodes, decision.loads, *columns, strict=True)
    for index, (name, chunks, tiers, sizes, ids) in enumerate(rows):
        origins = decision.origins[index] if decision.origins else None
        node = topology.by_name[name]
        distinct.update(ids)
        total = sum(sizes)
        cost = sum(map(mul, sizes, map(tier_cost, tiers)))
        moved = 0
        ahead = [i for i, tier in enumerate(tiers) if tier]
        ahead.sort(key=ids.__getitem__)
        for i in ahead:
            tier, size = tiers[i], sizes[i]
            moved += size
            by_tier[tier] += size
            if origins:
                origin = origins[i]
            else:
                copies = chunks[i].locations
                origin = copies[0] if len(copies) == 1 else costs.origin(chunks[i], node)
            transfers.append(
                make_transfer(
                    {
                        "chunk": ids[i],
                        "from_node": origin,
                        "to_node": name,
                        "bytes": size,
                        "tier": tier,
                    }
                )
            )
        local = total - moved
        by_tier[0] += local
        counts.append(len(ids))
        sizes_read.append(total)
        replicas.append(
            _replica(
                decision,
                index=index,
                node=node,
                chunks=tuple(sorted(ids)),
                local=local,
                moved=moved,
                cost=cost,
            )
        )
    _check_reads(ctx, distinct, sum(counts), decision)
    ctx.quota.check_totals(counts, sizes_read)
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


def _replica(
    decision: Decision,
    *,
    index: int,
    node: Node,
    chunks: tuple[str, ...],
    local: int,
    moved: int,
    cost: float,
) -> ReplicaPlacement:
    """One replica's placement and why: its cost and locality beside the strategy's terms."""
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
    return ReplicaPlacement(
        index=index,
        node=node.name,
        cluster=node.cluster,
        zone=node.zone,
        chunks=chunks,
        bytes=total,
        local_bytes=local,
        moved_bytes=moved,
        cost=cost,
        score_terms=terms,
        reason=f"{len(chunks)} chunks, {share} of bytes local" + (f"; {why}" if why else ""),
    )


def _cluster_shares(ctx: Context) -> list[ClusterShare]:
    """Clusters ranked by the bytes they hold (for Karmada cluster affinity)."""
    if not any(n.cluster for n in ctx.request.topology.nodes):
        return []
    held: Counter[str] = Counter(
        {str(domain[1]): size for domain, size in ctx.copies.available(levels=(3,)).items()}
    )
    for node in ctx.request.topology.nodes:
        held.setdefault(node.cluster, 0)
    ranked = sorted(held.items(), key=lambda item: (-item[1], item[0]))
    return [ClusterShare(name=name, bytes=size) for name, size in ranked]
