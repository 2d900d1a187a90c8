"""Example 1 end to end: ``dag.test()`` of dags/chunk_pipeline.py against both clusters.

Asserts what happened in the cluster, not what the tasks said: where every replica pod
was bound, the chunk list it was handed (its files and env, from the ConfigMap), the
DataSource the producer published and the claim bound to it, and the repartition Jobs on
the replicas' nodes; and, in Airflow's database, that the repartition task deferred to
OperationCompleteTrigger (``dag.test()`` runs a deferred task's trigger in line).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from datalocality_testcluster.clusters import ProviderCluster
from datalocality_testcluster.view import Cluster, list_objects
from tests.airflow.support import (
    DAGS,
    KEEP,
    handed_chunks,
    source_locations,
    xcom_value,
    xcom_values,
)

PARTS = [f"part-{i:02d}" for i in range(12)]


def _objects(cluster: Cluster, group: str, plural: str) -> list[dict[str, Any]]:
    return list_objects(cluster, group, plural)


def _task(obj: dict[str, Any]) -> str:
    return str((obj["metadata"].get("labels") or {}).get("datalocality.io/task-id", ""))


def test_chunk_pipeline_places_each_replica_next_to_its_chunks(
    airflow_db: Path, cluster: ProviderCluster
) -> None:
    from airflow.dag_processing.dagbag import DagBag

    dag = DagBag(str(DAGS / "chunk_pipeline.py"), safe_mode=False).dags["chunk_pipeline"]
    run = dag.test(mark_success_pattern=KEEP)  # read what the run wrote before its release
    assert str(run.state) in {"success", "DagRunState.SUCCESS"}
    check_repartition_deferred(run.run_id, cluster)

    sources = _objects(cluster, "datalocality.io", "datasources")
    assert len(sources) == 1
    chunks = source_locations(cluster, sources[0])
    assert chunks == {p: ["worker-a1" if i < 9 else "worker-b1"] for i, p in enumerate(PARTS)}
    claims = _objects(cluster, "datalocality.io", "datasourceclaims")
    assert [c["status"]["phase"] for c in claims] == ["Bound"]
    assert claims[0]["status"]["boundDataSource"] == sources[0]["metadata"]["name"]

    pods = sorted(
        (p for p in _objects(cluster, "", "pods") if _task(p) == "sessionize.replica"),
        key=lambda p: p["metadata"]["labels"]["datalocality.io/map-index"],
    )
    assert len(pods) == 3
    # The lists are small: one ConfigMap holds them all, each also in DATALOCALITY_CHUNKS.
    (configmap,) = [c for c in _objects(cluster, "", "configmaps") if _task(c) == "sessionize.plan"]
    handed: list[str] = []
    moved = 0
    for index, pod in enumerate(pods):
        node = pod["spec"]["nodeName"]
        assert node == pod["metadata"]["annotations"]["datalocality.io/planned-node"]
        assert pod["status"]["phase"] == "Succeeded"
        listed = handed_chunks(cluster, pod)  # what its files hold, as the kubelet mounts them
        assert json.loads(configmap["data"][f"replica-{index}.json"]) == listed
        assert configmap["data"][f"replica-{index}.env"] == ",".join(listed)
        assert len(listed) == 4  # one partition per replica after repartitioning 12 parts
        moved += sum(chunks[c] != [node] for c in listed)
        handed.extend(listed)
    assert sorted(handed) == PARTS  # every chunk read exactly once
    assert sorted(p["spec"]["nodeName"] for p in pods) == ["worker-a1", "worker-a1", "worker-b1"]
    # Each replica task recorded where its pod ran (what is left once KPO deletes pods).
    recorded = xcom_values("chunk_pipeline", run.run_id, "sessionize.replica", "node")
    assert recorded == {index: pod["spec"]["nodeName"] for index, pod in enumerate(pods)}
    assert moved == 1  # two replicas on worker-a1 (its room), one on worker-b1 + one part

    jobs = [j for j in _objects(cluster, "batch", "jobs") if _task(j) == "sessionize.repartition"]
    assert len(jobs) == 3
    assert sorted(j["metadata"]["annotations"]["datalocality.io/planned-node"] for j in jobs) == [
        "worker-a1",
        "worker-a1",
        "worker-b1",
    ]
    for job in jobs:
        conditions = {c["type"]: c["status"] for c in job["status"]["conditions"]}
        assert conditions.get("Complete") == "True"

    links = _extra_links(run.run_id, "chunk_pipeline")
    # every task of the provider's operators that ran links to its own Placement tab
    assert {(task, index) for task, index, _ in links} == {
        ("extract.collect", -1),
        *{("extract.replica", index) for index in range(2)},
        ("sessionize.plan", -1),
        ("sessionize.repartition", -1),
        ("sessionize.assembly", -1),
        *{("sessionize.replica", index) for index in range(3)},
    }
    for task, index, url in links:
        mapped = f"/mapped/{index}" if index >= 0 else ""
        assert "/dags/chunk_pipeline/runs/" in url
        assert url.endswith(f"/tasks/{task}{mapped}/plugin/placement"), url


def check_repartition_deferred(run_id: str, cluster: ProviderCluster) -> None:
    """The repartition task deferred: Airflow stored its OperationCompleteTrigger, which
    ``dag.test()`` ran in line from those stored kwargs, and the task resumed with the
    event returned the trigger's Job names."""
    (trigger,) = _triggers(run_id, "chunk_pipeline", "sessionize.repartition")
    assert trigger["classpath"] == "datalocality.triggers.operations.OperationCompleteTrigger"
    returned = xcom_value("chunk_pipeline", run_id, "sessionize.repartition")
    assert len(returned) == 3 and sorted(trigger["job_names"]) == sorted(returned)
    assert trigger["namespace"] == "default"
    access = {k: trigger[k] for k in ("kubernetes_conn_id", "config_file", "in_cluster")}
    assert access == {
        "kubernetes_conn_id": None,
        "config_file": str(cluster.kubeconfig_path),
        "in_cluster": False,
    }  # the task's own cluster access (cluster_access(): DATALOCALITY_KUBECONFIG)
    assert _triggers(run_id, "chunk_pipeline", "sessionize.assembly") == []  # it skipped


def _extra_links(run_id: str, dag_id: str) -> list[tuple[str, int, str]]:
    """The "Placement plan" links the finished tasks stored for the UI."""
    from airflow.models.xcom import XComModel
    from airflow.utils.session import create_session
    from sqlalchemy import select

    with create_session() as session:
        rows = session.scalars(
            select(XComModel).where(
                XComModel.dag_id == dag_id,
                XComModel.run_id == run_id,
                XComModel.key == "_link_PlacementPlanLink",
            )
        ).all()
        return [(r.task_id, r.map_index, str(XComModel.deserialize_value(r))) for r in rows]


def _triggers(run_id: str, dag_id: str, task_id: str) -> list[dict[str, Any]]:
    """The trigger Airflow stored when the task deferred (classpath and kwargs), if it did."""
    from airflow.models.taskinstance import TaskInstance
    from airflow.models.trigger import Trigger
    from airflow.utils.session import create_session
    from sqlalchemy import select

    with create_session() as session:
        rows = session.execute(
            select(Trigger)
            .join(TaskInstance, TaskInstance.trigger_id == Trigger.id)
            .where(
                TaskInstance.dag_id == dag_id,
                TaskInstance.run_id == run_id,
                TaskInstance.task_id == task_id,
            )
        ).scalars()
        return [{"classpath": t.classpath, **t.kwargs} for t in rows]
