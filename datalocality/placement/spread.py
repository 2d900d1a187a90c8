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
"""

from __future__ import annotations

from collections import Counter

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
    room = dict(candidates.capacity)
    placed: Counter[str] = Counter()
    nodes: list[str] = []
    reasons: list[str] = []
    terms: list[dict[str, float]] = []
    for _ in range(consumer.replicas):
        scored = sorted(
            (-least_allocated(node, consumer.requests, placed[node.name]), node.name)
            for node in candidates.nodes
            if room[node.name] > 0
        )
        negative, name = scored[0]
        room[name] -= 1
        placed[name] += 1
        nodes.append(name)
        reasons.append(f"least allocated {-negative:.2f} (best of {len(scored)} with room)")
        terms.append({"least_allocated": -negative})
    loads = deal_round_robin(ctx.request.chunks, consumer.replicas)
    return Decision(nodes=nodes, loads=loads, score_terms=terms, reasons=reasons)
