"""DataLocalityReleaseOperator: the teardown that gives back what a run of a plan claimed.

``locality_pods`` adds it as an Airflow teardown task after the replicas: it runs once
they are done, also when some failed or the plan itself failed half-way, and its own
outcome does not decide the DAG run's. It removes the plan task instance's claims (their
references on each DataSource first, deleting ``reclaimPolicy: Delete`` sources nobody
references any more), its chunk-list ConfigMaps and the Jobs of the job tasks
(:func:`datalocality.kube.release.release_run`). Safe to run again: a retry finishes
what a killed try left.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from airflow.sdk import BaseOperator

from datalocality.kube.release import release_run
from datalocality.operators.context import task_key_of
from datalocality.operators.failures import final_failures
from datalocality.provider.access import ClusterAccess
from datalocality.provider.hook import DataLocalityHook
from datalocality.provider.info import KUBERNETES_CONN_ID
from datalocality.provider.links import PlacementPlanLink

if TYPE_CHECKING:
    from airflow.sdk import Context


class DataLocalityReleaseOperator(ClusterAccess, BaseOperator):
    """Release the claims, chunk lists and Jobs one run of ``plan_task_id`` left.

    :param plan_task_id: the DataLocalityPlanOperator whose run is released (its full id,
        group prefix included).
    :param job_task_ids: the repartition/assembly tasks whose Jobs go too.
    :param namespace: where the plan wrote them (default: the connection's, or
        ``default``), as given to the plan task.
    """

    operator_extra_links = (PlacementPlanLink(),)

    template_fields: Sequence[str] = ("namespace",)
    ui_color = "#eeeeee"

    def __init__(
        self,
        *,
        plan_task_id: str,
        job_task_ids: Sequence[str] = (),
        namespace: str | None = None,
        kubernetes_conn_id: str | None = KUBERNETES_CONN_ID,
        config_file: str | None = None,
        in_cluster: bool | None = None,
        cluster_context: str | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.plan_task_id = plan_task_id
        self.job_task_ids = list(job_task_ids)
        self.namespace = namespace
        self.kubernetes_conn_id = kubernetes_conn_id
        self.config_file = config_file
        self.in_cluster = in_cluster
        self.cluster_context = cluster_context

    def get_hook(self) -> DataLocalityHook:
        """The hook giving the KubeClient."""
        return DataLocalityHook(access=self.access)

    def execute(self, context: Context) -> dict[str, list[str]]:
        """Release the run's objects; the names of what went."""
        own = task_key_of(context)
        plan_task = own.model_copy(update={"task_id": self.plan_task_id, "map_index": -1})
        job_tasks = [plan_task.model_copy(update={"task_id": t}) for t in self.job_task_ids]
        hook = self.get_hook()
        with final_failures():
            namespace = self.namespace or hook.get_namespace()
            client = hook.get_kube_client()
        try:
            with final_failures():
                released = release_run(client, namespace, plan_task, job_tasks)
        finally:
            client.api.close()
        self.log.info("%s of %s in %s", released.describe(), self.plan_task_id, namespace)
        return {
            "claims": list(released.claims),
            "deleted_sources": list(released.deleted_sources),
            "configmaps": list(released.configmaps),
            "jobs": list(released.jobs),
        }
