"""Bounds on what a request file may hold, checked before anything walks it (pure).

JSON cannot share values, but YAML aliases can: a "billion laughs" file of 1 KB expands to
10^9 values when validation walks it. A request is refused, by name, when it is larger
than :data:`MAX_REQUEST_BYTES`, nests deeper than :data:`MAX_DEPTH`, refers to itself,
or its aliases expand past :data:`MAX_VALUES`.
"""

from __future__ import annotations

from typing import Final

from datalocality.errors import SpecError

MAX_REQUEST_BYTES: Final = 512 * 1024 * 1024
MAX_DEPTH: Final = 64
MAX_VALUES: Final = 20_000_000  # 100,000 chunks with their locations are about 500,000


def check_request_size(where: str, size: int) -> None:
    """SpecError when a request of ``size`` bytes is past :data:`MAX_REQUEST_BYTES`."""
    if size > MAX_REQUEST_BYTES:
        raise SpecError(
            where, f"{size:,} bytes", f"a request may be at most {MAX_REQUEST_BYTES:,} bytes"
        )


def check_expansion(where: str, data: object) -> None:
    """Walk ``data`` once per distinct container: SpecError when it nests deeper than
    :data:`MAX_DEPTH`, contains itself, or counts more than :data:`MAX_VALUES` values
    with every shared (aliased) container counted each time it is used.

    >>> shared = [1, 2, 3]
    >>> check_expansion("f", {"a": shared, "b": shared})
    >>> loop: list[object] = []
    >>> loop.append(loop)
    >>> try:
    ...     check_expansion("f", loop)
    ... except SpecError as exc:
    ...     print(exc.reason)
    contains itself (a YAML alias inside its own anchor)
    """
    counted: dict[int, int] = {}  # id -> values under it, aliases expanded
    open_: set[int] = set()
    stack: list[tuple[object, int, bool]] = [(data, 0, False)]
    while stack:
        value, depth, done = stack.pop()
        key = id(value)
        children = _children(value)
        if done:
            open_.discard(key)
            total = 1 + sum(counted.get(id(c), 1) for c in children)
            if total > MAX_VALUES:
                raise SpecError(
                    where,
                    f"{total:,} values",
                    f"expands past {MAX_VALUES:,} values (YAML aliases counted each time used)",
                )
            counted[key] = total
            continue
        if key in counted:
            continue
        if key in open_:
            raise SpecError(
                where,
                f"a value at depth {depth}",
                "contains itself (a YAML alias inside its own anchor)",
            )
        if depth > MAX_DEPTH:
            raise SpecError(where, f"depth {depth}", f"nests deeper than {MAX_DEPTH} levels")
        open_.add(key)
        stack.append((value, depth, True))
        stack.extend((c, depth + 1, False) for c in children if isinstance(c, dict | list))


def _children(value: object) -> list[object]:
    if isinstance(value, dict):
        return [*value.keys(), *value.values()]
    if isinstance(value, list):
        return value
    return []
