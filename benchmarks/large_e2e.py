"""Issue #16 at scale on the real control plane: ``python benchmarks/large_e2e.py``.

Starts etcd, kube-apiserver, scheduler and controller-manager with kwok's kubelets,
publishes the 100,000-file table of tests/airflow/large_source.py, runs dags/large_read.py
(100 replicas) with ``dag.test()`` in a scratch Airflow home on SQLite, and prints the
plan task's wall time with the steps inside it, the objects written and the XCom sizes.
"""

from __future__ import annotations

import argparse
import functools
import os
import sys
import time
from collections import defaultdict
from collections.abc import Callable
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
# The plan task's steps, by the names datalocality.operators.plan calls them under, in order.
STEPS = (
    "apply_binding",
    "fetch_topology",
    "plan",
    "build_chunk_lists",
    "build_replica_entries",
    "build_plan_xcoms",
    "put_chunk_lists",
)
STEP_LABELS = {
    "bind_inputs": "resolve + claim + bind (bind_inputs)",
    "apply_binding": "  of which apply_binding (reads the slices)",
    "fetch_topology": "fetch_topology (nodes, pods)",
    "plan": "plan() optimal",
    "baseline": "plan() spread baseline",
    "build_chunk_lists": "build_chunk_lists",
    "build_replica_entries": "build_replica_entries",
    "build_plan_xcoms": "build_plan_xcoms (summary, baseline, layout)",
    "put_chunk_lists": "put_chunk_lists (write ConfigMaps)",
}


def _timed(step: Callable[..., Any], record: Callable[[float], None]) -> Callable[..., Any]:
    """``step``, adding each call's seconds through ``record``."""

    @functools.wraps(step)
    def timed(*args: Any, **kwargs: Any) -> Any:
        start = time.perf_counter()
        try:
            return step(*args, **kwargs)
        finally:
            record(time.perf_counter() - start)

    return timed


def time_plan_steps() -> dict[str, list[float]]:
    """Wrap the plan task's steps (in-process under ``dag.test()``); each call's seconds."""
    from datalocality.operators import plan as module  # noqa: PLC0415 (imports Airflow: after its home is set)

    spent: dict[str, list[float]] = defaultdict(list)
    for name in STEPS:
        setattr(module, name, _timed(getattr(module, name), spent[name].append))
    operator = module.DataLocalityPlanOperator
    operator.bind_inputs = _timed(operator.bind_inputs, spent["bind_inputs"].append)  # type: ignore[method-assign]
    return spent


def measure(files: int) -> dict[str, Any]:
    """Publish the table, run the DAG once on the real control plane, and measure."""
    # Imported here: tests/ is importable once main() put the repository on sys.path.
    from datalocality_testcluster.clusters import start_cluster  # noqa: PLC0415
    from tests.airflow.large_source import (  # noqa: PLC0415
        DAG_FILE,
        DAG_ID,
        GROUP,
        json_size,
        load_dag,
        publish_table,
        run_xcoms,
        table_files,
        table_input,
        task_of,
    )
    from tests.airflow.support import objects, run_dag  # noqa: PLC0415

    spent = time_plan_steps()
    chunks = table_files(files)
    with start_cluster("kube") as cluster:
        os.environ["DATALOCALITY_KUBECONFIG"] = str(cluster.kubeconfig_path)
        table = table_input(load_dag())
        start = time.perf_counter()
        with cluster.api_client() as api:
            publish_table(api, table, chunks)
        published = time.perf_counter() - start
        start = time.perf_counter()
        run = run_dag(DAG_ID, DAG_FILE)
        whole = time.perf_counter() - start
        xcoms = run_xcoms(run.run_id)
        plan_ti = next(t for t in run.get_task_instances() if t.task_id == f"{GROUP}.plan")
        stored = {
            "DataSourceSlice": objects(cluster, "datalocality.io", "datasourceslices"),
            "DataSource": objects(cluster, "datalocality.io", "datasources"),
            "DataSourceClaim": objects(cluster, "datalocality.io", "datasourceclaims"),
            "ConfigMap": [
                c for c in objects(cluster, "", "configmaps") if task_of(c) == f"{GROUP}.plan"
            ],
            "Pod": objects(cluster, "", "pods", f"{GROUP}.replica"),
        }
        assert cluster.errors == [], cluster.errors
    sizes = {kind: [(json_size(o), o["metadata"]["name"]) for o in v] for kind, v in stored.items()}
    plans = spent.pop("plan")
    return {
        "files": files,
        "replicas": len(stored["Pod"]),
        "state": str(run.state).rsplit(".", 1)[-1].lower(),
        "published": published,
        "dag": whole,
        "plan_task": (plan_ti.end_date - plan_ti.start_date).total_seconds(),
        "steps": {"plan": plans[:1], "baseline": plans[1:], **spent},
        "sizes": sizes,
        "summary": json_size(xcoms[(f"{GROUP}.plan", "plan", -1)]),
        "entry": max(json_size(e) for e in xcoms[(f"{GROUP}.plan", "return_value", -1)]),
    }


def report(result: dict[str, Any]) -> str:
    """The measured run as a two-column table."""
    sizes: dict[str, list[tuple[int, str]]] = result["sizes"]
    steps: dict[str, list[float]] = result["steps"]
    biggest_kind, (biggest, biggest_name) = max(
        ((kind, max(v)) for kind, v in sizes.items() if v), key=lambda kv: kv[1][0]
    )

    def objects_row(kind: str) -> str:
        found = sizes[kind]
        total = sum(s for s, _ in found)
        return f"{len(found)}, {total / 2**20:.2f} MiB, largest {max(found)[0] / 1024:.0f} KiB"

    rows = [
        ("run", f"{result['files']:,} files x {result['replicas']} replicas: {result['state']}"),
        ("publish DataSource + slices", f"{result['published']:.2f} s"),
        ("whole DAG (dag.test)", f"{result['dag']:.1f} s"),
        ("plan task wall time", f"{result['plan_task']:.2f} s"),
        *(
            (f"  {label}", f"{sum(steps[name]):.2f} s")
            for name, label in STEP_LABELS.items()
            if steps.get(name)
        ),
        ("DataSourceSlices", objects_row("DataSourceSlice")),
        ("chunk-list ConfigMaps", objects_row("ConfigMap")),
        ("DataSource", objects_row("DataSource")),
        ("replica pods", objects_row("Pod")),
        ("biggest object", f"{biggest_kind} {biggest_name}: {biggest:,} bytes"),
        ("plan summary XCom", f"{result['summary']:,} bytes"),
        ("largest mapped entry", f"{result['entry']:,} bytes"),
    ]
    width = max(len(k) for k, _ in rows)
    return "\n".join(f"{k.ljust(width)}  {v}" for k, v in rows)


def main() -> int:
    """Parse the options, measure once, print the table."""
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--files", type=int, default=100_000)
    args = parser.parse_args()
    sys.path.insert(0, str(REPO))
    from tests.airflow.support import scratch_airflow_home  # noqa: PLC0415

    with scratch_airflow_home():
        result = measure(args.files)
    print(report(result))
    return 0 if result["state"] == "success" else 1


if __name__ == "__main__":
    raise SystemExit(main())
