"""Exact assignment of unit chunks with several copies: a min-cost flow on the domain tree.

Chunks with the same copy locations form one supply. Each copy location enters the tree
at its own hub (node, zone, region or cluster) for the tier cost of reading there; going
up a level costs that level's increment and going down is free, so the graph has
O(groups × copies + domains) edges instead of chunks × nodes. Node hubs absorb ``lo``
chunks per replica and at most one spare each, ``extras`` spares in all. Costs are
scaled to integers for networkx's network simplex, whose optimum is integral.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping

import networkx as nx

from datalocality.placement.build import Context
from datalocality.placement.tree import Domain, DomainTree

_SCALE = 1e9


# Per replica node, the chunks it reads as runs: (copy locations, their ranks by id).
Runs = dict[str, list[tuple[tuple[str, ...], list[int]]]]


def assign_by_flow(ctx: Context, tree: DomainTree, counts: Mapping[str, int]) -> Runs:
    """Chunks per replica node minimising total cost, with ``lo``/``lo+1`` per replica:
    as runs of one copy-location tuple each, chunks named by rank in ``ctx.by_id``."""
    quota = ctx.quota
    per_byte = ctx.costs.per_byte
    unit = max(per_byte)
    weight = [round(_SCALE * c / unit) if unit else 0 for c in per_byte]
    graph = nx.DiGraph()
    for domain, parent in tree.parent.items():
        level = domain[0]
        graph.add_edge(("hub", domain), ("hub", parent), weight=weight[level + 1] - weight[level])
        graph.add_edge(("hub", parent), ("hub", domain), weight=0)
    groups = ctx.by_id.members
    for locations in ctx.held:  # in request order, as the graph was always built
        source = ("group", locations)
        graph.add_node(source, demand=-len(groups[locations]))
        entries: dict[Domain, int] = {}
        for domain, level in tree.copy_domains(locations):
            entries[domain] = min(entries.get(domain, weight[level]), weight[level])
        for domain, cost in entries.items():
            graph.add_edge(source, ("hub", domain), weight=cost)
    spare = ("spare",)
    graph.add_node(spare, demand=quota.extras)
    for name, k in counts.items():
        hub = ("hub", (0, name))
        graph.nodes[hub]["demand"] = quota.lo * k
        if quota.extras:
            graph.add_edge(hub, spare, weight=0, capacity=k)
    flow = nx.min_cost_flow(graph)
    per_node: Runs = defaultdict(list)
    # Walk each group's flow down to the node hubs that absorb it.
    absorbed = _absorption(graph, flow, counts, quota.lo)
    for locations in sorted(groups):
        ranks, start = groups[locations], 0
        for name, amount in _route(graph, flow, ("group", locations), absorbed):
            per_node[name].append((locations, ranks[start : start + amount]))
            start += amount
    return per_node


def _absorption(
    graph: nx.DiGraph, flow: dict[object, dict[object, int]], counts: Mapping[str, int], lo: int
) -> dict[str, int]:
    """How many chunks each replica node takes: its mandatory share plus spares."""
    return {
        name: lo * k + flow.get(("hub", (0, name)), {}).get(("spare",), 0)
        for name, k in counts.items()
    }


def _route(
    graph: nx.DiGraph,
    flow: dict[object, dict[object, int]],
    source: object,
    absorbed: dict[str, int],
) -> list[tuple[str, int]]:
    """Decompose one group's outflow into (node, amount) by following positive flow."""
    out: list[tuple[str, int]] = []
    for entry, amount in sorted(flow[source].items(), key=repr):
        remaining = amount
        while remaining > 0:
            path, node = _walk(flow, entry, absorbed)
            step = min([remaining, absorbed[node]] + [flow[a][b] for a, b in path])
            for a, b in path:
                flow[a][b] -= step
            absorbed[node] -= step
            remaining -= step
            out.append((node, step))
        flow[source][entry] = 0
    return out


def _walk(
    flow: dict[object, dict[object, int]], start: object, absorbed: dict[str, int]
) -> tuple[list[tuple[object, object]], str]:
    """Follow positive flow from a hub until a node hub that still absorbs chunks."""
    path: list[tuple[object, object]] = []
    current = start
    while True:
        if isinstance(current, tuple) and current[0] == "hub":
            domain = current[1]
            if isinstance(domain, tuple) and domain[0] == 0 and absorbed.get(str(domain[1]), 0) > 0:
                return path, str(domain[1])
        nxt = next(
            (b for b, f in sorted(flow[current].items(), key=repr) if f > 0 and b != ("spare",)),
            None,
        )
        if nxt is None:
            raise AssertionError(f"flow decomposition stuck at {current!r}")
        path.append((current, nxt))
        current = nxt
