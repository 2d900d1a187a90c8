"""The plan as a DAG author reads it: a table per replica and the locality-blind comparison.

Built from the ``plan`` and ``baseline`` XComs alone (:mod:`.plan_store`), so the plan
task's log, ``make demo`` and any tool show the same thing. Pure: data in, text out.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from datalocality.model import PlacementPlan
from datalocality.model.topology import TIER_NAMES
from datalocality.report import format_bytes, format_table

MAX_ROWS = 100  # a plan of 1,000 replicas logs its first 100 and a count of the rest


def tier_mix(bytes_by_tier: Sequence[int]) -> str:
    """Where a replica's bytes are read from, as one token: ``node:75%,zone:25%``."""
    total = sum(bytes_by_tier)
    if not total:
        return "-"
    parts = [
        f"{name}:{100 * size / total:.0f}%"
        for name, size in zip(TIER_NAMES, bytes_by_tier, strict=False)
        if size
    ]
    return ",".join(parts)


def baseline_summary(baseline: PlacementPlan | None) -> dict[str, Any]:
    """What a locality-blind placement would have done, per replica and in total."""
    if baseline is None:
        return {}
    return {
        "strategy": baseline.strategy,
        "moved_bytes": baseline.totals.moved_bytes,
        "replicas": [
            {
                "index": r.index,
                "node": r.node,
                "local_bytes": r.local_bytes,
                "moved_bytes": r.moved_bytes,
            }
            for r in baseline.replicas
        ],
    }


def build_plan_report(
    plan: Mapping[str, Any],
    baseline: Mapping[str, Any],
    bound: Mapping[int, str] | None = None,
    *,
    max_rows: int = MAX_ROWS,
) -> str:
    """The per-replica table (``bound``: the node each replica's pod ran on, when known),
    the bytes moved next to a locality-blind placement's, and the operations."""
    blind = {r["index"]: r for r in baseline.get("replicas", [])}
    rows = []
    replicas = list(plan["replicas"])
    for replica in replicas[:max_rows]:
        index = replica["index"]
        other = blind.get(index, {})
        row = [str(index), replica["node"]]
        if bound is not None:
            row.append(bound.get(index, "-"))
        row += [
            str(replica["chunk_count"]),
            format_bytes(replica["local_bytes"]),
            format_bytes(replica["moved_bytes"]),
            tier_mix(replica.get("bytes_by_tier") or ()),
            str(other.get("node", "-")),
            format_bytes(other["moved_bytes"]) if other else "-",
        ]
        rows.append(row)
    headers = ["replica", "planned node"] + (["bound to"] if bound is not None else [])
    headers += ["chunks", "local", "moved", "read from"]
    headers += [f"{baseline.get('strategy', 'blind')} node", "its moved"]
    lines = [format_table(headers, rows, left=3 if bound is not None else 2)]
    if len(replicas) > max_rows:
        lines.append(f"... and {len(replicas) - max_rows} more replicas (the plan XCom has all)")
    ours = plan["totals"]["moved_bytes"]
    theirs = baseline.get("moved_bytes")
    lines += ["", f"bytes moved over the network: {format_bytes(ours)} ({plan['strategy']})"]
    if theirs is not None:
        saved = theirs - ours
        share = f" ({saved / theirs:.0%} less)" if theirs else ""
        lines.append(
            f"a locality-blind placement ({baseline['strategy']}) would move "
            f"{format_bytes(theirs)}: {format_bytes(saved)} saved{share}"
        )
    operations = plan.get("operations") or []
    if operations:
        nodes = ", ".join(sorted({op["node"] for op in operations}))
        kind = operations[0]["kind"]
        lines.append(f"{len(operations)} {kind} job(s) before the replicas, on {nodes}")
    return "\n".join(lines)
