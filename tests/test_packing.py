"""Packing's bulk paths give exactly what the one-by-one rules give: water-filling the
counts of equal chunks, runs of prefix sums the chunks one replica takes."""

from __future__ import annotations

import heapq
from typing import cast

from hypothesis import given, settings
from hypothesis import strategies as st

from datalocality.placement.packing import _fill_one, _Packer, _water_fill


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


class OneReplica:
    """The part of the packing state :func:`_fill_one` reads and writes."""

    def __init__(self, sizes: list[int], room: int) -> None:
        self.size = sizes
        self.room = [room]
        self.runs: list[list[int]] = []

    def place_run(self, index: int, ranks: list[int], level: int) -> None:
        assert index == 0
        self.runs.append(ranks)
        self.room[0] -= sum(self.size[r] for r in ranks)


def first_fit_falling(sizes: list[int], room: int) -> tuple[list[int], list[int]]:
    """Largest first, each chunk taken when it fits the room left."""
    taken, left = [], []
    for rank, size in enumerate(sizes):
        if room > 0 and size <= room:
            taken.append(rank)
            room -= size
        else:
            left.append(rank)
    return taken, left


@settings(max_examples=400, deadline=None)
@given(st.lists(st.integers(1, 50), max_size=40), st.integers(1, 400))
def test_one_replica_takes_what_the_one_by_one_rule_gives(sizes: list[int], room: int) -> None:
    sizes = sorted(sizes, reverse=True)
    state = OneReplica(sizes, room)
    left = _fill_one(cast(_Packer, state), 0, list(range(len(sizes))), 0, True)
    taken, expected_left = first_fit_falling(sizes, room)
    assert state.runs == [taken] and left == expected_left
    assert state.room[0] == room - sum(sizes[r] for r in taken) >= 0
