"""The job operators against both clusters: they defer, the trigger's event resumes them.

RepartitionOperator creates its Jobs, then defers to OperationCompleteTrigger (or, not
deferrable, runs the same trigger's wait in the worker). The trigger is rebuilt here from
what it serializes and run to its one event, as Airflow's triggerer does; the event ends
in ``execute_complete``. A Job made to fail by the test fails the task naming it, and the
retry replaces that Job. The event handling without a cluster is in test_plan_and_jobs.
"""

from __future__ import annotations

import asyncio
import copy
import importlib
import time
from pathlib import Path
from typing import Any

import pytest

from datalocality.model import DataInput
from datalocality_testcluster.clusters import ProviderCluster
from tests.airflow.support import DAGS, objects
from tests.airflow.test_retries import FakeTaskInstance

TASK = "ops.repartition"
SANDBOX = "sandbox.datalocality.io/"


def context_of(task_id: str, try_number: int = 1) -> Any:
    """What the operators read of a task context (no Airflow database)."""
    return {"ti": FakeTaskInstance(task_id, try_number), "run_id": "manual__jobs"}


def resume(operator: Any, context: Any, deferred: Any) -> Any:
    """The triggerer's part, as Airflow does it: rebuild the trigger from ``serialize()``,
    run it to its one event, and call the method the task deferred to with that event."""
    classpath, kwargs = deferred.trigger.serialize()
    module, _, name = classpath.rpartition(".")
    trigger = getattr(importlib.import_module(module), name)(**kwargs)

    async def first_event() -> Any:
        async for event in trigger.run():
            return event.payload
        return None

    return getattr(operator, deferred.method_name)(context, event=asyncio.run(first_event()))


def run_task(operator: Any, context: Any) -> Any:
    """``execute``, and when it defers, the trigger and the resumed method after it."""
    from airflow.sdk.exceptions import TaskDeferred

    try:
        return operator.execute(context)
    except TaskDeferred as deferred:
        return resume(operator, context, deferred)


def access_of(cluster: ProviderCluster) -> dict[str, Any]:
    """How the operators reach the test cluster: its kubeconfig, no Connection."""
    return {"config_file": str(cluster.kubeconfig_path), "kubernetes_conn_id": None}


def operations(cluster: ProviderCluster) -> list[dict[str, Any]]:
    """A real plan task's ``operations`` XCom (its chunk lists written to the cluster)."""
    from datalocality.operators import DataLocalityPlanOperator

    plan = DataLocalityPlanOperator(
        task_id="ops.plan",
        inputs=[DataInput(system="iceberg", name="warehouse.ml.events")],
        replicas=4,
        partitioning="one-per-replica",
        resolvers_config=str(DAGS / "data" / "resolvers.yaml"),
        **access_of(cluster),
    )
    context = context_of("ops.plan")
    plan.execute(context)
    entries: list[dict[str, Any]] = context["ti"].xcom["operations"]
    assert {e["kind"] for e in entries} == {"repartition"}
    return entries


def repartition(cluster: ProviderCluster, entries: Any, **kwargs: Any) -> Any:
    from datalocality.operators import RepartitionOperator

    options: dict[str, Any] = {"job_poll_interval": 0.1, "job_timeout": 60.0, **kwargs}
    return RepartitionOperator(
        task_id=TASK, operations=entries, image="repartition:1", **access_of(cluster), **options
    )


def job_names(cluster: ProviderCluster) -> list[str]:
    return sorted(j["metadata"]["name"] for j in objects(cluster, "batch", "jobs", TASK))


def test_the_operator_defers_to_the_trigger_and_its_event_resumes_it(
    airflow_db: Path, cluster: ProviderCluster
) -> None:
    from airflow.sdk.exceptions import TaskDeferred

    from datalocality.sensors.base import DEFER_GRACE
    from datalocality.triggers.operations import OperationCompleteTrigger

    entries = operations(cluster)
    operator = repartition(cluster, entries)
    assert operator.deferrable is True  # the default
    context = context_of(TASK)
    before = time.time()
    with pytest.raises(TaskDeferred) as deferred:
        operator.execute(context)
    created = job_names(cluster)
    assert len(created) == len(entries)  # created before deferring, not by the trigger
    trigger = deferred.value.trigger
    assert isinstance(trigger, OperationCompleteTrigger)
    assert deferred.value.method_name == "execute_complete"
    assert deferred.value.timeout.total_seconds() == 60.0 + DEFER_GRACE
    path, kwargs = trigger.serialize()
    assert path == "datalocality.triggers.operations.OperationCompleteTrigger"
    assert sorted(kwargs.pop("job_names")) == created
    assert before + 60 <= kwargs.pop("end_time") <= time.time() + 60
    assert kwargs == {
        "namespace": "default",
        "kubernetes_conn_id": None,
        "config_file": str(cluster.kubeconfig_path),
        "cluster_context": None,
        "in_cluster": None,
        "poll_interval": 0.1,
        "timeout": 60.0,
        "max_failures": 3,
    }
    names = resume(operator, context, deferred.value)
    assert sorted(names) == created
    for job in objects(cluster, "batch", "jobs", TASK):
        conditions = {c["type"]: c["status"] for c in job["status"]["conditions"]}
        assert conditions.get("Complete") == "True"


def test_not_deferrable_it_waits_in_the_worker(airflow_db: Path, cluster: ProviderCluster) -> None:
    entries = operations(cluster)
    names = repartition(cluster, entries, deferrable=False).execute(context_of(TASK))
    assert sorted(names) == job_names(cluster) and len(names) == len(entries)


@pytest.mark.parametrize("deferrable", [True, False])
def test_a_failed_job_fails_the_task_and_the_retry_replaces_it(
    airflow_db: Path, cluster: ProviderCluster, deferrable: bool
) -> None:
    from airflow.sdk.exceptions import AirflowException

    from datalocality.kube.client import KubeClient
    from datalocality.kube.job_status import job_outcome
    from datalocality.kube.resources import JOBS
    from datalocality.operators.context import task_key_of

    entries = operations(cluster)
    operator = repartition(cluster, entries, deferrable=deferrable)
    manifests = operator.build_jobs(task_key_of(context_of(TASK)), "default")
    # An earlier try's first Job, still running when the operator adopts it, whose one pod
    # exits 3 after two seconds.
    doomed = copy.deepcopy(manifests[0])
    doomed["spec"]["backoffLimit"] = 0
    doomed["spec"]["template"]["metadata"].setdefault("annotations", {}).update(
        {SANDBOX + "exit-code": "3", SANDBOX + "run-seconds": "2"}
    )
    name = doomed["metadata"]["name"]
    with cluster.api_client() as api:
        admin = KubeClient(api)
        admin.create_or_get(doomed)
        with pytest.raises(AirflowException) as failed:
            run_task(operator, context_of(TASK, 1))
        message = str(failed.value)
        assert message.startswith(f"repartition job(s) failed: Job default/{name} failed (")
        assert "BackoffLimitExceeded" in message
        assert job_outcome(admin.get(JOBS, name, "default"), name).status == "error"

        names = run_task(repartition(cluster, entries, deferrable=deferrable), context_of(TASK, 2))
        assert sorted(names) == job_names(cluster)  # the failed Job replaced, not duplicated
        replaced = admin.get(JOBS, name, "default")
        assert replaced is not None and job_outcome(replaced, name).status == "success"
        assert replaced["spec"]["backoffLimit"] == manifests[0]["spec"]["backoffLimit"]
