"""``make demo`` (``datalocality-cluster demo``): example 1 run by Airflow against a
cluster, then a report.

1. start the cluster with the demo inventory and our CRDs: the embedded Kubernetes API
   emulator by default (threads of this process; it runs no containers), or with
   ``--cluster kube`` the real control plane (kwok's kubelets run no containers either);
2. ``airflow db migrate`` on SQLite in a temporary AIRFLOW_HOME;
3. ``airflow dags test chunk_pipeline`` (dags/chunk_pipeline.py) with
   ``DATALOCALITY_KUBECONFIG`` pointing at the emulator;
4. print, per replica, the node the plan chose and the node the pod was bound to, the
   local and moved bytes, and what a locality-blind placement (``spread``, as the
   kube-scheduler scores) would have moved — read from the run's XComs and the cluster.

Everything is stopped and removed at the end, whatever happens; the Airflow log is
shown when a step fails.
"""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from datalocality.operators.access import KUBECONFIG_ENV
from datalocality.operators.plan_report import build_plan_report
from datalocality_testcluster.clusters import Kind, start_cluster
from datalocality_testcluster.view import list_objects

DAG_ID = "chunk_pipeline"
PLAN_TASK = "sessionize.plan"
REPLICA_TASK = "sessionize.replica"
STEP_TIMEOUT = 600.0
Say = Callable[[str], None]


class DemoError(Exception):
    """A step of the demo failed; the message says which and how."""


def dags_folder() -> Path:
    """The repository's dags/ (the demo runs from a checkout, as ``make demo`` does)."""
    folder = Path(__file__).resolve().parents[3] / "dags"
    if not (folder / f"{DAG_ID}.py").is_file():
        raise DemoError(f"{folder / DAG_ID}.py not found: run the demo from a checkout")
    return folder


def airflow_env(home: Path, kubeconfig: Path) -> dict[str, str]:
    """The environment of the Airflow commands: a private home, SQLite, our DAGs only."""
    return {
        **os.environ,
        "AIRFLOW_HOME": str(home),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__CORE__DAGS_FOLDER": str(dags_folder()),
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{home / 'airflow.db'}",
        "AIRFLOW__LOGGING__LOGGING_LEVEL": "INFO",
        KUBECONFIG_ENV: str(kubeconfig),
        "PYTHONWARNINGS": "ignore",
    }


def run_step(name: str, args: list[str], env: Mapping[str, str], log: Path, say: Say) -> None:
    """Run one Airflow command, its output appended to ``log``; DemoError if it fails."""
    airflow = Path(sys.executable).with_name("airflow")
    start = time.monotonic()
    with log.open("a", encoding="utf-8") as out:
        out.write(f"\n$ airflow {' '.join(args)}\n")
        out.flush()
        try:
            code = subprocess.run(
                [str(airflow), *args],
                env=dict(env),
                stdout=out,
                stderr=subprocess.STDOUT,
                timeout=STEP_TIMEOUT,
                check=False,
            ).returncode
        except subprocess.TimeoutExpired:
            code = -1
    if code != 0:
        tail = "\n".join(log.read_text(encoding="utf-8").splitlines()[-40:])
        raise DemoError(f"{name} failed (exit {code}); end of the Airflow log:\n{tail}")
    say(f"  {name}: done in {time.monotonic() - start:.1f} s")


def fetch_xcoms(database: Path, task_id: str) -> dict[str, Any]:
    """The XComs one task of the demo run pushed, by key (values are JSON in SQLite)."""
    with sqlite3.connect(database) as db:
        rows = db.execute(
            "SELECT key, value FROM xcom WHERE dag_id = ? AND task_id = ? AND map_index = -1",
            (DAG_ID, task_id),
        ).fetchall()
    return {str(key): json.loads(value) for key, value in rows}


def bound_nodes(database: Path) -> dict[int, str]:
    """Replica index -> the node its pod was bound to, as each replica task recorded it
    (XCom ``node``: it outlives the pod)."""
    with sqlite3.connect(database) as db:
        rows = db.execute(
            "SELECT map_index, value FROM xcom WHERE dag_id = ? AND task_id = ? AND key = ?",
            (DAG_ID, REPLICA_TASK, "node"),
        ).fetchall()
    return {int(index): str(json.loads(value)) for index, value in rows}


CLUSTERS = {
    "sandbox": "the embedded Kubernetes API emulator (it runs no containers)",
    "kube": "a real control plane: etcd, kube-apiserver, kube-scheduler, "
    "kube-controller-manager; kwok's kubelets run no containers",
}


def run_demo(say: Say = print, kind: Kind = "sandbox", run_seconds: float = 0.5) -> int:
    """The whole demo; returns 0, or raises DemoError naming the failed step."""
    with tempfile.TemporaryDirectory(prefix="datalocality-demo-") as tmp:
        home = Path(tmp) / "airflow"
        home.mkdir()
        log = Path(tmp) / "airflow.log"
        say(f"starting {CLUSTERS[kind]}")
        with start_cluster(kind, run_seconds=run_seconds) as cluster:
            nodes = [n["metadata"]["name"] for n in list_objects(cluster, "", "nodes")]
            say(f"  {len(nodes)} nodes: {', '.join(nodes)}")
            env = airflow_env(home, cluster.kubeconfig_path)
            say(f"initialising Airflow on SQLite in {home}")
            run_step("airflow db migrate", ["db", "migrate"], env, log, say)
            say(f"running example 1 with `airflow dags test {DAG_ID}`")
            run_step(f"airflow dags test {DAG_ID}", ["dags", "test", DAG_ID], env, log, say)
            xcoms = fetch_xcoms(home / "airflow.db", PLAN_TASK)
            if "plan" not in xcoms:
                raise DemoError(f"the run left no plan in XCom ({PLAN_TASK})")
            bound = bound_nodes(home / "airflow.db")
            if cluster.errors:
                raise DemoError("the cluster reported errors:\n" + cluster.errors[0])
        say("")
        say(f"{DAG_ID}: sessionize, 3 replicas, reading the 12 parts extract wrote")
        say(build_plan_report(xcoms["plan"], xcoms.get("baseline") or {}, bound))
        say("\nthe cluster is stopped and the temporary Airflow home removed.")
    return 0
