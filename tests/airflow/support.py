"""Paths the Airflow tests share (kept out of conftest.py, which must be imported once)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

from datalocality_testcluster.view import Cluster, list_objects

REPO = Path(__file__).resolve().parents[2]
DAGS = REPO / "dags"
AIRFLOW = Path(sys.executable).with_name("airflow")


def airflow_cli_env(home: Path, **extra: str) -> dict[str, str]:
    """The environment of an ``airflow`` command with its own home: no example DAGs, and
    not unit-test mode (which the test process's own Airflow may have set)."""
    return {
        **os.environ,
        "AIRFLOW_HOME": str(home),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__CORE__UNIT_TEST_MODE": "False",
        **extra,
    }


def run_airflow(
    env: dict[str, str], *args: str, timeout: float = 300, check: bool = True
) -> subprocess.CompletedProcess[str]:
    """Run the ``airflow`` command; with ``check``, fail the test with its stderr's end."""
    done = subprocess.run(
        [str(AIRFLOW), *args], env=env, capture_output=True, text=True, timeout=timeout, check=False
    )
    if check:
        assert done.returncode == 0, done.stderr[-2000:]
    return done


def run_dag(dag_id: str, file: str) -> Any:
    """``dag.test()`` of one DAG of dags/ (it must live in the DAGs folder to be serialised)."""
    from airflow.dag_processing.dagbag import DagBag

    bag = DagBag(str(DAGS / file), safe_mode=False)
    assert bag.import_errors == {}
    run = bag.dags[dag_id].test()
    assert str(run.state).rsplit(".", 1)[-1].lower() == "success", run.state
    return run


def objects(cluster: Cluster, group: str, plural: str, task_id: str = "") -> list[dict[str, Any]]:
    """Objects of one kind in the cluster (read through its API), optionally of one task."""
    found = list_objects(cluster, group, plural)
    if not task_id:
        return found
    return [
        o
        for o in found
        if (o["metadata"].get("labels") or {}).get("datalocality.io/task-id") == task_id
    ]


def replica_pods(sandbox: Cluster, task_id: str) -> list[dict[str, Any]]:
    """The replica pods of a task, in replica order."""
    pods = objects(sandbox, "", "pods", task_id)
    return sorted(pods, key=lambda p: int(p["metadata"]["labels"]["datalocality.io/map-index"]))


def handed_chunks(pod: dict[str, Any]) -> list[str]:
    """The chunk list a replica pod was given in its environment."""
    env = {e["name"]: e.get("value") for e in pod["spec"]["containers"][0]["env"]}
    return str(env["DATALOCALITY_CHUNKS"]).split(",")
