"""Paths the Airflow tests share (kept out of conftest.py, which must be imported once)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from datalocality_testcluster.view import Cluster, list_objects

REPO = Path(__file__).resolve().parents[2]
DAGS = REPO / "dags"
AIRFLOW = Path(sys.executable).with_name("airflow")


def airflow_home_env(home: Path) -> dict[str, str]:
    """Where an Airflow home and its SQLite database are, for this repository's DAGs."""
    return {
        "AIRFLOW_HOME": str(home),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__CORE__DAGS_FOLDER": str(DAGS),
        "AIRFLOW__CORE__UNIT_TEST_MODE": "False",
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{home / 'airflow.db'}",
    }


@contextmanager
def scratch_airflow_home() -> Iterator[Path]:
    """A scratch, migrated Airflow home, set in this process's environment (before
    Airflow is first imported: it reads it then); the benchmarks' Airflow."""
    with tempfile.TemporaryDirectory(prefix="datalocality-bench-airflow-") as home:
        os.environ.update(airflow_home_env(Path(home)))
        subprocess.run([str(AIRFLOW), "db", "migrate"], check=True, capture_output=True)
        yield Path(home)


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


# ``dag.test(mark_success_pattern=KEEP)`` marks locality_pods' release teardowns success
# without running them, so a test can read the claims and chunk lists the run wrote
# (tests/airflow/test_release_e2e.py runs them).
KEEP = r".*\.release"


def run_dag(dag_id: str, file: str, *, keep: bool = True) -> Any:
    """``dag.test()`` of one DAG of dags/ (it must live in the DAGs folder to be serialised);
    ``keep``: leave what the run wrote for the test to read (see :data:`KEEP`)."""
    run = run_dag_unchecked(dag_id, file, keep=keep)
    assert run_state(run) == "success", run.state
    return run


def run_dag_unchecked(dag_id: str, file: str, *, keep: bool = False) -> Any:
    """:func:`run_dag` whatever the run's end (for a test of how it fails)."""
    from airflow.dag_processing.dagbag import DagBag

    bag = DagBag(str(DAGS / file), safe_mode=False)
    assert bag.import_errors == {}
    return bag.dags[dag_id].test(mark_success_pattern=KEEP if keep else None)


def run_state(run: Any) -> str:
    """A DAG run's state as a word: success, failed..."""
    return str(run.state).rsplit(".", 1)[-1].lower()


def task_states(run: Any) -> dict[str, str]:
    """Each task's final state in a DAG run (mapped tasks: their worst)."""
    found: dict[str, str] = {}
    for ti in run.get_task_instances():
        state = str(ti.state).rsplit(".", 1)[-1].lower()
        if found.get(ti.task_id) != "failed":
            found[ti.task_id] = state
    return found


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


def source_locations(cluster: Cluster, source: dict[str, Any]) -> dict[str, list[str]]:
    """Each chunk's locations, by id, of a DataSource object: read from its slices."""
    from datalocality.kube.slices import source_chunks

    slices = list_objects(cluster, "datalocality.io", "datasourceslices")
    return {c.id: list(c.locations) for c in source_chunks(source, slices)}


def replica_pods(sandbox: Cluster, task_id: str) -> list[dict[str, Any]]:
    """The replica pods of a task, in replica order."""
    pods = objects(sandbox, "", "pods", task_id)
    return sorted(pods, key=lambda p: int(p["metadata"]["labels"]["datalocality.io/map-index"]))


def handed_chunks(cluster: Cluster, pod: dict[str, Any]) -> list[str]:
    """The chunk list a replica pod's container reads, as the kubelet would mount it: the
    files ``chunks-0.json``... in order, read from the cluster's ConfigMaps, checked
    against ``chunks.json``, the count and ``DATALOCALITY_CHUNKS`` when it is set."""
    from datalocality_testcluster.sandbox.environment import volume_files

    namespace = pod["metadata"]["namespace"]
    found = list_objects(cluster, "", "configmaps", namespace)
    data = {c["metadata"]["name"]: dict(c.get("data") or {}) for c in found}

    def read(kind: str, name: str, optional: bool) -> dict[str, str] | None:
        assert kind == "configmap" and name in data, (kind, name)
        return data[name]

    container = pod["spec"]["containers"][0]
    files = volume_files(pod, container, read)
    env = {e["name"]: e for e in container["env"]}
    directory = env["DATALOCALITY_CHUNKS_DIR"]["value"]
    shards = int(env["DATALOCALITY_CHUNK_FILES"]["value"])
    ids = [i for s in range(shards) for i in json.loads(files[f"{directory}/chunks-{s}.json"])]
    assert len(ids) == int(env["DATALOCALITY_CHUNK_COUNT"]["value"])
    if shards == 1:
        assert json.loads(files[env["DATALOCALITY_CHUNKS_FILE"]["value"]]) == ids
    if "DATALOCALITY_CHUNKS" in env:
        ref = env["DATALOCALITY_CHUNKS"]["valueFrom"]["configMapKeyRef"]
        assert data[ref["name"]][ref["key"]] == ",".join(ids)
    return ids


def xcom_values(
    dag_id: str, run_id: str, task_id: str, key: str = "return_value"
) -> dict[int, Any]:
    """Every ``key`` XCom of a task in a run, by map index (-1 for an unmapped task)."""
    from airflow.models.xcom import XComModel
    from airflow.utils.session import create_session
    from sqlalchemy import select

    with create_session() as session:
        rows = session.scalars(
            select(XComModel).where(
                XComModel.dag_id == dag_id,
                XComModel.run_id == run_id,
                XComModel.task_id == task_id,
                XComModel.key == key,
            )
        ).all()
        return {row.map_index: XComModel.deserialize_value(row) for row in rows}


def xcom_value(dag_id: str, run_id: str, task_id: str, key: str = "return_value") -> Any:
    """The ``key`` XCom of an unmapped task in a run."""
    values = xcom_values(dag_id, run_id, task_id, key)
    assert list(values) == [-1], f"{task_id} {key}: {sorted(values)}"
    return values[-1]
