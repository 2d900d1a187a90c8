"""run_each: bounded concurrency, and the first failure in item order raised as itself."""

from __future__ import annotations

import anyio
import pytest

from datalocality.errors import DataSourceNotFound
from datalocality.resolvers.concurrency import run_each

pytestmark = pytest.mark.anyio


async def test_at_most_limit_run_at_once_and_all_run() -> None:
    running = peak = 0
    done: list[int] = []

    async def work(item: int) -> None:
        nonlocal running, peak
        running += 1
        peak = max(peak, running)
        await anyio.sleep(0.01)
        running -= 1
        done.append(item)

    await run_each(list(range(10)), work, limit=3)
    assert sorted(done) == list(range(10))
    assert peak == 3


async def test_a_failure_is_raised_as_itself_and_cancels_the_rest() -> None:
    finished: list[int] = []

    async def work(item: int) -> None:
        if item == 1:
            raise DataSourceNotFound(f"item {item}")
        await anyio.sleep(30)
        finished.append(item)

    with anyio.fail_after(5), pytest.raises(DataSourceNotFound, match="item 1"):
        await run_each([0, 1, 2], work, limit=3)
    assert finished == []


async def test_of_failures_seen_together_the_first_item_wins() -> None:
    async def work(item: int) -> None:
        with anyio.CancelScope(shield=True):
            await anyio.sleep(0.01 * (3 - item))  # item 2 fails first in time
        raise DataSourceNotFound(f"item {item}")

    with pytest.raises(DataSourceNotFound, match="item 0"):
        await run_each([0, 1, 2], work)
