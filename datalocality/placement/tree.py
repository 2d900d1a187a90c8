"""The topology as a tree of domains (node < zone < region < cluster < world) and the
exact convex programme that picks how many replicas each domain hosts.

Tier costs form a tree metric, so reading a chunk costs the bytes times the sum of the
per-level increments ``delta[l] = cost(l+1) - cost(l)`` of every level-``l`` domain it
leaves. A domain ``D`` holding ``S`` bytes whose ``k`` replicas can read at most ``Q(k)``
bytes must send at least ``S - Q(k)`` bytes out; the sum of those terms is a lower bound
of every plan with those replica counts, and it is attained whenever chunks are unit-sized
with one copy each and the chunk count divides evenly. ``Q`` is concave in ``k`` so every
term is convex, the min-plus convolution of convex functions is the merge of their
marginals, and the best replica counts for the whole tree follow exactly by one pass up
the tree and one pass down. Lists hold only non-zero marginals, so a pass costs about
O((replicas + domains) log) however many chunks there are.

With several copies per chunk the outbound view says little (a chunk whose copies sit in
two zones never has to leave either), so the same cost is also counted inbound: a read
pays ``delta[l]`` when the reader's level-``l`` domain holds no copy. Every level reads
all ``T`` bytes, and the ``k`` replicas of a domain in which ``A`` bytes have a copy read
at most ``min(A, Q(k))`` of them from inside, so at least ``T - sum min(A, Q(k))`` bytes
come in at that level: again a sum of convex terms. Both counts are lower bounds of the
same sum per level, so any mix ``m[l] * outbound + (1 - m[l]) * inbound`` is one (the
inbound count can be weak, even negative, at levels where the balance cap lets replicas
read more than all data), and the programme is solved for a few mixes, keeping the
highest bound.
"""

from __future__ import annotations

import heapq
import itertools
from collections.abc import Mapping
from functools import cached_property

import numpy as np

from datalocality.placement.balance import Quota
from datalocality.placement.copies import LEVELS, ROOT, WORLD, CopyIndex, Domain
from datalocality.placement.costs import CostModel
from datalocality.placement.tree_levels import Fn, Level, Levels, solve_levels

__all__ = ["ROOT", "Domain", "DomainTree"]

# Outbound weight per level (node, zone, region, cluster) of the bounds tried when chunks
# have several copies; the first alone otherwise.
MIXES: tuple[tuple[float, ...], ...] = (
    (1.0, 1.0, 1.0, 1.0),
    (0.0, 0.0, 0.0, 0.0),
    (0.5, 0.5, 0.5, 0.5),
    (0.0, 1.0, 1.0, 1.0),
    (0.0, 0.0, 1.0, 1.0),
)
OUTBOUND = MIXES[0]


class DomainTree:
    """Domains, the bytes each holds, and the replica capacity under each."""

    def __init__(
        self,
        costs: CostModel,
        copies: CopyIndex,
        capacity: Mapping[str, int],
        quota: Quota,
    ) -> None:
        self.costs = costs
        self.quota = quota
        self.delta = [costs.per_byte[level + 1] - costs.per_byte[level] for level in range(WORLD)]
        self.parent: dict[Domain, Domain] = {}
        self.children: dict[Domain, list[Domain]] = {ROOT: []}
        self.path = copies.path
        for path in self.path.values():
            for child, parent in itertools.pairwise(path):
                if child not in self.parent:
                    self.parent[child] = parent
                    self.children.setdefault(parent, []).append(child)
        for kids in self.children.values():
            kids.sort(key=repr)
        self.capacity: dict[Domain, int] = {
            (0, name): cap for name, cap in capacity.items() if cap > 0
        }
        self.copies = copies
        self.location_domains = copies.location_domains
        # True when some chunk can be read from several domains (copies, shared names).
        self.multi_copy = self.copies.multi_copy
        self.supply: dict[Domain, int] = self.copies.supply()
        by_nearest = self.copies.bytes_by_nearest()
        self.base_cost = sum(size * costs.per_byte[level] for level, size in enumerate(by_nearest))
        # Per domain the bytes some copy lies in; per level the bytes no copy can be read
        # at that tier at all (the base cost already pays for them).
        self.avail: dict[Domain, int] = self.copies.available() if self.multi_copy else {}
        self.beyond = [sum(by_nearest[level + 1 :]) for level in range(WORLD)]
        self.mix = OUTBOUND
        self._most: list[float] | None = None  # demand(k) for k = 0..replicas
        self.limit: dict[Domain, int] = {}
        self._limits(ROOT)
        self._solution: tuple[float, dict[str, int]] | None = None

    def _limits(self, domain: Domain) -> int:
        if domain[0] == 0:
            total = self.capacity.get(domain, 0)
        else:
            total = sum(self._limits(child) for child in self.children.get(domain, []))
        self.limit[domain] = min(total, self.quota.replicas)
        return self.limit[domain]

    def copy_domains(self, locations: tuple[str, ...]) -> list[tuple[Domain, int]]:
        """Every domain a copy can be read from, with the tier reading there starts at."""
        if not locations:
            return [(ROOT, WORLD)]
        found: list[tuple[Domain, int]] = []
        for loc in locations:
            domains, level = self.location_domains(loc)
            found.extend((domain, level) for domain in domains)
        return found

    def ancestors(self, domain: Domain) -> list[Domain]:
        """``domain`` and every domain above it."""
        chain = [domain]
        while chain[-1] != ROOT:
            chain.append(self.parent[chain[-1]])
        return chain

    # --- the convex programme -------------------------------------------------------

    def demand(self, k: int) -> float:
        """Most bytes ``k`` replicas may read under the balance quota (concave in ``k``)."""
        q = self.quota
        if q.unit:
            count = min(q.hi * k, q.lo * k + q.extras)
            return float(q.unit_size * count)
        total = self.supply.get(ROOT, 0)
        return float(min(q.byte_cap * k, total))

    def term(self, domain: Domain, k: int) -> float:
        """Cost the bound charges ``domain`` hosting ``k`` replicas: bytes that must leave
        it, mixed (see :data:`MIXES`) with (minus) the bytes its replicas can read from a
        copy inside; :meth:`inbound_constant` adds what every level reads."""
        level = domain[0]
        if level >= WORLD:
            return 0.0
        cost, mix = 0.0, self.mix[level]
        if mix > 0.0:
            surplus = self.supply.get(domain, 0) - self.demand(k)
            if surplus > 0:
                cost += mix * surplus
        if mix < 1.0:
            cost -= (1.0 - mix) * min(float(self.avail.get(domain, 0)), self.demand(k))
        return self.delta[level] * cost

    def inbound_constant(self) -> float:
        """The inbound count's part that no layout changes: every level reads all bytes
        a copy can be read at there (those farther are in the base cost)."""
        total = self.supply.get(ROOT, 0)
        return sum(
            (1.0 - self.mix[level]) * self.delta[level] * (total - self.beyond[level])
            for level in range(WORLD)
            if self.mix[level] < 1.0
        )

    def _steps(self, domain: Domain, limit: int) -> list[float]:
        """``term(domain, k) - term(domain, k - 1)`` for k = 1..limit, trailing zeros cut
        (every step is <= 0: both counts fall as replicas are added)."""
        level = domain[0]
        if level >= WORLD or limit <= 0:
            return []
        if self._most is None:
            self._most = [self.demand(k) for k in range(self.quota.replicas + 1)]
        delta, most = self.delta[level], self._most
        steps: list[float] = []
        mix = self.mix[level]
        if mix > 0.0:
            supply = self.supply.get(domain, 0)
            k = 1
            while k <= limit and most[k - 1] < supply:  # as term(k) - term(k - 1) rounds
                steps.append(
                    delta * (mix * max(0.0, supply - most[k]))
                    - delta * (mix * (supply - most[k - 1]))
                )
                k += 1
        if mix < 1.0:
            have, weight = float(self.avail.get(domain, 0)), (1.0 - mix) * delta
            k = 1
            while k <= limit and most[k - 1] < have:
                step = -weight * (min(have, most[k]) - most[k - 1])
                if k <= len(steps):
                    steps[k - 1] += step
                else:
                    steps.append(step)
                k += 1
        return steps

    def _function(self, domain: Domain, memo: dict[Domain, Fn]) -> Fn:
        """``domain``'s function by the definition, recursively: its children's merged and
        cut at its limit, plus its own steps. The reference :meth:`_levels` is tested
        against (planning uses that, a level at a time)."""
        kids = [c for c in self.children.get(domain, []) if self.limit.get(c, 0) > 0]
        limit = self.limit[domain]
        base = self.term(domain, 0)
        merged: list[float] = []
        for child in self.children.get(domain, []):
            fn = memo[child] if child in memo else self._function(child, memo)
            base += fn.base
            merged.extend(fn.marginals)
        if len(kids) > 1:
            merged.sort()
        del merged[limit:]
        for k, step in enumerate(self._steps(domain, limit)):
            if k < len(merged):
                merged[k] += step
            else:
                merged.append(step)
        marginals = [m for m in merged if m < 0.0]
        memo[domain] = Fn(base, marginals, limit)
        return memo[domain]

    def solve(self) -> tuple[float, dict[str, int]]:
        """The least bound over all replica counts, and counts per node attaining it
        (with several copies per chunk: the highest such bound over the mixes)."""
        if self._solution is None:
            best: tuple[float, tuple[float, ...], Levels] | None = None
            for mix in MIXES if self.multi_copy else MIXES[:1]:
                self.mix = mix
                value, levels = self._solve()
                if best is None or value > best[0]:
                    best = (value, mix, levels)
            assert best is not None
            counts: dict[str, int] = {}
            memo = best[2].functions(self.limit)  # for the winner only
            self._split(ROOT, self.quota.replicas, memo, counts)
            self.mix = OUTBOUND
            self._solution = (best[0], counts)
        return self._solution[0], dict(self._solution[1])

    def _solve(self) -> tuple[float, Levels]:
        """The least bound under the current mix, and every level's functions."""
        levels = self._levels()
        root_base, root_marginals = levels.base[WORLD][0], levels.marginals(WORLD, 0)
        value = self.base_cost + self.inbound_constant() + root_base
        value += sum(root_marginals[: self.quota.replicas])
        return value, levels

    def _levels(self) -> Levels:
        """:meth:`_function` of every domain, a level at a time in numpy (see
        :mod:`.tree_levels`)."""
        if self._most is None:
            self._most = [self.demand(k) for k in range(self.quota.replicas + 1)]
        most = np.asarray(self._most, dtype=np.float64)
        return solve_levels(self._level_columns, self.delta, self.mix, most)

    @cached_property
    def _level_domains(self) -> list[list[Domain]]:
        """Per level, its domains in ``repr`` order (children come a level before parents)."""
        return [
            sorted((d for d in self.limit if d[0] == level), key=repr) for level in range(LEVELS)
        ]

    @cached_property
    def _level_columns(self) -> list[Level]:
        """Per level its domains' columns, and the index of each one's parent."""
        columns = []
        for level, domains in enumerate(self._level_domains):
            parent = np.zeros(len(domains), dtype=np.int64)
            if level < WORLD:
                index = {d: i for i, d in enumerate(self._level_domains[level + 1])}
                parent = np.asarray([index[self.parent[d]] for d in domains], dtype=np.int64)
            columns.append(
                Level(
                    domains,
                    np.asarray([self.supply.get(d, 0) for d in domains], dtype=np.float64),
                    np.asarray([self.avail.get(d, 0) for d in domains], dtype=np.float64),
                    np.asarray([self.limit[d] for d in domains], dtype=np.int64),
                    parent,
                )
            )
        return columns

    def _split(self, domain: Domain, k: int, memo: dict[Domain, Fn], out: dict[str, int]) -> None:
        """Hand ``k`` replicas of ``domain`` to its children along the cheapest marginals."""
        if k == 0:
            return
        if domain[0] == 0:
            out[str(domain[1])] = k
            return
        kids = [c for c in self.children.get(domain, []) if self.limit.get(c, 0) > 0]
        heap: list[tuple[float, int, int, int]] = []
        for order, child in enumerate(kids):
            fn = memo[child]
            heap.append((self._marginal(fn, 0), -self.supply.get(child, 0), order, 0))
        heapq.heapify(heap)
        taken = [0] * len(kids)
        for _ in range(k):
            _value, rank, order, step = heapq.heappop(heap)
            taken[order] += 1
            fn = memo[kids[order]]
            if step + 1 < fn.limit:
                heapq.heappush(heap, (self._marginal(fn, step + 1), rank, order, step + 1))
        for order, child in enumerate(kids):
            self._split(child, taken[order], memo, out)

    @staticmethod
    def _marginal(fn: Fn, step: int) -> float:
        return fn.marginals[step] if step < len(fn.marginals) else 0.0

    def bound(self, counts: Mapping[str, int]) -> float:
        """The bound for fixed replica counts per node (no minimisation)."""
        hosted: dict[Domain, int] = {}
        for name, k in counts.items():
            for domain in self.path[name]:
                hosted[domain] = hosted.get(domain, 0) + k
        if not self.multi_copy:
            return self.base_cost + sum(self.term(d, hosted.get(d, 0)) for d in self.supply)
        # In a fixed order (a set's would follow the string hash seed, and float sums
        # in another order differ in the last bits, which can flip near-ties between layouts).
        domains = [*self.supply, *(d for d in hosted if d not in self.supply)]
        values = []
        for mix in MIXES:
            self.mix = mix
            terms = sum(self.term(d, hosted.get(d, 0)) for d in domains)
            values.append(self.inbound_constant() + terms)
        self.mix = OUTBOUND
        return self.base_cost + max(values)
