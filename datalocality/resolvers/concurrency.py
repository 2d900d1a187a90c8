"""Running one request per item with bounded concurrency, failing the way callers expect."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from typing import TypeVar

import anyio

T = TypeVar("T")


async def run_each(
    items: Sequence[T], work: Callable[[T], Awaitable[None]], limit: int | None = None
) -> None:
    """``work(item)`` for every item, at most ``limit`` at once (no limit: all at once).

    The first failure in item order is raised as itself, never wrapped in an
    ExceptionGroup, so callers catch DataSourceNotFound or ResolverUnavailable as they
    would from one request; the others are cancelled.
    """
    errors: list[tuple[int, Exception]] = []
    limiter = anyio.CapacityLimiter(limit or max(1, len(items)))

    async def one(index: int, item: T, scope: anyio.CancelScope) -> None:
        try:
            async with limiter:
                await work(item)
        except Exception as exc:
            errors.append((index, exc))
            scope.cancel()

    async with anyio.create_task_group() as group:
        for index, item in enumerate(items):
            group.start_soon(one, index, item, group.cancel_scope)
    if errors:
        raise min(errors, key=lambda pair: pair[0])[1]
