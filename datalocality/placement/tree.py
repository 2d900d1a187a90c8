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
"""

from __future__ import annotations

import heapq
import itertools
from collections.abc import Hashable, Mapping
from dataclasses import dataclass

from datalocality.model import Node
from datalocality.placement.balance import Quota
from datalocality.placement.costs import CostModel

Domain = tuple[int, Hashable]
ROOT: Domain = (4, "")


def node_path(node: Node) -> tuple[Domain, ...]:
    """The domains containing ``node``, itself first and the world last."""
    return ((0, node.name), (1, node.zone_key), (2, node.region_key), (3, node.cluster), ROOT)


@dataclass
class _Fn:
    """A convex function of a replica count, as its value at 0 and non-zero marginals."""

    base: float
    marginals: list[float]  # non-decreasing, all < 0; further steps up to ``limit`` are 0
    limit: int  # most replicas the domain can host


class DomainTree:
    """Domains, the bytes each holds, and the replica capacity under each."""

    def __init__(
        self,
        costs: CostModel,
        held: Mapping[tuple[str, ...], int],
        capacity: Mapping[str, int],
        quota: Quota,
    ) -> None:
        self.costs = costs
        self.quota = quota
        self.delta = [costs.per_byte[level + 1] - costs.per_byte[level] for level in range(4)]
        self.parent: dict[Domain, Domain] = {}
        self.children: dict[Domain, list[Domain]] = {ROOT: []}
        self.path: dict[str, tuple[Domain, ...]] = {}
        for node in costs.topology.nodes:
            path = node_path(node)
            self.path[node.name] = path
            for child, parent in itertools.pairwise(path):
                if child not in self.parent:
                    self.parent[child] = parent
                    self.children.setdefault(parent, []).append(child)
        for kids in self.children.values():
            kids.sort(key=repr)
        self.capacity: dict[Domain, int] = {
            (0, name): cap for name, cap in capacity.items() if cap > 0
        }
        self._domains: dict[str, tuple[list[Domain], int]] = {}
        self.supply: dict[Domain, int] = {}
        self.base_cost = 0.0
        homes: dict[Domain, int] = {}
        # True when some chunk can be read from several domains (copies, shared names).
        self.multi_copy = any(len(self.copy_domains(locs)) > 1 for locs in held)
        for locations, size in held.items():
            domain, level = self.home(locations)
            self.base_cost += size * costs.per_byte[level]
            homes[domain] = homes.get(domain, 0) + size
        for home, size in homes.items():
            for domain in self.ancestors(home):
                self.supply[domain] = self.supply.get(domain, 0) + size
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

    def location_domains(self, location: str) -> tuple[list[Domain], int]:
        """The domains a location names, and its level. A zone or region name used in
        several clusters names several domains: each is then like a copy of its own."""
        kind, _, name = location.rpartition(":")
        if not kind:
            return [(0, name)], 0
        if location not in self._domains:
            level = {"zone": 1, "region": 2, "cluster": 3}[kind]
            found = {
                path[level]
                for node, path in self.path.items()
                if (kind == "cluster" and path[3][1] == name)
                or (kind == "zone" and self.costs.nodes[node].zone == name)
                or (kind == "region" and self.costs.nodes[node].region == name)
            }
            self._domains[location] = (sorted(found, key=repr) or [ROOT], level)
        return self._domains[location]

    def copy_domains(self, locations: tuple[str, ...]) -> list[tuple[Domain, int]]:
        """Every domain a copy can be read from, with the tier reading there starts at."""
        if not locations:
            return [(ROOT, 4)]
        found: list[tuple[Domain, int]] = []
        for loc in locations:
            domains, level = self.location_domains(loc)
            found.extend((domain, level) for domain in domains)
        return found

    def lca(self, domains: list[Domain]) -> Domain:
        """Lowest common ancestor of domains."""
        common = domains[0]
        for other in domains[1:]:
            ancestors = set(self.ancestors(other))
            while common not in ancestors:
                common = self.parent[common]
        return common

    def ancestors(self, domain: Domain) -> list[Domain]:
        """``domain`` and every domain above it."""
        chain = [domain]
        while chain[-1] != ROOT:
            chain.append(self.parent[chain[-1]])
        return chain

    def home(self, locations: tuple[str, ...]) -> tuple[Domain, int]:
        """Where data with these copy locations sits for the bound: the smallest domain
        holding every copy, and the nearest tier any copy can ever be read at."""
        if not locations:
            return ROOT, 4
        if len(locations) == 1 and ":" not in locations[0]:
            return (0, locations[0]), 0
        found = self.copy_domains(locations)
        return self.lca([d for d, _ in found]), min(level for _, level in found)

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
        """Cost of the bytes that must leave ``domain`` when it hosts ``k`` replicas."""
        if domain[0] >= 4:
            return 0.0
        surplus = self.supply.get(domain, 0) - self.demand(k)
        return self.delta[domain[0]] * surplus if surplus > 0 else 0.0

    def _function(self, domain: Domain, memo: dict[Domain, _Fn]) -> _Fn:
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
        k = 1
        while k <= limit:
            step = self.term(domain, k) - self.term(domain, k - 1)
            if step == 0.0 and k > len(merged):
                break
            if k <= len(merged):
                merged[k - 1] += step
            else:
                merged.append(step)
            k += 1
        marginals = [m for m in merged if m < 0.0]
        memo[domain] = _Fn(base, marginals, limit)
        return memo[domain]

    def solve(self) -> tuple[float, dict[str, int]]:
        """The least bound over all replica counts, and counts per node attaining it."""
        if self._solution is None:
            self._solution = self._solve()
        return self._solution[0], dict(self._solution[1])

    def _solve(self) -> tuple[float, dict[str, int]]:
        memo: dict[Domain, _Fn] = {}
        self._function_all(memo)
        root = memo[ROOT]
        replicas = self.quota.replicas
        value = self.base_cost + root.base + sum(root.marginals[:replicas])
        counts: dict[str, int] = {}
        self._split(ROOT, replicas, memo, counts)
        return value, counts

    def _function_all(self, memo: dict[Domain, _Fn]) -> None:
        # Post-order without recursion depth trouble: deepest levels first.
        for level in range(5):
            for domain in sorted((d for d in self.limit if d[0] == level), key=repr):
                self._function(domain, memo)

    def _split(self, domain: Domain, k: int, memo: dict[Domain, _Fn], out: dict[str, int]) -> None:
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
    def _marginal(fn: _Fn, step: int) -> float:
        return fn.marginals[step] if step < len(fn.marginals) else 0.0

    def bound(self, counts: Mapping[str, int]) -> float:
        """The bound for fixed replica counts per node (no minimisation)."""
        hosted: dict[Domain, int] = {}
        for name, k in counts.items():
            for domain in self.path[name]:
                hosted[domain] = hosted.get(domain, 0) + k
        return self.base_cost + sum(self.term(d, hosted.get(d, 0)) for d in self.supply)
