"""What runs of dags/chunk_pipeline.py leave in the cluster, on both clusters: nothing of
theirs but the replica pods the example keeps (``on_finish_action="keep_pod"``).

Consecutive runs, then a run whose replicas fail: after each, no DataSourceClaim, no
chunk-list ConfigMap, no Job and no Job or producer pod is left; no DataSource holds a
claim reference; the producer's sources (``reclaimPolicy: Delete``) are gone with their
slices, as the ``release`` teardown promises, whether the run succeeded or failed.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from datalocality.kube.chunk_lists import COMPONENT as CHUNK_LISTS
from datalocality.kube.names import LABEL_COMPONENT, LABEL_DAG_ID, LABEL_TASK_ID
from datalocality_testcluster.clusters import ProviderCluster
from datalocality_testcluster.view import list_objects
from tests.airflow.support import DAGS, task_states

RUNS = {"kube": 20, "sandbox": 3}  # the real etcd and apiserver are the judges
GC_SECONDS = 120.0  # the real garbage collector rescans new kinds every 30 s


def leftovers(cluster: ProviderCluster) -> dict[str, list[str]]:
    """Everything a run should not leave, by kind (names)."""

    def names(group: str, plural: str, keep: Any = lambda _: True) -> list[str]:
        return sorted(
            o["metadata"]["name"] for o in list_objects(cluster, group, plural) if keep(o)
        )

    def labels(obj: dict[str, Any]) -> dict[str, str]:
        return dict(obj["metadata"].get("labels") or {})

    return {
        "claims": names("datalocality.io", "datasourceclaims"),
        "sources": names("datalocality.io", "datasources"),
        "slices": names("datalocality.io", "datasourceslices"),
        "referenced": names(
            "datalocality.io",
            "datasources",
            lambda o: bool((o.get("status") or {}).get("claimRefs")),
        ),
        "chunk lists": names(
            "", "configmaps", lambda o: labels(o).get(LABEL_COMPONENT) == CHUNK_LISTS
        ),
        "jobs": names("batch", "jobs"),
        "other pods": names("", "pods", lambda o: _ours(labels(o)) and not _kept(labels(o))),
    }


def _ours(labels: dict[str, str]) -> bool:
    """A pod of a DAG's task: KubernetesPodOperator's ``dag_id`` label, or ours."""
    return "dag_id" in labels or LABEL_DAG_ID in labels


def _kept(labels: dict[str, str]) -> bool:
    """A replica pod, which the example keeps (``on_finish_action="keep_pod"``)."""
    return labels.get(LABEL_TASK_ID) == "sessionize.replica"


def settled(cluster: ProviderCluster) -> dict[str, list[str]]:
    """:func:`leftovers` once the garbage collector had its time (or what it left)."""
    deadline = time.monotonic() + GC_SECONDS
    left = leftovers(cluster)
    while any(left.values()) and time.monotonic() < deadline:
        time.sleep(1.0)
        left = leftovers(cluster)
    return left


def replica_pods(cluster: ProviderCluster) -> int:
    pods = list_objects(cluster, "", "pods")
    return sum(1 for p in pods if _kept(dict(p["metadata"].get("labels") or {})))


def test_runs_succeeded_or_failed_leave_nothing_but_kept_replica_pods(
    airflow_db: Path, cluster: ProviderCluster
) -> None:
    from airflow.dag_processing.dagbag import DagBag

    dag = DagBag(str(DAGS / "chunk_pipeline.py"), safe_mode=False).dags["chunk_pipeline"]
    empty: dict[str, list[str]] = {kind: [] for kind in leftovers(cluster)}
    for attempt in range(RUNS[cluster.kind]):
        run = dag.test()
        assert task_states(run)["sessionize.release"] == "success", (attempt, task_states(run))
        assert str(run.state).rsplit(".", 1)[-1].lower() == "success", task_states(run)
        assert settled(cluster) == empty, attempt
        assert replica_pods(cluster) == 3 * (attempt + 1)

    failed = dag.test(run_conf={"replica_exit_code": 1})
    assert task_states(failed)["sessionize.replica"] == "failed", task_states(failed)
    assert task_states(failed)["sessionize.release"] == "success", task_states(failed)
    assert str(failed.state).rsplit(".", 1)[-1].lower() == "failed"
    assert settled(cluster) == empty
