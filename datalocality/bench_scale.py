"""Benchmark rows measured in child processes: the CLI end to end, and the 10x instance.

``datalocality plan`` on the large request is timed as a user runs it (a fresh
interpreter: imports, parsing, validation, planning, printing), beside the floor of what
any planner must pay for that file here: ``json.loads`` plus pydantic validation. The 10x
instance (1,000,000 chunks, 50,000 nodes in 5 clusters, 10,000 replicas) is planned in its
own process so its peak RSS (``ru_maxrss``) is its own.
"""

from __future__ import annotations

import json
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from datalocality.model import PlacementRequest
from datalocality.placement import plan
from datalocality.report import format_ratio, format_seconds, format_table
from datalocality.synthetic import InstanceParams, build_instance, preset

Write = Callable[[str], None]
TENFOLD = {"chunks": 1_000_000, "nodes": 50_000, "replicas": 10_000, "clusters": 5}


def tenfold_params() -> InstanceParams:
    """The 10x instance: the large preset with ten times everything, in 5 clusters."""
    return preset("large", name="tenfold", **TENFOLD)


@dataclass(frozen=True)
class CliTiming:
    """Seconds of the CLI end to end and of its parse-and-validate floor (medians)."""

    cli: float
    floor: float
    size: int  # bytes of the request file


def time_cli(repeat: int = 3, unit: bool = False) -> CliTiming:
    """Time ``datalocality plan`` on the large request against json.loads + validation."""
    request = build_instance("large", unit=unit)
    text = request.model_dump_json(by_alias=True, exclude_defaults=True)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "large.json"
        path.write_text(text, encoding="utf-8")
        cli, floor = [], []
        for _ in range(max(1, repeat)):
            start = time.perf_counter()
            subprocess.run(
                [sys.executable, "-m", "datalocality", "plan", str(path)],
                check=True,
                stdout=subprocess.DEVNULL,
            )
            cli.append(time.perf_counter() - start)
            start = time.perf_counter()
            PlacementRequest.model_validate(json.loads(path.read_text(encoding="utf-8")))
            floor.append(time.perf_counter() - start)
    return CliTiming(statistics.median(cli), statistics.median(floor), len(text))


def cli_table(timing: CliTiming) -> str:
    """The CLI row beside its floor."""
    return format_table(
        ["large request", "datalocality plan (end to end)", "json.loads + validate", "ratio"],
        [
            [
                f"{timing.size / 2**20:.1f} MiB JSON",
                format_seconds(timing.cli),
                format_seconds(timing.floor),
                format_ratio(timing.cli / timing.floor if timing.floor else None),
            ]
        ],
    )


def tenfold_child(unit: bool) -> dict[str, float]:
    """In the child: build the 10x instance, plan it, report seconds, ratio and peak RSS."""
    start = time.perf_counter()
    request = build_instance(tenfold_params(), unit=unit)
    built = time.perf_counter() - start
    start = time.perf_counter()
    result = plan(request)
    planned = time.perf_counter() - start
    totals = result.totals
    return {
        "built": built,
        "plan": planned,
        "cost": totals.cost,
        "bound": totals.lower_bound_cost,
        "peak_rss": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024.0,
    }


def time_tenfold(unit: bool) -> dict[str, float]:
    """Run :func:`tenfold_child` in a fresh interpreter and read its report."""
    code = (
        "import json, sys; from datalocality.bench_scale import tenfold_child; "
        f"print(json.dumps(tenfold_child({unit!r})))"
    )
    done = subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, text=True)
    report: dict[str, float] = json.loads(done.stdout.strip().splitlines()[-1])
    return report


def tenfold_table(rows: list[tuple[str, dict[str, float]]]) -> str:
    """The 10x rows: plan time, cost against the bound, peak memory."""
    body = [
        [
            sizes,
            format_seconds(r["plan"]),
            format_ratio(r["cost"] / r["bound"] if r["bound"] else None),
            f"{r['peak_rss'] / 2**30:.2f} GiB",
            format_seconds(r["built"]),
        ]
        for sizes, r in rows
    ]
    return format_table(
        ["10x sizes", "plan()", "cost/bound", "peak RSS", "(request built in)"], body
    )


def run_scale(write: Write, repeat: int, tenfold: bool) -> None:
    """Print the CLI row, then (if asked) the 10x rows."""
    write("CLI end to end on the large request (uneven sizes), beside the parse floor")
    write(cli_table(time_cli(repeat)))
    write("")
    if tenfold:
        shape = ", ".join(f"{k} {v:,}" for k, v in TENFOLD.items())
        write(f"10x instance ({shape}), planned in a child process")
        rows = [(s, time_tenfold(s == "unit")) for s in ("unit", "uneven")]
        write(tenfold_table(rows))
