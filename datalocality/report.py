"""Plain-text tables for plans, strategy comparisons and benchmarks (shared by CLI and bench).

Pure functions from data to strings: no printing, no dependency beyond the model.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

from datalocality.model import PlacementPlan, Totals

# The data-locality-scheduler's credit for bytes read at each tier (node, zone, region).
DLS_TIER_CREDIT = (1.0, 0.8, 0.5, 0.0, 0.0)
NA = "-"


def format_table(
    headers: Sequence[str], rows: Sequence[Sequence[str]], left: int = 1, indent: str = ""
) -> str:
    """Align columns: the first ``left`` left-justified, the rest right-justified.

    A row shorter than the headers is a note (an error, say): its last cell is written as
    is, spanning the remaining columns, and does not widen them.
    """
    widths = [len(h) for h in headers]
    for row in rows:
        full = len(row) == len(headers)
        for i, cell in enumerate(row if full else row[:-1]):
            widths[i] = max(widths[i], len(cell))

    def line(cells: Sequence[str]) -> str:
        full = len(cells) == len(headers)
        parts = [
            cell.ljust(widths[i]) if i < left else cell.rjust(widths[i])
            for i, cell in enumerate(cells if full else cells[:-1])
        ]
        if not full:
            parts.append(cells[-1])
        return (indent + "  ".join(parts)).rstrip()

    rule = indent + "  ".join("-" * w for w in widths)
    return "\n".join([line(headers), rule, *(line(row) for row in rows)])


def format_bytes(count: float) -> str:
    """Bytes in binary units with three significant figures (``"1.50 GiB"``)."""
    value = float(count)
    for unit in ("B", "KiB", "MiB", "GiB", "TiB", "PiB"):
        if abs(value) < 1024 or unit == "PiB":
            if unit == "B":
                return f"{int(value)} B"
            return f"{value:.3g} {unit}" if abs(value) < 100 else f"{value:.0f} {unit}"
        value /= 1024
    raise AssertionError("unreachable")


def format_seconds(seconds: float) -> str:
    """A duration with a unit that keeps three significant figures."""
    if seconds < 1e-3:
        return f"{seconds * 1e6:.3g} us"
    if seconds < 1:
        return f"{seconds * 1e3:.3g} ms"
    return f"{seconds:.3g} s"


def format_number(value: float) -> str:
    """A number with four significant figures, thousands separated instead of exponents."""
    return f"{value:,.0f}" if abs(value) >= 10_000 else f"{value:.4g}"


def ratio(numerator: float, denominator: float) -> float | None:
    """``numerator / denominator``; 1 when both are zero, None when only the divisor is."""
    if denominator == 0:
        return 1.0 if numerator == 0 else None
    return numerator / denominator


def format_ratio(value: float | None) -> str:
    """A ratio with two decimals, or ``inf`` when it is undefined."""
    return "inf" if value is None or math.isinf(value) else f"{value:.2f}"


def locality_mix(totals: Totals) -> tuple[float, float, float, float]:
    """Fractions of bytes read on the same node, zone, region, and farther away."""
    tiers = totals.bytes_by_tier
    total = sum(tiers)
    if total == 0:
        return (1.0, 0.0, 0.0, 0.0)
    return (tiers[0] / total, tiers[1] / total, tiers[2] / total, (tiers[3] + tiers[4]) / total)


def dls_score(totals: Totals) -> float:
    """The data-locality-scheduler's score: local + 0.8 zone + 0.5 region, per byte."""
    tiers = totals.bytes_by_tier
    total = sum(tiers)
    if total == 0:
        return 1.0
    return sum(w * b for w, b in zip(DLS_TIER_CREDIT, tiers, strict=True)) / total


def plan_table(plan: PlacementPlan) -> str:
    """A plan as text: one row per replica, then totals, operations and notes."""
    rows = [
        [
            str(r.index),
            r.node,
            r.zone or NA,
            r.cluster or NA,
            str(len(r.chunks)),
            format_bytes(r.bytes),
            format_bytes(r.local_bytes),
            format_bytes(r.moved_bytes),
        ]
        for r in plan.replicas
    ]
    headers = ["replica", "node", "zone", "cluster", "chunks", "bytes", "local", "moved"]
    totals = plan.totals
    node, zone, region, farther = locality_mix(totals)
    transfers = plural(len(plan.transfers), "transfer")
    lines = [
        f"strategy: {plan.strategy}",
        format_table(headers, rows, left=4),
        "",
        "totals:",
        f"  bytes          {format_bytes(totals.bytes)}",
        f"  moved          {format_bytes(totals.moved_bytes)} in {transfers}",
        f"  cost           {format_number(totals.cost)} s (lower bound "
        f"{format_number(totals.lower_bound_cost)} s, "
        f"ratio {format_ratio(ratio(totals.cost, totals.lower_bound_cost))}"
        f"{', proven optimal' if totals.proven_optimal else ''})",
        f"  locality       node {node:.0%}, zone {zone:.0%}, region {region:.0%}, "
        f"farther {farther:.0%}",
    ]
    if plan.operations:
        lines.append("operations:")
        lines.extend(
            f"  {op.kind} ({op.scope}) on {op.node}: {len(op.chunks)} chunks of {op.source}"
            + (f" for replica {op.replica}" if op.replica is not None else "")
            for op in plan.operations
        )
    if plan.notes:
        lines.append("notes:")
        lines.extend(f"  {note}" for note in plan.notes)
    return "\n".join(lines)


def error_brief(error: BaseException, width: int = 70) -> str:
    """An exception as one short line (type and first line of the message)."""
    text = str(error).splitlines()[0] if str(error) else ""
    brief = f"{type(error).__name__}: {text}" if text else type(error).__name__
    return brief if len(brief) <= width else brief[: width - 3] + "..."


def compare_table(results: Mapping[str, PlacementPlan | BaseException]) -> str:
    """Strategies side by side: moved bytes, cost, cost over the lower bound; errors inline."""
    headers = ["strategy", "moved", "cost (s)", "cost/bound", "local"]
    rows: list[list[str]] = []
    for name, result in results.items():
        if isinstance(result, BaseException):
            rows.append([name, f"error: {error_brief(result)}"])
            continue
        totals = result.totals
        rows.append(
            [
                name,
                format_bytes(totals.moved_bytes),
                format_number(totals.cost),
                format_ratio(ratio(totals.cost, totals.lower_bound_cost)),
                f"{locality_mix(totals)[0]:.0%}",
            ]
        )
    return format_table(headers, rows)


def savings_table(best: PlacementPlan, peers: Mapping[str, PlacementPlan | BaseException]) -> str:
    """Bytes ``best`` saves against each peer: peer moved - best moved, and their ratio."""
    headers = ["versus", "peer moved", "saved", "peer/best"]
    rows: list[list[str]] = []
    moved = best.totals.moved_bytes
    for name, result in peers.items():
        if isinstance(result, BaseException):
            rows.append([name, f"error: {error_brief(result)}"])
            continue
        peer = result.totals.moved_bytes
        rows.append(
            [
                name,
                format_bytes(peer),
                format_bytes(peer - moved),
                format_ratio(ratio(peer, moved)),
            ]
        )
    return format_table(headers, rows)


def plural(n: int, noun: str) -> str:
    """``n`` and the noun, plural unless n is 1."""
    return f"{n} {noun}" if n == 1 else f"{n} {noun}s"
