"""RepartitionOperator and AssemblyOperator: run a plan's operations as Kubernetes Jobs.

Each operation of the operator's kind becomes one Job from
:func:`datalocality.kube.jobs.build_operation_job`, pinned to the node the plan chose and
mounting its chunk list from the plan task's ConfigMaps. The operators read the plan
task's ``operations`` XCom (one small entry per operation, no chunk ids:
:func:`datalocality.operators.plan_store.build_operation_entries`), never the plan. Jobs
are created with create-or-get under deterministic names, so a retried task adopts the
Jobs its earlier try created instead of starting them twice (one that already failed is
replaced). The task then defers to
:class:`~datalocality.triggers.operations.OperationCompleteTrigger`, holding no worker
slot while the Jobs run; with ``deferrable=False`` the same trigger's wait runs in the
worker. Either way its event ends in ``execute_complete``: the Job names, or an
AirflowException naming each failed Job and why (retries apply). Whether a Job is done or
failed, when adopting as when waiting, is :func:`datalocality.kube.job_status.job_outcome`.
With no operation of its kind the task skips itself.
"""

from __future__ import annotations

import importlib
from collections.abc import Mapping, Sequence
from datetime import timedelta
from typing import TYPE_CHECKING, Any, ClassVar, Final

import anyio
from airflow.sdk import BaseOperator
from airflow.sdk.exceptions import AirflowException, AirflowSkipException

from datalocality.errors import SpecError
from datalocality.kube.job_status import job_outcome
from datalocality.kube.jobs import JobTemplate, build_operation_job
from datalocality.kube.names import ANNOTATION_PLANNED_NODE, TaskKey
from datalocality.kube.resources import JOBS
from datalocality.model.names import check_dns_label
from datalocality.operators.context import literal_text, task_key_of
from datalocality.operators.entries import check_same_namespace
from datalocality.operators.failures import final_failures
from datalocality.operators.plan_store import parse_operation_entries
from datalocality.provider.access import ClusterAccess
from datalocality.provider.hook import DataLocalityHook
from datalocality.provider.info import KUBERNETES_CONN_ID
from datalocality.provider.links import PlacementPlanLink
from datalocality.sensors.base import DEFER_GRACE, default_deferrable
from datalocality.triggers.base import check_seconds

if TYPE_CHECKING:
    from airflow.sdk import Context

    from datalocality.kube.client import KubeClient
    from datalocality.triggers.operations import OperationCompleteTrigger

# The Jobs' own deadline (activeDeadlineSeconds) plus five minutes: a Job that runs too
# long normally fails first, with DeadlineExceeded as its reason, before the wait gives up.
JOB_TIMEOUT: Final = float(JobTemplate.model_fields["active_deadline_seconds"].default) + 300.0


class OperationJobsOperator(ClusterAccess, BaseOperator):
    """Run the operations of ``kind`` of a plan as Jobs and wait for all of them.

    :param operations: the plan task's operation entries (``plan_task.output["operations"]``).
    :param image: the image doing the work; ``cmds``/``arguments`` what it runs.
    :param requests, limits: the Job pod's resources (defaults: 500m/512Mi, 2/2Gi).
    :param job_poll_interval: seconds between status reads.
    :param job_timeout: seconds to wait for the Jobs before the task fails (retries apply).
    :param deferrable: wait in the triggerer (default: ``[datalocality] default_deferrable``,
        True when unset, as for the sensors; Airflow's ``[operators] default_deferrable``
        is False unless set) or, when False, in the worker.
    """

    operator_extra_links = (PlacementPlanLink(),)

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
        job_timeout: float = JOB_TIMEOUT,
        deferrable: bool | None = None,
        kubernetes_conn_id: str | None = KUBERNETES_CONN_ID,
        config_file: str | None = None,
        in_cluster: bool | None = None,
        cluster_context: str | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        for field, words in (("cmds", cmds), ("arguments", arguments)):
            if isinstance(words, str) or not all(isinstance(w, str) for w in words):
                raise SpecError(field, words, "must be a list of strings")  # "echo" -> e,c,h,o
        self.operations = operations
        self.image = image
        self.cmds = list(cmds)
        self.arguments = list(arguments)
        self.requests = dict(requests) if requests is not None else None
        self.limits = dict(limits) if limits is not None else None
        self.namespace = namespace
        self.job_poll_interval = job_poll_interval
        self.job_timeout = job_timeout
        self.deferrable = default_deferrable() if deferrable is None else bool(deferrable)
        self.kubernetes_conn_id = kubernetes_conn_id
        self.config_file = config_file
        self.in_cluster = in_cluster
        self.cluster_context = cluster_context

        if (literal := literal_text(namespace)) is not None:
            check_dns_label("namespace", literal)
        check_seconds("job_poll_interval", job_poll_interval)
        check_seconds("job_timeout", job_timeout)
        if literal_text(image) is not None:
            self.build_template()  # bad requests or image: the DAG's import error names them

    def get_hook(self) -> DataLocalityHook:
        """The hook giving the KubeClient and cncf.kubernetes' KubernetesHook."""
        return DataLocalityHook(access=self.access)

    def build_template(self) -> JobTemplate:
        """The Jobs' pod template from the image, commands and resources (SpecError)."""
        fields: dict[str, Any] = {
            "image": self.image,
            "command": self.cmds,
            "args": self.arguments,
        }
        if self.requests is not None:
            fields["requests"] = self.requests
        if self.limits is not None:
            fields["limits"] = self.limits
        return JobTemplate.parse(fields)

    def build_jobs(self, task: TaskKey, namespace: str) -> list[dict[str, Any]]:
        """The Job manifests of this operator's kind, in plan order (pure)."""
        template = self.build_template()
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

    def build_trigger(self, job_names: Sequence[str], namespace: str) -> OperationCompleteTrigger:
        """The trigger waiting for ``job_names``, reaching the cluster as this operator does."""
        # Imported when first used: loading this module must not load kubernetes.
        module = importlib.import_module("datalocality.triggers.operations")
        trigger: OperationCompleteTrigger = module.OperationCompleteTrigger(
            job_names=job_names,
            namespace=namespace,
            **self.access.kwargs(),
            poll_interval=self.job_poll_interval,
            timeout=self.job_timeout,
        )
        return trigger

    def execute(self, context: Context) -> list[str]:
        """Create or adopt the Jobs, then wait for every one: deferred, or in the worker."""
        hook = self.get_hook()
        task = task_key_of(context)
        with final_failures():
            namespace = check_same_namespace(self.namespace, _entries_namespace(self.operations))
            namespace = namespace or hook.get_namespace()
            manifests = self.build_jobs(task, namespace)
        if not manifests:
            raise AirflowSkipException(f"the plan has no {self.kind} operation")
        names = [str(m["metadata"]["name"]) for m in manifests]
        with final_failures():  # bad poll interval or timeout: before any Job is created
            trigger = self.build_trigger(names, namespace)
        client = hook.get_kube_client()
        try:
            for manifest in manifests:
                with final_failures():
                    verb = self._create_or_adopt(client, manifest, namespace)
                name = manifest["metadata"]["name"]
                node = manifest["metadata"]["annotations"].get(ANNOTATION_PLANNED_NODE)
                self.log.info("%s job %s %s on node %s", self.kind, name, verb, node)
        finally:
            client.api.close()  # its pooled connections, not left to the garbage collector
        if not self.deferrable:
            return self.execute_complete(context, anyio.run(trigger.wait))
        self.defer(
            trigger=trigger,
            method_name="execute_complete",
            timeout=timedelta(seconds=trigger.timeout + DEFER_GRACE),
        )
        return names  # pragma: no cover - defer() raises TaskDeferred

    def execute_complete(self, context: Context, event: dict[str, Any] | None = None) -> list[str]:
        """Resume after the trigger fired: the Job names, or AirflowException saying why not."""
        if not isinstance(event, dict):
            raise AirflowException(f"{self.task_id}: the trigger sent no event ({event!r})")
        status, message = event.get("status"), str(event.get("message", ""))
        if status == "success":
            names = event.get("job_names")
            if not isinstance(names, list) or not all(isinstance(n, str) for n in names):
                raise AirflowException(f"{self.task_id}: the event names no Jobs ({event!r})")
            self.log.info("%s: %s", self.kind, message)
            return names
        if status == "error" and event.get("failed"):
            raise AirflowException(f"{self.kind} job(s) failed: {message}")
        raise AirflowException(
            f"waiting for the {self.kind} job(s): {message or f'trigger reported {status!r}'}"
        )

    def _create_or_adopt(self, client: KubeClient, manifest: dict[str, Any], namespace: str) -> str:
        """Create the Job, or adopt the one an earlier try created.

        An adopted Job that already failed is deleted and created again (a retry means to
        retry the work, and the deterministic name allows only one Job at a time); one
        still running or complete is waited for as it is.
        """
        created = client.create_or_get(manifest)
        if created.created:
            return "created"
        what = f"Job {namespace}/{manifest['metadata']['name']}"
        if job_outcome(created.object, what).status != "error":
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


class RepartitionOperator(OperationJobsOperator):
    """Merge each replica's chunks into one partition on its node (Vineyard's repartition)."""

    kind: ClassVar[str] = "repartition"


class AssemblyOperator(OperationJobsOperator):
    """Assemble stream chunks into chunks before the replicas read them."""

    kind: ClassVar[str] = "assembly"
