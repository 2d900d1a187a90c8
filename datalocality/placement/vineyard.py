"""Vineyard's best-effort rule: replica r goes where the middle of its r-th share of chunks is.

A peer baseline, faithful to the Vineyard operator's scheduler plugin (v6d,
``k8s/pkg/schedulers/scheduling_strategy.go``, ``BestEffortStrategy.Compute``):

* chunks are ordered by the node holding them (node-name order, ties by chunk id); a chunk
  with no node location (a ``zone:``/``region:``/``cluster:`` one, or none) sorts last. A
  chunk on several nodes is held by its first eligible node, else its first node;
* ``nchunks = ceil(total_chunks / replicas)``; replica r takes the first eligible node, in
  name order, whose cumulative chunk count (chunks held on it and on the nodes before it)
  reaches ``nchunks * r + (nchunks + 1) // 2``, or the first eligible node when none does;
* replica r reads the r-th contiguous range of that order (``split_contiguous``, so uneven
  sizes keep the byte cap).

Capacity is no part of the rule, only a filter: a full node passes its replica to the next
eligible node with room, in name order, wrapping around. Vineyard places jobs without data
round-robin, and so does this module when the request has no chunks.

Worked cases. 12 unit chunks, 9 on node1 and 3 on node2, 3 replicas: nchunks = 4, so the
targets are 4r + 2 = 2, 6, 10; cumulative counts are node1 9, node2 12. 9 >= 2 and 9 >= 6
put replicas 0 and 1 on node1; 9 < 10 <= 12 puts replica 2 on node2. With a 13th chunk on
node3: nchunks = 5, targets 5r + 3 = 3, 8, 13; cumulative node1 9, node2 12, node3 13, so
node1, node1 and (12 < 13 <= 13) node3.
"""

from __future__ import annotations

from collections import Counter

from datalocality.model import Chunk
from datalocality.placement import round_robin
from datalocality.placement.balance import split_contiguous
from datalocality.placement.build import Context, Decision
from datalocality.placement.candidates import Candidates


def holder(chunk: Chunk, eligible: set[str]) -> str | None:
    """The node a chunk counts for: its first eligible node, else its first node, else None."""
    nodes = [loc for loc in chunk.locations if ":" not in loc]  # locations are sorted
    return next((name for name in nodes if name in eligible), nodes[0] if nodes else None)


def chunk_order(chunks: list[Chunk], holders: dict[str, str | None]) -> list[Chunk]:
    """Chunks by holding node name, then id; chunks held by no node last."""
    return sorted(chunks, key=lambda c: (holders[c.id] is None, holders[c.id] or "", c.id))


def place(ctx: Context, candidates: Candidates) -> Decision:
    """Place each replica by Vineyard's cumulative-count rule; give it a contiguous range."""
    request = ctx.request
    if not request.chunks:
        return round_robin.place(ctx, candidates)
    replicas = request.consumer.replicas
    eligible = [n.name for n in candidates.nodes]
    eligible_set = set(eligible)
    holders = {c.id: holder(c, eligible_set) for c in request.chunks}
    held = Counter(name for name in holders.values() if name is not None)
    cumulative: list[tuple[str, int]] = []
    running = 0
    for node in request.topology.nodes:  # sorted by name
        running += held[node.name]
        cumulative.append((node.name, running))
    nchunks = -(-len(request.chunks) // replicas)
    room = dict(candidates.capacity)
    nodes: list[str] = []
    reasons: list[str] = []
    terms: list[dict[str, float]] = []
    for r in range(replicas):
        target = nchunks * r + (nchunks + 1) // 2
        hit = next(
            ((name, n) for name, n in cumulative if name in eligible_set and n >= target), None
        )
        if hit is None:
            chosen, count = eligible[0], running
            why = f"no node's cumulative chunks ({running}) reach {target}; first eligible node"
        else:
            chosen, count = hit
            why = f"cumulative chunks {count} reach {target} at {chosen}"
        if room[chosen] == 0:
            start = eligible.index(chosen)
            full = chosen
            chosen = next(
                eligible[(start + k) % len(eligible)]
                for k in range(1, len(eligible))
                if room[eligible[(start + k) % len(eligible)]] > 0
            )
            why += f"; {full} full, next with room {chosen}"
        room[chosen] -= 1
        nodes.append(chosen)
        reasons.append(why)
        terms.append({"target": float(target), "cumulative": float(count)})
    loads = split_contiguous(chunk_order(list(request.chunks), holders), replicas)
    return Decision(nodes=nodes, loads=loads, score_terms=terms, reasons=reasons)
