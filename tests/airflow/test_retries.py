"""A retried task adopts what its earlier try created: same names, no second object.

The plan and job operators run twice with the same task instance against both
clusters (as a retry or a cleared task would), and the cluster is compared after each.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, TypedDict

from datalocality.model import DataInput
from datalocality_testcluster.clusters import ProviderCluster
from tests.airflow.support import DAGS, objects


class FakeTaskInstance:
    """What the operators touch on ``context["ti"]``."""

    def __init__(self, task_id: str, try_number: int) -> None:
        self.dag_id, self.task_id, self.map_index, self.try_number = (
            "retry",
            task_id,
            -1,
            try_number,
        )
        self.xcom: dict[str, Any] = {}

    def xcom_push(self, key: str, value: Any, **_: Any) -> None:
        self.xcom[key] = value


class Access(TypedDict):
    """How the operators reach the test cluster."""

    config_file: str
    kubernetes_conn_id: str | None


def _context(task_id: str, try_number: int) -> Any:
    return {"ti": FakeTaskInstance(task_id, try_number), "run_id": "manual__retry"}


def _names(sandbox: ProviderCluster) -> dict[str, list[str]]:
    kinds = {
        "claims": ("datalocality.io", "datasourceclaims"),
        "sources": ("datalocality.io", "datasources"),
        "configmaps": ("", "configmaps"),
        "jobs": ("batch", "jobs"),
    }
    return {
        kind: sorted(o["metadata"]["name"] for o in objects(sandbox, *key))
        for kind, key in kinds.items()
    }


def test_plan_and_jobs_retried_adopt_instead_of_duplicating(
    airflow_db: Path, cluster: ProviderCluster
) -> None:
    from datalocality.operators import DataLocalityPlanOperator, RepartitionOperator

    access: Access = {"config_file": str(cluster.kubeconfig_path), "kubernetes_conn_id": None}
    plan_op = DataLocalityPlanOperator(
        task_id="plan",
        inputs=[DataInput(system="iceberg", name="warehouse.ml.events")],
        replicas=4,
        partitioning="one-per-replica",
        resolvers_config=str(DAGS / "data" / "resolvers.yaml"),
        **access,
    )
    first_try, second_try = _context("plan", 1), _context("plan", 2)
    entries = plan_op.execute(first_try)
    after_first = _names(cluster)
    assert len(after_first["claims"]) == 1 and len(after_first["sources"]) == 1
    assert plan_op.execute(second_try) == entries
    assert _names(cluster) == after_first
    assert second_try["ti"].xcom["plan"] == first_try["ti"].xcom["plan"]

    plan = first_try["ti"].xcom["plan"]
    assert {op["kind"] for op in plan["operations"]} == {"repartition"}
    jobs_op = RepartitionOperator(
        task_id="repartition",
        operations=first_try["ti"].xcom["operations"],
        image="repartition:1",
        job_poll_interval=0.1,
        **access,
    )
    from tests.airflow.test_job_operators import run_task  # defers; runs the trigger here

    names = run_task(jobs_op, _context("repartition", 1))
    assert len(names) == len(plan["operations"])
    assert run_task(jobs_op, _context("repartition", 2)) == names
    assert _names(cluster)["jobs"] == sorted(names)
