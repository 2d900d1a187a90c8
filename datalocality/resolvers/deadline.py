"""The overall deadline of one resolution, and running blocking client libraries under it."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import TypeVar

import anyio
import anyio.to_thread

from datalocality.errors import ResolverUnavailable

T = TypeVar("T")


@asynccontextmanager
async def within_deadline(seconds: float, what: str) -> AsyncIterator[None]:
    """Cancel the body after ``seconds``; raise ResolverUnavailable naming ``what`` then."""
    with anyio.move_on_after(seconds) as scope:
        yield
    if scope.cancelled_caught:
        raise ResolverUnavailable(f"{what}: no answer within the {seconds:g} s deadline")


async def run_blocking(func: Callable[[], T], limiter: anyio.CapacityLimiter | None = None) -> T:
    """Run a blocking client call in a worker thread.

    When the deadline cancels the wait the thread is abandoned (it finishes on its own and
    its result is dropped); synchronous client libraries offer no way to interrupt it.
    """
    return await anyio.to_thread.run_sync(func, abandon_on_cancel=True, limiter=limiter)
