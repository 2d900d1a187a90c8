"""Benchmark every placement strategy on synthetic instances, and optimal's latency scaling.

Per instance one table compares the strategies on bytes moved, cost against the lower
bound and optimal, locality mix, the data-locality-scheduler's weighted score and the
latency of ``plan()`` on the already built request (building is not timed).
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from datalocality.bench_scale import run_scale
from datalocality.model import PlacementPlan, PlacementRequest
from datalocality.placement import plan, strategy_names
from datalocality.report import (
    dls_score,
    error_brief,
    format_bytes,
    format_number,
    format_ratio,
    format_seconds,
    format_table,
    locality_mix,
    plural,
    ratio,
)
from datalocality.synthetic import FAMILY_NOTES, PRESETS, build_instance, family, preset

SIZES = ("unit", "uneven")
SCALING_CHUNKS = (10_000, 20_000, 40_000, 80_000)
SCALING_NODES = 500
Write = Callable[[str], None]


@dataclass(frozen=True)
class Outcome:
    """One strategy on one request: its plan (or error) and its planning latencies."""

    strategy: str
    plan: PlacementPlan | None = None
    error: BaseException | None = None
    latencies: tuple[float, ...] = ()

    @property
    def latency(self) -> float | None:
        """Median seconds of the timed runs (None if the strategy failed)."""
        return statistics.median(self.latencies) if self.latencies else None


@dataclass(frozen=True)
class BenchOptions:
    """What to run: instance names, size variants, repeats, and the scaling sweep."""

    instances: Sequence[str] = ("small", "medium", "large")
    sizes: Sequence[str] = SIZES
    repeat: int = 3
    budget: float = 10.0
    seed: int = 0
    strategies: Sequence[str] = field(default_factory=strategy_names)
    scaling: Sequence[int] = SCALING_CHUNKS
    scaling_strategy: str = "optimal"
    families: Sequence[str] = ()  # the CLI asks for every family of FAMILIES
    family_sizes: Sequence[str] = ("large",)
    cli: bool = False
    tenfold: bool = False


def time_plan(request: PlacementRequest, strategy: str, repeat: int, budget: float) -> Outcome:
    """Run ``plan()`` up to ``repeat`` times, fewer once ``budget`` seconds are spent."""
    latencies: list[float] = []
    result: PlacementPlan | None = None
    spent = 0.0
    for _ in range(max(1, repeat)):
        result = None  # the last plan is freed before the clock starts, not inside plan()
        start = time.perf_counter()
        try:
            result = plan(request, strategy)
        except Exception as exc:  # a broken strategy is a row, not a crashed run
            return Outcome(strategy, error=exc)
        elapsed = time.perf_counter() - start
        latencies.append(elapsed)
        spent += elapsed
        if spent >= budget:
            break
    return Outcome(strategy, plan=result, latencies=tuple(latencies))


def describe(name: str, size: str, request: PlacementRequest, built: float) -> str:
    """A one-line title: the instance's shape and how long it took to build."""
    nodes = request.topology.nodes
    zones = len({n.zone_key for n in nodes})
    regions = len({n.region_key for n in nodes})
    clusters = len({n.cluster for n in nodes})
    return (
        f"{name} / {size} sizes: {len(request.chunks)} chunks "
        f"({format_bytes(request.total_bytes)}), {len(nodes)} nodes in {plural(zones, 'zone')}, "
        f"{plural(regions, 'region')}, {plural(clusters, 'cluster')}; "
        f"{request.consumer.replicas} replicas (built in {format_seconds(built)})"
    )


def instance_table(outcomes: Sequence[Outcome], reference: str = "optimal") -> str:
    """Strategies side by side; moved-bytes ratio against the ``reference`` strategy."""
    best = next((o.plan for o in outcomes if o.strategy == reference and o.plan), None)
    headers = [
        "strategy",
        "moved",
        "cost (s)",
        "cost/bound",
        f"moved/{reference}",
        "node",
        "zone",
        "region",
        "farther",
        "DLS score",
        "plan()",
        "runs",
    ]
    rows: list[list[str]] = []
    for outcome in outcomes:
        if outcome.plan is None:
            error = outcome.error or RuntimeError("no plan")
            rows.append([outcome.strategy, f"error: {error_brief(error)}"])
            continue
        totals = outcome.plan.totals
        vs_best = ratio(totals.moved_bytes, best.totals.moved_bytes) if best else None
        latency = outcome.latency
        rows.append(
            [
                outcome.strategy,
                format_bytes(totals.moved_bytes),
                format_number(totals.cost),
                format_ratio(ratio(totals.cost, totals.lower_bound_cost)),
                format_ratio(vs_best) if best else "-",
                *(f"{share:.1%}" for share in locality_mix(totals)),
                f"{dls_score(totals):.3f}",
                format_seconds(latency) if latency is not None else "-",
                str(len(outcome.latencies)),
            ]
        )
    return format_table(headers, rows)


def scaling_table(points: Sequence[tuple[int, int, int, Outcome]]) -> str:
    """Latency per chunk count, with latency/chunk normalised to the first row."""
    headers = ["chunks", "nodes", "replicas", "plan()", "per chunk", "normalised"]
    rows: list[list[str]] = []
    first: float | None = None
    for chunks, nodes, replicas, outcome in points:
        latency = outcome.latency
        if latency is None:
            error = outcome.error or RuntimeError("no plan")
            rows.append([str(chunks), f"error: {error_brief(error)}"])
            continue
        per_chunk = latency / chunks
        first = per_chunk if first is None else first
        rows.append(
            [
                str(chunks),
                str(nodes),
                str(replicas),
                format_seconds(latency),
                format_seconds(per_chunk),
                f"{per_chunk / first:.2f}",
            ]
        )
    return format_table(headers, rows, left=0)


def family_table(rows: Sequence[tuple[str, str, Sequence[Outcome]]]) -> str:
    """Per family and size: cost/bound and plan() latency of every strategy, side by side."""
    strategies = [o.strategy for o in rows[0][2]] if rows else []
    headers = ["family", "sizes", *strategies]
    body: list[list[str]] = []
    for name, sizes, outcomes in rows:
        cells = []
        for outcome in outcomes:
            if outcome.plan is None or outcome.latency is None:
                cells.append("error")
                continue
            totals = outcome.plan.totals
            exact = totals.cost <= totals.lower_bound_cost  # also when both are 0
            quality = "1.00" if exact else format_ratio(ratio(totals.cost, totals.lower_bound_cost))
            cells.append(f"{quality} {format_seconds(outcome.latency)}")
        body.append([name, sizes, *cells])
    return format_table(headers, body, left=2)


def run_families(options: BenchOptions, write: Write) -> None:
    """The family table: each family at each size, unit and uneven."""
    for size in options.family_sizes:
        write(
            f"instance families at {size} size: cost/bound and median plan() per strategy "
            "(" + "; ".join(f"{n}: {FAMILY_NOTES[n]}" for n in options.families) + ")"
        )
        rows = []
        for name in options.families:
            for sizes in options.sizes:
                request = build_instance(family(name, size), options.seed, sizes == "unit")
                outcomes = [
                    time_plan(request, strategy, options.repeat, options.budget)
                    for strategy in options.strategies
                ]
                rows.append((name, sizes, outcomes))
        write(family_table(rows))
        write("")


def run(options: BenchOptions, write: Write) -> None:
    """Run the benchmark, writing each table as soon as it is ready."""
    for name in options.instances:
        for size in options.sizes:
            start = time.perf_counter()
            request = build_instance(name, seed=options.seed, unit=size == "unit")
            built = time.perf_counter() - start
            write(describe(name, size, request, built))
            outcomes = [
                time_plan(request, strategy, options.repeat, options.budget)
                for strategy in options.strategies
            ]
            write(instance_table(outcomes, reference=options.scaling_strategy))
            write("")
    if options.scaling:
        base = PRESETS["medium"]
        write(
            f"latency scaling of {options.scaling_strategy} at {SCALING_NODES} nodes, "
            f"{base.replicas} replicas, unit sizes "
            "(normalised = latency per chunk / first row's; ~1 means linear)"
        )
        points: list[tuple[int, int, int, Outcome]] = []
        for chunks in options.scaling:
            params = preset("medium", name=f"scaling-{chunks}", chunks=chunks, nodes=SCALING_NODES)
            request = build_instance(params, seed=options.seed)
            outcome = time_plan(request, options.scaling_strategy, options.repeat, options.budget)
            points.append((chunks, SCALING_NODES, params.replicas, outcome))
        write(scaling_table(points))
        write("")
    if options.families:
        run_families(options, write)
    if options.cli or options.tenfold:
        run_scale(write, options.repeat, options.tenfold)
