"""Spread: kube-scheduler's NodeResourcesLeastAllocated score, blind to where data is.

A peer baseline for what the default scheduler does with replicas that declare no data:
each replica in turn goes to the eligible node with room whose cpu and memory stay the least
allocated (ties by node name); chunks are then dealt to replicas round-robin in id order.

The score follows kube-scheduler (``noderesources/least_allocated.go``): per resource
``(allocatable - requested) / allocatable`` with ``requested`` counting what the node already
has, the replicas already placed on it *and the replica being scored*, 0 when that exceeds
allocatable, resources with no allocatable skipped, cpu and memory weighted equally. Like
kube-scheduler (``GetNonzeroRequests``), a replica requesting no cpu or memory is scored as
requesting 0.1 cores and 200Mi, so replicas with empty requests still spread. Scores are in
0..1 rather than kube's integer 0..100.

Only the node that just took a replica changes its score, so the nodes sit in a heap keyed
by (-score, name): O(replicas x log nodes) instead of rescoring every node per replica.
"""

from __future__ import annotations

import heapq

from datalocality.model import Node, Resources
from datalocality.placement.balance import deal_round_robin
from datalocality.placement.build import Context, Decision
from datalocality.placement.candidates import Candidates

# kube-scheduler's non-zero defaults for pods that request nothing (scoring only).
DEFAULT_CPU = 0.1
DEFAULT_MEMORY = 200 * 2**20


def least_allocated(node: Node, per_replica: Resources, placed: int) -> float:
    """Free fraction of cpu and memory (0..1) once ``placed`` replicas and one more land."""
    cpu = per_replica.cpu or DEFAULT_CPU
    memory = per_replica.memory or DEFAULT_MEMORY
    scores: list[float] = []
    for allocatable, requested, each in (
        (node.allocatable.cpu, node.requested.cpu, cpu),
        (float(node.allocatable.memory), float(node.requested.memory), float(memory)),
    ):
        if allocatable <= 0:
            continue
        used = requested + each * (placed + 1)
        scores.append(0.0 if used > allocatable else (allocatable - used) / allocatable)
    return sum(scores) / len(scores) if scores else 0.0


def place(ctx: Context, candidates: Candidates) -> Decision:
    """Put each replica on the least allocated node with room; deal chunks round-robin."""
    consumer = ctx.request.consumer
    per_replica = consumer.requests
    room = dict(candidates.capacity)
    placed = dict.fromkeys(room, 0)
    by_name = {node.name: node for node in candidates.nodes}
    # (-score, name) of every node with room: the heap's top is the least allocated one.
    heap = [
        (-least_allocated(node, per_replica, 0), node.name)
        for node in candidates.nodes
        if room[node.name] > 0
    ]
    heapq.heapify(heap)
    nodes: list[str] = []
    reasons: list[str] = []
    terms: list[dict[str, float]] = []
    for _ in range(consumer.replicas):
        negative, name = heap[0]
        reasons.append(f"least allocated {-negative:.2f} (best of {len(heap)} with room)")
        terms.append({"least_allocated": -negative})
        nodes.append(name)
        room[name] -= 1
        placed[name] += 1
        if room[name] > 0:
            score = least_allocated(by_name[name], per_replica, placed[name])
            heapq.heapreplace(heap, (-score, name))
        else:
            heapq.heappop(heap)
    loads = deal_round_robin(ctx.request.chunks, consumer.replicas)
    return Decision(nodes=nodes, loads=loads, score_terms=terms, reasons=reasons)
