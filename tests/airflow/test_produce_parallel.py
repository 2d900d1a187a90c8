"""Producer replicas under Airflow's real scheduler, on the real Kubernetes control plane.

``dag.test()`` runs one task instance at a time and each deferred task's trigger in line
(``airflow/sdk/definitions/dag.py``: its loop calls ``_run_task(..., run_triggerer=True)``
per scheduled instance), so it cannot show producers running together. Here Airflow runs
as in production, each component its own process on one SQLite database: api-server
(the execution API the workers report to), dag-processor, scheduler (LocalExecutor, 8
slots) and triggerer. The DAGs are written by the test into its own DAGs folder.

* ``parallel_producers``: ``produce_chunks`` with 4 deferrable replicas whose pods run
  30 s each. All four defer to KubernetesPodTrigger, the triggerer runs their triggers
  together, and the pods' lifetimes overlap: the last one started before the first one
  finished, as did the task instances. The collector's source has every replica's chunk
  on the node its pod was bound to.
* ``retried_producer``: replica 1's pod exits 1 on its first try and reports a chunk of
  that try; the retry succeeds and reports another. The collector's DataSource (in
  Kubernetes and in its return value) has the retry's chunk, not the first try's.
"""

from __future__ import annotations

import json
import socket
import sqlite3
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from datalocality.kube.names import LABEL_REPLICA
from datalocality_testcluster.clusters import ProviderCluster, start_cluster
from datalocality_testcluster.view import list_objects
from tests.airflow.support import AIRFLOW, airflow_cli_env, run_airflow, source_locations

REPLICAS = 4
RUN_SECONDS = 30  # how long each producer pod runs (kwok: from its creation)
RUN_TIMEOUT = 420.0
SERVICES = ("api-server", "dag-processor", "scheduler", "triggerer")

DAG_FILE = """
import json
from datetime import timedelta

from airflow.sdk import DAG

from datalocality.operators import cluster_access, produce_chunks

PREFIX = "sandbox.datalocality.io/"


def report(chunk_id: str) -> str:
    return json.dumps({"chunks": [{"id": chunk_id, "size": 1024}]})


with DAG("parallel_producers", schedule=None, catchup=False):
    produce_chunks(
        task_id="extract",
        image="etl:1",
        replicas=%(replicas)d,
        replica_overrides=[
            {"annotations": {PREFIX + "xcom": report(f"part-{i}")}} for i in range(%(replicas)d)
        ],
        annotations={PREFIX + "run-seconds": "%(run_seconds)d"},
        deferrable=True,
        poll_interval=1,
        on_finish_action="keep_pod",
        startup_check_interval_seconds=1,
        **cluster_access(),
    )

with DAG("retried_producer", schedule=None, catchup=False):
    produce_chunks(
        task_id="extract",
        image="etl:1",
        replicas=2,
        annotations={
            # replica 1 fails its first try; every try reports a chunk named after it
            PREFIX + "exit-code": "{{ 1 if ti.map_index == 1 and ti.try_number == 1 else 0 }}",
            PREFIX + "xcom": report("part-{{ ti.map_index }}-try{{ ti.try_number }}"),
        },
        retries=1,
        retry_delay=timedelta(seconds=1),
        on_finish_action="keep_pod",
        startup_check_interval_seconds=1,
        **cluster_access(),
    )
"""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class Airflow:
    """A running Airflow: its environment, database and the components' output files."""

    env: dict[str, str]
    home: Path
    logs: dict[str, Path]

    def query(self, sql: str, *args: Any) -> list[tuple[Any, ...]]:
        with sqlite3.connect(self.home / "airflow.db", timeout=30) as db:
            return db.execute(sql, args).fetchall()

    def run(self, dag_id: str) -> str:
        """Trigger ``dag_id`` once it is parsed; wait for the run to finish; its run id."""
        deadline = time.monotonic() + 120
        while not self.query("SELECT 1 FROM dag WHERE dag_id = ? AND NOT is_paused", dag_id):
            assert time.monotonic() < deadline, f"{dag_id} never parsed\n{self.tail()}"
            time.sleep(1)
        run_id = f"manual__{dag_id}"
        run_airflow(self.env, "dags", "trigger", dag_id, "--run-id", run_id)
        deadline = time.monotonic() + RUN_TIMEOUT
        while True:
            (state,) = self.query(
                "SELECT state FROM dag_run WHERE dag_id = ? AND run_id = ?", dag_id, run_id
            )[0]
            if state in {"success", "failed"}:
                assert state == "success", self.task_states(dag_id) + self.tail()
                return run_id
            if time.monotonic() > deadline:
                pytest.fail(f"{dag_id} still {state}: {self.task_states(dag_id)}\n{self.tail()}")
            time.sleep(2)

    def task_states(self, dag_id: str) -> str:
        rows = self.query(
            "SELECT task_id, map_index, state, try_number FROM task_instance WHERE dag_id = ?",
            dag_id,
        )
        return f"{rows}\n"

    def tail(self) -> str:
        return "\n".join(
            f"--- {name}\n" + "\n".join(path.read_text(errors="replace").splitlines()[-30:])
            for name, path in self.logs.items()
        )

    def xcom(self, dag_id: str, run_id: str, task_id: str, key: str = "return_value") -> Any:
        rows = self.query(
            "SELECT map_index, value FROM xcom WHERE dag_id = ? AND run_id = ? AND task_id = ?"
            " AND key = ?",
            dag_id,
            run_id,
            task_id,
            key,
        )
        return {index: json.loads(value) for index, value in rows}


@pytest.fixture(scope="module")
def kube() -> Iterator[ProviderCluster]:
    """The real control plane (etcd, apiserver, scheduler, controllers, kwok's kubelets)."""
    with start_cluster("kube") as running:
        yield running
        assert running.errors == []


@pytest.fixture(scope="module")
def airflow(kube: ProviderCluster, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Airflow]:
    """api-server, dag-processor, scheduler (LocalExecutor) and triggerer on one database."""
    root = tmp_path_factory.mktemp("airflow-services")
    home, dags = root / "home", root / "dags"
    home.mkdir()
    dags.mkdir()
    (dags / "producers.py").write_text(
        DAG_FILE % {"replicas": REPLICAS, "run_seconds": RUN_SECONDS}
    )
    port = free_port()
    env = airflow_cli_env(
        home,
        AIRFLOW__CORE__DAGS_FOLDER=str(dags),
        AIRFLOW__DATABASE__SQL_ALCHEMY_CONN=f"sqlite:///{home / 'airflow.db'}",
        AIRFLOW__CORE__EXECUTOR="LocalExecutor",
        AIRFLOW__CORE__PARALLELISM="8",
        AIRFLOW__CORE__EXECUTION_API_SERVER_URL=f"http://127.0.0.1:{port}/execution/",
        AIRFLOW__API_AUTH__JWT_SECRET="datalocality-test-secret",
        AIRFLOW__CORE__DAGS_ARE_PAUSED_AT_CREATION="False",
        AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_ALL_ADMINS="True",
        AIRFLOW__DAG_PROCESSOR__REFRESH_INTERVAL="5",
        AIRFLOW__SCHEDULER__TASK_QUEUED_TIMEOUT="300",
        DATALOCALITY_KUBECONFIG=str(kube.kubeconfig_path),
        PYTHONWARNINGS="ignore",
    )
    env["PATH"] = f"{AIRFLOW.parent}:{env.get('PATH', '')}"
    run_airflow(env, "db", "migrate")
    logs = {name: root / f"{name}.log" for name in SERVICES}
    processes: list[subprocess.Popen[bytes]] = []
    try:
        for name in SERVICES:
            args = (
                ["api-server", "-H", "127.0.0.1", "-p", str(port)]
                if name == "api-server"
                else [name]
            )
            with logs[name].open("wb") as out:
                processes.append(
                    subprocess.Popen(
                        [str(AIRFLOW), *args], env=env, stdout=out, stderr=subprocess.STDOUT
                    )
                )
        yield Airflow(env, home, logs)
    finally:
        for process in processes:
            process.terminate()
        for process in processes:
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


def _time(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


def producer_pods(kube: ProviderCluster, dag_id: str) -> list[dict[str, Any]]:
    """The producer pods of one DAG (KubernetesPodOperator labels them with it)."""
    return [
        p
        for p in list_objects(kube, "", "pods")
        if (p["metadata"].get("labels") or {}).get("dag_id") == dag_id
    ]


def trigger_events(airflow: Airflow, dag_id: str, run_id: str, index: int) -> dict[str, datetime]:
    """When the triggerer started replica ``index``'s KubernetesPodTrigger and when it
    fired (the base container had finished), from the trigger's log of the first try."""
    folder = (
        airflow.home
        / "logs"
        / f"dag_id={dag_id}"
        / f"run_id={run_id}"
        / "task_id=extract.replica"
        / f"map_index={index}"
    )
    (path,) = folder.glob("attempt=1.log.trigger.*.log")  # .trigger.<triggerer job id>.log
    found: dict[str, datetime] = {}
    for line in path.read_text().splitlines():
        event = json.loads(line)
        text = str(event.get("event", ""))
        key = (
            "started"
            if text.endswith(" starting")
            else "fired"
            if text == "Trigger fired event"
            else ""
        )
        if key:
            found[key] = datetime.fromisoformat(event["timestamp"].replace("Z", "+00:00"))
            if key == "fired":
                assert "'status': 'success'" in event["result"], event
    assert set(found) == {"started", "fired"}, path
    return found


def run_source(kube: ProviderCluster, run_id: str) -> dict[str, Any]:
    """The one DataSource the collector of run ``run_id`` published."""
    (source,) = [
        s
        for s in list_objects(kube, "datalocality.io", "datasources")
        if s["spec"].get("attributes", {}).get("run_id") == run_id
    ]
    return source


def test_four_producer_replicas_defer_and_run_at_the_same_time(
    airflow: Airflow, kube: ProviderCluster
) -> None:
    dag_id = "parallel_producers"
    run_id = airflow.run(dag_id)

    rows = airflow.query(
        "SELECT map_index, state, start_date, end_date, try_number FROM task_instance"
        " WHERE dag_id = ? AND task_id = 'extract.replica' ORDER BY map_index",
        dag_id,
    )
    assert [(r[0], r[1], r[4]) for r in rows] == [(i, "success", 1) for i in range(REPLICAS)]
    starts = [datetime.fromisoformat(r[2]) for r in rows]
    ends = [datetime.fromisoformat(r[3]) for r in rows]
    assert max(starts) < min(ends), rows  # all four task instances were running together

    # Every replica deferred: the triggerer ran a KubernetesPodTrigger for each, together.
    triggers = [trigger_events(airflow, dag_id, run_id, i) for i in range(REPLICAS)]
    assert max(t["started"] for t in triggers) < min(t["fired"] for t in triggers), triggers

    pods = producer_pods(kube, dag_id)
    by_replica = {int(p["metadata"]["labels"][LABEL_REPLICA]): p for p in pods}
    assert sorted(by_replica) == list(range(REPLICAS)) and len(pods) == REPLICAS
    assert all(p["status"]["phase"] == "Succeeded" for p in pods)
    # Each pod was Running (status.startTime) before any trigger saw a pod finish: the last
    # one started before the first one ended, so all four ran at one moment. (The base
    # container's terminated timestamps are rewritten when kwok ends the pod: not used.)
    running = [_time(by_replica[i]["status"]["startTime"]) for i in range(REPLICAS)]
    assert max(running) < min(t["fired"] for t in triggers), (running, triggers)
    created = [_time(by_replica[i]["metadata"]["creationTimestamp"]) for i in range(REPLICAS)]
    assert max(created) - min(created) < timedelta(seconds=RUN_SECONDS), created

    nodes = airflow.xcom(dag_id, run_id, "extract.replica", "node")
    assert nodes == {i: by_replica[i]["spec"]["nodeName"] for i in range(REPLICAS)}
    (returned,) = airflow.xcom(dag_id, run_id, "extract.collect").values()
    assert returned["replicas"] == [
        {"index": i, "node": nodes[i], "chunks": 1} for i in range(REPLICAS)
    ]
    source = run_source(kube, run_id)
    assert source_locations(kube, source) == {f"part-{i}": [nodes[i]] for i in range(REPLICAS)}


def test_a_retried_replica_s_new_report_replaces_its_first(
    airflow: Airflow, kube: ProviderCluster
) -> None:
    dag_id = "retried_producer"
    run_id = airflow.run(dag_id)

    rows = airflow.query(
        "SELECT map_index, state, try_number FROM task_instance"
        " WHERE dag_id = ? AND task_id = 'extract.replica' ORDER BY map_index",
        dag_id,
    )
    assert rows == [(0, "success", 1), (1, "success", 2)]  # replica 1 failed, then passed
    (first_try,) = airflow.query(
        "SELECT state FROM task_instance_history WHERE dag_id = ? AND task_id = ?"
        " AND map_index = 1 AND try_number = 1",
        dag_id,
        "extract.replica",
    )
    assert first_try == ("failed",)

    pods = producer_pods(kube, dag_id)
    failed = [p for p in pods if p["status"]["phase"] == "Failed"]
    assert [p["metadata"]["labels"][LABEL_REPLICA] for p in failed] == ["1"]  # kept, by KPO
    succeeded = {
        int(p["metadata"]["labels"][LABEL_REPLICA]): p
        for p in pods
        if p["status"]["phase"] == "Succeeded"
    }
    assert sorted(succeeded) == [0, 1]

    entries = airflow.xcom(dag_id, run_id, "extract.replica")
    assert entries[1]["report"] == {"chunks": [{"id": "part-1-try2", "size": 1024}]}
    (returned,) = airflow.xcom(dag_id, run_id, "extract.collect").values()
    chunk_ids = [c["id"] for c in returned["data_source"]["chunks"]]
    assert chunk_ids == ["part-0-try1", "part-1-try2"]
    source = run_source(kube, run_id)
    assert source_locations(kube, source) == {
        "part-0-try1": [succeeded[0]["spec"]["nodeName"]],
        "part-1-try2": [succeeded[1]["spec"]["nodeName"]],
    }
