"""Round-robin: replica r on the r-th eligible node (by name), modulo the node count.

Vineyard uses this for jobs without data dependencies; chunks are dealt to replicas in id
order, blind to where they are. A node that is full is skipped.
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
    position = 0
    for _ in range(replicas):
        while room[names[position % len(names)]] == 0:
            position += 1
        name = names[position % len(names)]
        room[name] -= 1
        nodes.append(name)
        position += 1
    loads = deal_round_robin(ctx.request.chunks, replicas)
    reasons = [f"replica {r} on node {r % len(names)} in name order" for r in range(replicas)]
    return Decision(nodes=nodes, loads=loads, reasons=reasons)
