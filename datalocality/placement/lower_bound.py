"""The lower bound every plan's cost is reported against (see :mod:`.tree`)."""

from __future__ import annotations

from datalocality.placement.build import Context
from datalocality.placement.candidates import Candidates


def lower_bound(ctx: Context, candidates: Candidates) -> float:
    """Least cost any plan on these candidates can have (exact for unit, single-copy data)."""
    bound = ctx.tree(candidates).solve()[0]
    # Rounding leaves crumbs like 1e-17 where the bound is really zero.
    return bound if ctx.below(0.0, bound) else 0.0
