"""Round-robin: each replica on the next eligible node in name order, cycling.

Vineyard uses this for jobs without data dependencies; chunks are dealt to replicas in id
order, blind to where they are. A node whose turn comes when it has no room left is
skipped, and the replica goes to the next node with room; each replica's reason says
which node it got and whether it was its turn or a move past full nodes.
"""

from __future__ import annotations

from datalocality.placement.balance import deal_round_robin
from datalocality.placement.build import Context, Decision
from datalocality.placement.candidates import Candidates


def place(ctx: Context, candidates: Candidates) -> Decision:
    """Cycle through nodes in name order; deal chunks round-robin."""
    replicas = ctx.request.consumer.replicas
    names = [n.name for n in candidates.nodes]
    room = dict(candidates.capacity)
    nodes: list[str] = []
    reasons: list[str] = []
    position = 0
    for _ in range(replicas):
        full: list[str] = []
        while room[names[position % len(names)]] == 0:
            full.append(names[position % len(names)])
            position += 1
        name = names[position % len(names)]
        room[name] -= 1
        nodes.append(name)
        reasons.append(_reason(name, position % len(names), full))
        position += 1
    loads = deal_round_robin(ctx.request.chunks, replicas)
    return Decision(nodes=nodes, loads=loads, reasons=reasons)


def _reason(name: str, index: int, full: list[str]) -> str:
    """Why a replica is on ``name`` (node ``index`` in name order): its turn, or moved on
    past the nodes in ``full``, whose turn came when they had no room left."""
    where = f"{name} (#{index} in name order)"
    if not full:
        return f"round-robin: its turn, node {where}"
    skipped = f"node {full[0]}" if len(full) == 1 else f"nodes {', '.join(full)}"
    return f"round-robin: {skipped} in turn had no room, moved to {where}"
