"""Packing's bulk path: water-filling gives exactly the counts of the one-by-one rule."""

from __future__ import annotations

import heapq

from hypothesis import given, settings
from hypothesis import strategies as st

from datalocality.placement.packing import _water_fill


def one_by_one(slots: dict[int, int], n: int) -> dict[int, int]:
    """Each item to the member with most slots left, ties to the lowest index."""
    heap = [(-s, i) for i, s in slots.items() if s > 0]
    heapq.heapify(heap)
    taken: dict[int, int] = {}
    for _ in range(n):
        if not heap:
            break
        free, index = heapq.heappop(heap)
        taken[index] = taken.get(index, 0) + 1
        if free + 1 < 0:
            heapq.heappush(heap, (free + 1, index))
    return taken


@settings(max_examples=300, deadline=None)
@given(
    st.dictionaries(st.integers(0, 40), st.integers(0, 12), max_size=12),
    st.integers(0, 200),
)
def test_water_fill_matches_the_one_by_one_rule(slots: dict[int, int], n: int) -> None:
    assert _water_fill(slots, n) == one_by_one(slots, n)


def test_water_fill_worked_example() -> None:
    # 5, 3, 3 slots and 4 items: two to the first (down to 3), then one each to the
    # lowest indices standing at 3.
    assert _water_fill({0: 5, 1: 3, 2: 3}, 4) == {0: 3, 1: 1}
    assert _water_fill({0: 5, 1: 3, 2: 3}, 11) == {0: 5, 1: 3, 2: 3}
    assert _water_fill({0: 5, 1: 3, 2: 3}, 0) == {}
