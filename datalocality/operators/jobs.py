"""RepartitionOperator and AssemblyOperator: run a plan's operations as Kubernetes Jobs.

Each operation of the operator's kind becomes one Job from
:func:`datalocality.kube.jobs.build_operation_job`, pinned to the node the plan chose and
mounting its chunk list from the plan task's ConfigMaps. The operators read the plan
task's ``operations`` XCom (one small entry per operation, no chunk ids:
:func:`datalocality.operators.plan_store.build_operation_entries`), never the plan. Jobs
are created with create-or-get under deterministic names, so a retried task adopts the
Jobs its earlier try created (and waits for them) instead of starting them twice.
Waiting and the failure check are cncf.kubernetes' (``KubernetesHook.wait_until_job_complete``,
``is_job_failed``). With no operation of its kind the task skips itself.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any, ClassVar

from airflow.sdk import BaseOperator
from airflow.sdk.exceptions import AirflowException, AirflowSkipException

from datalocality.kube.jobs import JobTemplate, build_operation_job
from datalocality.kube.names import ANNOTATION_PLANNED_NODE, TaskKey
from datalocality.kube.resources import JOBS
from datalocality.operators.context import task_key_of
from datalocality.operators.failures import final_failures
from datalocality.operators.plan_store import parse_operation_entries
from datalocality.provider.hook import DataLocalityHook

if TYPE_CHECKING:
    from airflow.sdk import Context

    from datalocality.kube.client import KubeClient


class OperationJobsOperator(BaseOperator):
    """Run the operations of ``kind`` of a plan as Jobs and wait for all of them.

    :param operations: the plan task's operation entries (``plan_task.output["operations"]``).
    :param image: the image doing the work; ``cmds``/``arguments`` what it runs.
    :param requests, limits: the Job pod's resources (defaults: 500m/512Mi, 2/2Gi).
    :param job_poll_interval: seconds between status reads.
    """

    kind: ClassVar[str] = ""
    template_fields: Sequence[str] = ("operations", "image", "namespace")
    ui_color = "#f4efe0"

    def __init__(
        self,
        *,
        operations: Any,
        image: str,
        cmds: Sequence[str] = (),
        arguments: Sequence[str] = (),
        requests: Mapping[str, str] | None = None,
        limits: Mapping[str, str] | None = None,
        namespace: str | None = None,
        job_poll_interval: float = 1.0,
        kubernetes_conn_id: str | None = None,
        config_file: str | None = None,
        in_cluster: bool | None = None,
        cluster_context: str | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.operations = operations
        self.image = image
        self.cmds = list(cmds)
        self.arguments = list(arguments)
        self.requests = dict(requests) if requests is not None else None
        self.limits = dict(limits) if limits is not None else None
        self.namespace = namespace
        self.job_poll_interval = job_poll_interval
        self.kubernetes_conn_id = kubernetes_conn_id
        self.config_file = config_file
        self.in_cluster = in_cluster
        self.cluster_context = cluster_context

    def get_hook(self) -> DataLocalityHook:
        """The hook giving the KubeClient and cncf.kubernetes' KubernetesHook."""
        return DataLocalityHook(
            kubernetes_conn_id=self.kubernetes_conn_id,
            config_file=self.config_file,
            in_cluster=self.in_cluster,
            cluster_context=self.cluster_context,
        )

    def build_jobs(self, task: TaskKey, namespace: str) -> list[dict[str, Any]]:
        """The Job manifests of this operator's kind, in plan order (pure)."""
        fields: dict[str, Any] = {
            "image": self.image,
            "command": self.cmds,
            "args": self.arguments,
        }
        if self.requests is not None:
            fields["requests"] = self.requests
        if self.limits is not None:
            fields["limits"] = self.limits
        template = JobTemplate.parse(fields)
        return [
            build_operation_job(
                operation,
                index,
                task=task,
                namespace=namespace,
                template=template,
                chunk_list=ref,
            )
            for index, operation, ref in parse_operation_entries(self.operations)
            if operation.kind == self.kind
        ]

    def execute(self, context: Context) -> list[str]:
        """Create or adopt the Jobs, wait for every one; the Job names."""
        hook = self.get_hook()
        task = task_key_of(context)
        with final_failures():
            namespace = self.namespace or _entries_namespace(self.operations)
            namespace = namespace or hook.get_namespace()
            manifests = self.build_jobs(task, namespace)
        if not manifests:
            raise AirflowSkipException(f"the plan has no {self.kind} operation")
        client = hook.get_kube_client()
        names = []
        try:
            for manifest in manifests:
                with final_failures():
                    verb = self._create_or_adopt(client, manifest, namespace)
                name = manifest["metadata"]["name"]
                node = manifest["metadata"]["annotations"].get(ANNOTATION_PLANNED_NODE)
                self.log.info("%s job %s %s on node %s", self.kind, name, verb, node)
                names.append(name)
        finally:
            client.api.close()  # its pooled connections, not left to the garbage collector
        kube = hook.kubernetes_hook
        failures = []
        for name in names:
            job = kube.wait_until_job_complete(
                job_name=name, namespace=namespace, job_poll_interval=self.job_poll_interval
            )
            reason = kube.is_job_failed(job=job)
            if reason:
                failures.append(f"{name}: {reason}")
        if failures:
            raise AirflowException(f"{self.kind} job(s) failed: {'; '.join(failures)}")
        return names

    def _create_or_adopt(self, client: KubeClient, manifest: dict[str, Any], namespace: str) -> str:
        """Create the Job, or adopt the one an earlier try created.

        An adopted Job that already failed is deleted and created again (a retry means to
        retry the work, and the deterministic name allows only one Job at a time); one
        still running or complete is waited for as it is.
        """
        created = client.create_or_get(manifest)
        if created.created:
            return "created"
        if not job_failed(created.object):
            return "adopted"
        client.delete(JOBS, manifest["metadata"]["name"], namespace, propagation="Foreground")
        client.create_or_get(manifest)  # waits while the failed one is terminating
        return "re-created after the earlier try's Job failed"


def _entries_namespace(entries: object) -> str | None:
    """The namespace the plan task wrote the chunk lists to (the Jobs must mount them)."""
    if isinstance(entries, Sequence) and entries and isinstance(entries[0], Mapping):
        namespace = entries[0].get("namespace")
        return namespace if isinstance(namespace, str) and namespace else None
    return None


def job_failed(job: Mapping[str, Any]) -> bool:
    """True when a Job object carries a true ``Failed`` condition."""
    conditions = (job.get("status") or {}).get("conditions") or []
    return any(c.get("type") == "Failed" and c.get("status") == "True" for c in conditions)


class RepartitionOperator(OperationJobsOperator):
    """Merge each replica's chunks into one partition on its node (Vineyard's repartition)."""

    kind: ClassVar[str] = "repartition"


class AssemblyOperator(OperationJobsOperator):
    """Assemble stream chunks into chunks before the replicas read them."""

    kind: ClassVar[str] = "assembly"
