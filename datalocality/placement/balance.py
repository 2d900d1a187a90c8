"""Balance rules shared by every strategy, and two ways to split ordered chunks fairly.

Unit-size chunks (all the same size): replica chunk counts differ by at most one.
Otherwise: each replica reads at most ``total / replicas + largest chunk`` bytes.
"""

from __future__ import annotations

import heapq
from collections.abc import Sequence
from dataclasses import dataclass

from datalocality.errors import PlacementError
from datalocality.model import Chunk, PlacementRequest


@dataclass(frozen=True)
class Quota:
    """How much each replica may read: counts ``lo``/``hi`` for unit chunks, else bytes."""

    replicas: int
    unit: bool
    unit_size: int
    lo: int
    hi: int
    extras: int
    byte_cap: int

    @classmethod
    def of(cls, request: PlacementRequest) -> Quota:
        """The quota a request implies."""
        chunks = request.chunks
        replicas = request.consumer.replicas
        total = request.total_bytes
        largest = max(request.chunk_sizes, default=0)
        lo, extras = divmod(len(chunks), replicas)
        return cls(
            replicas=replicas,
            unit=request.unit_sized,
            unit_size=chunks[0].size if chunks else 0,
            lo=lo,
            hi=lo + (1 if extras else 0),
            extras=extras,
            byte_cap=-(-total // replicas) + largest,
        )

    def check_totals(self, counts: Sequence[int], sizes: Sequence[int]) -> None:
        """Raise PlacementError if per-replica chunk counts and bytes break the balance
        rule."""
        if self.unit:
            if counts and max(counts) - min(counts) > 1:
                raise PlacementError(f"unbalanced chunk counts {list(counts)}")
            return
        for index, size in enumerate(sizes):
            if size > self.byte_cap:
                raise PlacementError(f"replica {index} reads {size} > cap {self.byte_cap} bytes")


def split_contiguous(chunks: Sequence[Chunk], replicas: int) -> list[list[Chunk]]:
    """Cut ordered chunks into ``replicas`` contiguous ranges of about equal bytes.

    A chunk goes to the range its starting byte offset falls in, so each range holds at
    most ``total/replicas + largest`` bytes, and unit chunks split into counts that differ
    by at most one.

    >>> [len(r) for r in split_contiguous([Chunk(id=str(i)) for i in range(7)], 3)]
    [3, 2, 2]
    """
    total = sum(c.size for c in chunks)
    ranges: list[list[Chunk]] = [[] for _ in range(replicas)]
    offset = 0
    for chunk in chunks:
        index = min(replicas - 1, (offset * replicas) // total) if total else 0
        ranges[index].append(chunk)
        offset += chunk.size
    if total == 0:  # all chunks empty: fall back to counts
        return [list(chunks[r::replicas]) for r in range(replicas)]
    return ranges


def deal_round_robin(chunks: Sequence[Chunk], replicas: int) -> list[list[Chunk]]:
    """Deal ordered chunks one by one to the replica with the fewest bytes (ties: fewest
    chunks, then index: so equal and empty chunks still go round-robin).

    With unit chunks this is plain round-robin (chunk i to replica i mod replicas).
    """
    loads: list[list[Chunk]] = [[] for _ in range(replicas)]
    heap = [(0, 0, r) for r in range(replicas)]
    for chunk in chunks:
        size, count, index = heapq.heappop(heap)
        loads[index].append(chunk)
        heapq.heappush(heap, (size + chunk.size, count + 1, index))
    return loads
