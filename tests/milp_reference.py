"""Exact reference optimum of small placement requests: a MILP solved by HiGHS (scipy).

Replicas on one node are interchangeable, so the model works per node, not per replica:

* ``y[n]`` integer in ``0..capacity[n]``: replicas on eligible node ``n``;
* ``x[c, n]`` binary: chunk ``c`` is read by a replica on node ``n``;
* unit-size chunks (all the same size): ``z[n]`` integer, the replicas of node ``n`` that
  read the extra chunk (``hi = lo + 1``); ``sum z = extras``, ``z[n] <= y[n]`` and
  ``sum_c x[c, n] == lo * y[n] + z[n]``. That is exactly the balance rule (counts differ
  by at most one), so the optimum is the true optimum;
* other sizes: ``sum_c size_c x[c, n] <= byte_cap * y[n]``. This only caps the node's
  total, not each replica's share (the chunks may not pack into ``y[n]`` bins of
  ``byte_cap``), so the value is a RELAXATION: a lower bound of the true optimum, exact
  only for unit-size chunks;
* a topology rule of tier ``t < 4``: a binary ``d[D]`` per domain of tier ``t``,
  ``sum d = 1`` and ``y[n] <= capacity[n] * d[domain(n)]``. As in ``plan``, a soft rule
  binds while some domain has room for every replica, and is dropped otherwise; a hard
  rule with no such domain is infeasible.

Eligibility and capacities come from ``build_candidates`` and costs from ``CostModel``,
so the reference sees exactly the nodes and prices the strategies see. The objective is
scaled by the tier-1 bandwidth (seconds x bytes/second, so roughly bytes) to keep HiGHS'
absolute tolerances meaningless next to the values; the returned cost is recomputed in
seconds from the solution, summed the way ``build_plan`` sums it.

``brute_force`` enumerates every plan of tiny requests (<= 7 chunks, <= 3 replicas) and
checks the MILP itself, including the per-replica packing the relaxation ignores.
"""

from __future__ import annotations

import itertools
import math
from collections import Counter
from collections.abc import Hashable, Iterator, Sequence
from dataclasses import dataclass, field

import numpy as np
from scipy.optimize import Bounds, LinearConstraint, milp

from datalocality.errors import InfeasiblePlacement
from datalocality.model import Chunk, Node, PlacementPlan, PlacementRequest
from datalocality.placement.balance import Quota
from datalocality.placement.build import Context, Decision, build_plan
from datalocality.placement.candidates import Candidates, build_candidates
from datalocality.placement.costs import CostModel

REL_TOL = 1e-6


def domain_key(node: Node, tier: int) -> Hashable:
    """The domain of ``node`` at ``tier`` (0 node, 1 zone, 2 region, 3 cluster, 4 all)."""
    keys: tuple[Hashable, ...] = (node.name, node.zone_key, node.region_key, node.cluster, "")
    return keys[tier]


@dataclass(frozen=True)
class Reference:
    """The reference answer; ``cost`` is in seconds like ``Totals.cost``."""

    feasible: bool
    cost: float = math.inf
    exact: bool = True
    replicas_on: dict[str, int] = field(default_factory=dict)
    reader: dict[str, str] = field(default_factory=dict)
    extras_on: dict[str, int] = field(default_factory=dict)
    reason: str = ""


def allowed_domains(request: PlacementRequest, candidates: Candidates) -> list[list[str]] | None:
    """Domains (node-name lists) the topology rule allows; None when no rule applies.

    Raises InfeasiblePlacement for a hard rule no domain can satisfy.
    """
    rule = request.consumer.topology
    if rule is None or rule.highest_tier_allowed >= 4:
        return None
    replicas = request.consumer.replicas
    groups: dict[Hashable, list[str]] = {}
    for node in candidates.nodes:
        groups.setdefault(domain_key(node, rule.highest_tier_allowed), []).append(node.name)
    fitting = [
        names for names in groups.values() if sum(candidates.capacity[n] for n in names) >= replicas
    ]
    if fitting:
        return fitting
    if rule.mode == "hard":
        raise InfeasiblePlacement("hard topology: no domain fits")
    return None


def solve(request: PlacementRequest, time_limit: float = 60.0) -> Reference:
    """The optimal cost of ``request`` (exact for unit-size chunks, a lower bound else)."""
    costs = CostModel(request.topology)
    quota = Quota.of(request)
    try:
        candidates = build_candidates(request, costs)
        domains = allowed_domains(request, candidates)
    except InfeasiblePlacement as exc:
        return Reference(feasible=False, reason=exc.reason)
    chunks = request.chunks
    nodes = candidates.nodes
    replicas = request.consumer.replicas
    n_nodes, n_chunks = len(nodes), len(chunks)
    unit = quota.unit
    scale = request.topology.bandwidth[1]

    # Variable layout: y | x (chunk-major) | z (unit only) | d (rule only).
    y0 = 0
    x0 = n_nodes
    z0 = x0 + n_chunks * n_nodes
    d0 = z0 + (n_nodes if unit else 0)
    n_domains = len(domains) if domains is not None else 0
    n_vars = d0 + n_domains

    def x(c: int, n: int) -> int:
        return x0 + c * n_nodes + n

    objective = np.zeros(n_vars)
    lower = np.zeros(n_vars)
    upper = np.ones(n_vars)
    for n, node in enumerate(nodes):
        upper[y0 + n] = candidates.capacity[node.name]
        if unit:
            upper[z0 + n] = candidates.capacity[node.name]
        for c, chunk in enumerate(chunks):
            objective[x(c, n)] = costs.cost(chunk, node) * scale

    rows: list[np.ndarray] = []
    lo_b: list[float] = []
    hi_b: list[float] = []

    def add(coeffs: dict[int, float], low: float, high: float) -> None:
        row = np.zeros(n_vars)
        for index, value in coeffs.items():
            row[index] += value
        rows.append(row)
        lo_b.append(low)
        hi_b.append(high)

    add({y0 + n: 1.0 for n in range(n_nodes)}, replicas, replicas)
    for c in range(n_chunks):
        add({x(c, n): 1.0 for n in range(n_nodes)}, 1, 1)
    if unit:
        add({z0 + n: 1.0 for n in range(n_nodes)}, quota.extras, quota.extras)
        for n in range(n_nodes):
            add({z0 + n: 1.0, y0 + n: -1.0}, -np.inf, 0)
            coeffs = {x(c, n): 1.0 for c in range(n_chunks)}
            coeffs[y0 + n] = -float(quota.lo)
            coeffs[z0 + n] = -1.0
            add(coeffs, 0, 0)
    else:
        for n in range(n_nodes):
            coeffs = {x(c, n): float(chunk.size) for c, chunk in enumerate(chunks)}
            coeffs[y0 + n] = -float(quota.byte_cap)
            add(coeffs, -np.inf, 0)
    if domains is not None:
        add({d0 + d: 1.0 for d in range(n_domains)}, 1, 1)
        home = {name: d for d, names in enumerate(domains) for name in names}
        for n, node in enumerate(nodes):
            if node.name in home:
                cap = float(candidates.capacity[node.name])
                add({y0 + n: 1.0, d0 + home[node.name]: -cap}, -np.inf, 0)
            else:
                upper[y0 + n] = 0
                if unit:
                    upper[z0 + n] = 0

    result = milp(
        objective,
        integrality=np.ones(n_vars),
        bounds=Bounds(lower, upper),
        constraints=LinearConstraint(np.array(rows), np.array(lo_b), np.array(hi_b)),
        options={"mip_rel_gap": 1e-9, "time_limit": time_limit, "presolve": True},
    )
    if result.status != 0 or result.x is None:
        raise RuntimeError(f"HiGHS did not prove an optimum: {result.status} {result.message}")
    values = np.rint(result.x).astype(int)
    replicas_on = {node.name: int(values[y0 + n]) for n, node in enumerate(nodes)}
    reader: dict[str, str] = {}
    for c, chunk in enumerate(chunks):
        (where,) = [n for n in range(n_nodes) if values[x(c, n)] == 1]
        reader[chunk.id] = nodes[where].name
    extras_on = {node.name: int(values[z0 + n]) for n, node in enumerate(nodes)} if unit else {}
    by_name = request.topology.by_name
    cost = sum(costs.cost(chunk, by_name[reader[chunk.id]]) for chunk in chunks)
    return Reference(
        feasible=True,
        cost=cost,
        exact=unit,
        replicas_on={k: v for k, v in replicas_on.items() if v},
        reader=reader,
        extras_on={k: v for k, v in extras_on.items() if v},
    )


def reference_decision(request: PlacementRequest, ref: Reference) -> Decision:
    """Unpack a unit-size reference into per-replica loads (extra chunks first)."""
    if not ref.exact:
        raise ValueError("only unit-size references unpack into a plan")
    quota = Quota.of(request)
    nodes: list[str] = []
    loads: list[list[Chunk]] = []
    for name in sorted(ref.replicas_on):
        mine = [c for c in request.chunks if ref.reader[c.id] == name]
        extras = ref.extras_on.get(name, 0)
        start = 0
        for r in range(ref.replicas_on[name]):
            take = quota.lo + (1 if r < extras else 0)
            nodes.append(name)
            loads.append(mine[start : start + take])
            start += take
        assert start == len(mine), (name, start, len(mine))
    return Decision(nodes=nodes, loads=loads)


def reference_plan(request: PlacementRequest) -> PlacementPlan:
    """The MILP optimum of a unit-size request as a plan checked by ``build_plan``."""
    ref = solve(request)
    if not ref.feasible:
        raise InfeasiblePlacement(ref.reason)
    ctx = Context.of(request)
    candidates = build_candidates(request, ctx.costs)
    return build_plan(ctx, candidates, "milp", reference_decision(request, ref), 0.0)


def _restricted_growth(n_items: int, n_groups: int) -> Iterator[tuple[int, ...]]:
    """Assignments of items to at most ``n_groups`` unlabelled groups, each once."""

    def grow(prefix: tuple[int, ...], used: int) -> Iterator[tuple[int, ...]]:
        if len(prefix) == n_items:
            yield prefix
            return
        for g in range(min(used + 1, n_groups)):
            yield from grow((*prefix, g), max(used, g + 1))

    yield from grow((), 0)


def brute_force(request: PlacementRequest) -> float | None:
    """The exact optimum by enumeration (None if infeasible); tiny requests only."""
    chunks = request.chunks
    replicas = request.consumer.replicas
    if len(chunks) > 7 or replicas > 3:
        raise ValueError("brute_force is for <= 7 chunks and <= 3 replicas")
    costs = CostModel(request.topology)
    quota = Quota.of(request)
    try:
        candidates = build_candidates(request, costs)
        domains = allowed_domains(request, candidates)
    except InfeasiblePlacement:
        return None
    names = [n.name for n in candidates.nodes]
    by_name = request.topology.by_name
    placements: list[tuple[str, ...]] = []
    for combo in itertools.combinations_with_replacement(names, replicas):
        used = Counter(combo)
        if any(used[n] > candidates.capacity[n] for n in used):
            continue
        if domains is not None and not any(set(combo) <= set(d) for d in domains):
            continue
        placements.extend(set(itertools.permutations(combo)))
    best: float | None = None
    for groups in _restricted_growth(len(chunks), replicas):
        loads: list[list[Chunk]] = [[] for _ in range(replicas)]
        for chunk, g in zip(chunks, groups, strict=True):
            loads[g].append(chunk)
        if not _balanced(quota, loads):
            continue
        price = [{n: sum(costs.cost(c, by_name[n]) for c in load) for n in names} for load in loads]
        for combo in placements:
            total = sum(price[r][n] for r, n in enumerate(combo))
            if best is None or total < best:
                best = total
    return best


def _balanced(quota: Quota, loads: Sequence[Sequence[Chunk]]) -> bool:
    if quota.unit:
        counts = [len(load) for load in loads]
        return max(counts) - min(counts) <= 1
    return all(sum(c.size for c in load) <= quota.byte_cap for load in loads)


def close(a: float, b: float, rel: float = REL_TOL) -> bool:
    """``a == b`` up to ``rel`` relative (absolute near zero)."""
    return math.isclose(a, b, rel_tol=rel, abs_tol=rel * 1e-9)
