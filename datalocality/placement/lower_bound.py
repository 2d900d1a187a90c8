"""The lower bound every plan's cost is reported against (see :mod:`.tree`)."""

from __future__ import annotations

from datalocality.placement.build import Context
from datalocality.placement.candidates import Candidates


def lower_bound(ctx: Context, candidates: Candidates) -> float:
    """Least cost any plan on these candidates can have (exact for unit, single-copy data)."""
    return max(0.0, ctx.tree(candidates).solve()[0])
