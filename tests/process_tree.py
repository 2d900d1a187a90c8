"""The processes a test started, found through /proc: to prove none is left behind."""

from __future__ import annotations

from pathlib import Path


def descendants(pid: int) -> set[int]:
    """Every process below ``pid`` (children of children...)."""
    found: set[int] = set()
    todo = [pid]
    while todo:
        current = todo.pop()
        try:
            tasks = list(Path(f"/proc/{current}/task").iterdir())
            children = {int(c) for t in tasks for c in (t / "children").read_text().split()}
        except (FileNotFoundError, ProcessLookupError):
            continue
        todo.extend(children - found)
        found |= children
    return found
