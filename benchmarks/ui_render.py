"""Issue #11's target in a real browser: ``python benchmarks/ui_render.py`` (``make bench-ui``).

Runs ``chunk_pipeline`` on the embedded cluster with ``dag.test()`` in a scratch Airflow
home on SQLite, starts ``airflow api-server`` on it and Debian's chromium through
Playwright, logged in as a user. Then, for each shape, plans a synthetic instance
(:mod:`datalocality.synthetic`) with the plan task's own strategies, stores the XComs the
plan task would push (:func:`~datalocality.operators.placement_view.build_plan_xcoms`)
as that run's ``sessionize.plan`` XComs, and opens its Placement tab several times. A
script installed before the page's own records when the view has drawn its header, the
topology and the first replica rows; the plugin bundle's and the API answer's timings
come from the browser's resource timing. Each opening checks that the view shows the
plan's chunk count. Exits non-zero when the plugin took 2 s or more on any opening.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

REPO = Path(__file__).resolve().parents[1]
DAG_ID, DAG_FILE, GROUP = "chunk_pipeline", "chunk_pipeline.py", "sessionize"
TARGET_S = 2.0  # issue #11: 1,000 replicas and 100,000 chunks drawn in under 2 s

if TYPE_CHECKING:
    from playwright.sync_api import BrowserContext

    from datalocality.synthetic import InstanceParams

# Installed before the page's scripts: the moment the Placement view has drawn its data.
DRAWN_PROBE = """
(() => {
  const drawn = () =>
    document.querySelector("[data-testid=total-chunks]") &&
    document.querySelector("[data-testid=topology], [data-testid=topology-empty]") &&
    document.querySelector("[data-testid=replica-row]");
  new MutationObserver((_, observer) => {
    if (window.__drawnAt === undefined && drawn()) {
      window.__drawnAt = performance.now();
      observer.disconnect();
    }
  }).observe(document, { childList: true, subtree: true });
})();
"""
TIMINGS = """
() => {
  const api = performance.getEntriesByType("resource")
    .filter((e) => e.name.includes("/datalocality/api/placement"))
    .pop();
  const bundle = performance.getEntriesByType("resource")
    .filter((e) => e.name.includes("datalocality.js"))
    .pop();
  return {
    drawn: window.__drawnAt ?? null,
    bundle_start: bundle ? bundle.startTime : null,
    api_start: api ? api.requestStart : null,
    api_end: api ? api.responseEnd : null,
    api_bytes: api ? api.decodedBodySize : null,
  };
}
"""


LEGEND = (
    "API ms: the browser's request for /datalocality/api/placement until its last byte;",
    "data->drawn ms: from that last byte until the header, topology and replica rows are drawn;",
    "plugin ms: from the browser's request for the plugin's bundle until drawn (all of ours);",
    "page ms: from navigation, the Airflow UI's own page (its bundles, auth, task instance) first;",
    "medians and maxima of the openings of each view; 'max / 2 s' is the plugin's slowest.",
)


@dataclass(frozen=True)
class Shape:
    """One instance the view is opened on: a label and the synthetic generator's shape."""

    label: str
    params: InstanceParams


def shapes() -> list[Shape]:
    """From the example's size up to the issue's target, in several layouts."""
    from datalocality.synthetic import family  # noqa: PLC0415 (after sys.path is set)

    return [
        Shape("small (hot)", family("hot", "small")),
        Shape("medium (hot)", family("hot", "medium")),
        Shape("large (hot): zones drawn", family("hot", "large")),
        Shape("large on 300 nodes: nodes drawn", family("uniform", "large", nodes=300)),
        Shape("large, 4 clusters", family("multi-cluster", "large")),
        Shape("large, HDFS 3 copies", family("hdfs", "large")),
    ]


def build_xcoms(params: InstanceParams, run_id: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """The plan task's XComs for one synthetic instance, and figures about them."""
    from datalocality.kube.chunk_lists import build_chunk_lists  # noqa: PLC0415
    from datalocality.kube.names import TaskKey  # noqa: PLC0415
    from datalocality.operators.placement_view import build_plan_xcoms  # noqa: PLC0415
    from datalocality.placement import plan  # noqa: PLC0415
    from datalocality.synthetic import build_instance  # noqa: PLC0415

    request = build_instance(params)
    start = time.perf_counter()
    chosen = plan(request, "optimal")
    planned = time.perf_counter() - start
    baseline = plan(request, "spread")
    task = TaskKey(dag_id=DAG_ID, run_id=run_id, task_id=f"{GROUP}.plan")
    lists = build_chunk_lists(chosen, task=task, namespace="default")
    xcoms = build_plan_xcoms(chosen, lists, baseline, request.topology, request.sources)
    layout = xcoms["layout"]
    figures = {
        "replicas": len(chosen.replicas),
        "chunks": xcoms["plan"]["totals"]["chunks"],
        "nodes": len(request.topology.nodes),
        "drawn_nodes": len(layout["nodes"]),
        "plan_s": planned,
        "xcom_bytes": sum(len(json.dumps(v)) for v in xcoms.values()),
    }
    return xcoms, figures


def store_xcoms(run_id: str, xcoms: dict[str, Any]) -> None:
    """Replace the run's plan task XComs with ``xcoms`` (what the task itself would push)."""
    from airflow.models.xcom import XComModel  # noqa: PLC0415

    for key, value in xcoms.items():
        XComModel.set(key, value, dag_id=DAG_ID, task_id=f"{GROUP}.plan", run_id=run_id)


def open_timed(context: BrowserContext, path: str, chunks: int) -> dict[str, float]:
    """Open the view once in a new tab; milliseconds from navigation to drawn, and the
    API's share. Fails when the view shows another chunk count than the plan's."""
    from tests.airflow.ui.browser import PLACEMENT_READY, open_view  # noqa: PLC0415

    page = context.new_page()
    try:
        page.add_init_script(DRAWN_PROBE)
        open_view(page, path, PLACEMENT_READY)
        page.wait_for_function("() => window.__drawnAt !== undefined")
        shown = page.locator("[data-testid=total-chunks]").inner_text()
        if shown.replace(",", "") != str(chunks):
            raise AssertionError(f"{path} shows {shown} chunks, the plan has {chunks}")
        t = page.evaluate(TIMINGS)
    finally:
        page.close()
    return {
        "drawn": t["drawn"],
        "plugin": t["drawn"] - t["bundle_start"],
        "api": t["api_end"] - t["api_start"],
        "after_data": t["drawn"] - t["api_end"],
        "api_bytes": t["api_bytes"],
    }


def measure(runs: int) -> list[dict[str, Any]]:
    """Record the run, start the server and the browser, and time every shape."""
    from datalocality_testcluster.clusters import start_cluster  # noqa: PLC0415
    from tests.airflow.support import run_dag  # noqa: PLC0415
    from tests.airflow.ui.browser import logged_in_context, placement_path  # noqa: PLC0415
    from tests.airflow.ui.server import PASSWORD, USERNAME, run_api_server  # noqa: PLC0415

    results = []
    with start_cluster("sandbox") as cluster, tempfile.TemporaryDirectory() as logs:
        os.environ["DATALOCALITY_KUBECONFIG"] = str(cluster.kubeconfig_path)
        run_id = run_dag(DAG_ID, DAG_FILE).run_id
        gc.collect()
        env = {k: v for k, v in os.environ.items() if k.startswith("AIRFLOW")}
        with (
            run_api_server(env, cluster.kubeconfig_path, Path(logs)) as server,
            logged_in_context(server.base_url, USERNAME, PASSWORD) as context,
        ):
            views = {
                "plan task": placement_path(DAG_ID, run_id, f"{GROUP}.plan"),
                "replica 0": placement_path(DAG_ID, run_id, f"{GROUP}.replica", 0),
            }
            for shape in shapes():
                xcoms, figures = build_xcoms(shape.params, run_id)
                store_xcoms(run_id, xcoms)
                for view, path in views.items():
                    timed = [open_timed(context, path, figures["chunks"]) for _ in range(runs)]
                    results.append({"shape": shape.label, "view": view, **figures, "runs": timed})
        assert cluster.errors == [], cluster.errors
    return results


def report(results: list[dict[str, Any]]) -> str:
    """One row per shape and view: medians of the openings, the slowest, and the target."""
    head = (
        "shape", "view", "replicas", "chunks", "nodes (drawn)", "API answer",
        "API ms", "data->drawn ms", "plugin ms (median / max)", "max / 2 s",
        "page ms (median / max)",
    )  # fmt: skip
    rows = [head]
    for r in results:
        drawn = [t["drawn"] for t in r["runs"]]
        plugin = [t["plugin"] for t in r["runs"]]
        rows.append(
            (
                r["shape"],
                r["view"],
                f"{r['replicas']:,}",
                f"{r['chunks']:,}",
                f"{r['nodes']:,} ({r['drawn_nodes']:,})",
                f"{r['runs'][0]['api_bytes'] / 1024:,.0f} KiB",
                f"{statistics.median(t['api'] for t in r['runs']):,.0f}",
                f"{statistics.median(t['after_data'] for t in r['runs']):,.0f}",
                f"{statistics.median(plugin):,.0f} / {max(plugin):,.0f}",
                f"{max(plugin) / 1000 / TARGET_S:.2f}",
                f"{statistics.median(drawn):,.0f} / {max(drawn):,.0f}",
            )
        )
    widths = [max(len(row[i]) for row in rows) for i in range(len(head))]
    lines = ["  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)) for row in rows]
    return "\n".join([*lines, "", *LEGEND])


def main() -> int:
    """Parse the options, measure, print the table; non-zero when a view missed 2 s."""
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--runs", type=int, default=5, help="openings of each view per shape")
    args = parser.parse_args()
    sys.path.insert(0, str(REPO))
    from tests.airflow.support import scratch_airflow_home  # noqa: PLC0415

    sys.stdout.flush()
    table = os.dup(1)
    os.dup2(2, 1)  # Airflow's task logs go to stdout: to stderr while measuring
    try:
        with scratch_airflow_home():
            results = measure(args.runs)
    finally:
        sys.stdout.flush()
        os.dup2(table, 1)
    print(report(results))
    slowest = max(t["plugin"] for r in results for t in r["runs"])
    print(f"slowest view, from the plugin's bundle to drawn: {slowest / 1000:.2f} s (target 2 s)")
    return 0 if slowest / 1000 < TARGET_S else 1


if __name__ == "__main__":
    raise SystemExit(main())
