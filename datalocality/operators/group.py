"""``locality_pods``: the common case in one call — plan, operations, one pod per replica.

Expands, inside a TaskGroup named ``task_id``, to::

    plan ──► repartition ──► assembly ──► replica [mapped: one per replica] ──► release

``plan`` is a DataLocalityPlanOperator; ``repartition`` and ``assembly`` run the plan's
operations of their kind as Kubernetes Jobs (from its small ``operations`` XCom, never the
whole plan) and skip themselves when the plan has none
(the replicas run when nothing upstream failed); ``replica`` is
``DataLocalityPodOperator.partial(...).expand_kwargs(plan.output)``; ``release`` is a
teardown (:class:`~datalocality.operators.release.DataLocalityReleaseOperator`): it runs
when everything before it is done, failed or not, and gives back the run's claims, chunk
lists and Jobs. Building the group touches no connection and no network: everything is
read when the tasks run.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from airflow.sdk import TaskGroup, conf

from datalocality.errors import SpecError
from datalocality.operators.jobs import AssemblyOperator, RepartitionOperator
from datalocality.operators.plan import DataLocalityPlanOperator
from datalocality.operators.pod import DataLocalityPodOperator
from datalocality.operators.release import DataLocalityReleaseOperator
from datalocality.provider.access import KubeAccess
from datalocality.provider.info import KUBERNETES_CONN_ID


def locality_pods(
    *,
    task_id: str,
    image: str,
    inputs: Sequence[Any],
    replicas: int = 1,
    topology: Mapping[str, Any] | None = None,
    requests: Mapping[str, Any] | None = None,
    partitioning: str = "any",
    input_format: str = "chunks",
    strategy: str = "optimal",
    scheduler: str = "default-scheduler",
    volcano_queue: str = "default",
    namespace: str | None = None,
    operations: bool = True,
    release: bool = True,
    job_image: str | None = None,
    datalocality_conn_id: str | None = None,
    resolvers_config: str | None = None,
    kubernetes_conn_id: str | None = KUBERNETES_CONN_ID,
    config_file: str | None = None,
    in_cluster: bool | None = None,
    cluster_context: str | None = None,
    plan_kwargs: Mapping[str, Any] | None = None,
    job_kwargs: Mapping[str, Any] | None = None,
    **pod_kwargs: Any,
) -> TaskGroup:
    """A TaskGroup that places ``replicas`` pods of ``image`` next to ``inputs``.

    ``pod_kwargs`` go to every replica's DataLocalityPodOperator (KubernetesPodOperator
    arguments: ``cmds``, ``arguments``, ``get_logs``...). ``operations=False`` leaves the
    job tasks out (for consumers that do their own repartitioning); ``release=False`` the
    teardown (the claims and chunk lists then stay until deleted by label).
    ``scheduler="volcano"`` gang-schedules the replicas with Volcano: the plan task creates
    their PodGroup (in ``volcano_queue``), every replica pod names it and Volcano's
    scheduler; the release removes it with the claims.
    """
    cluster = KubeAccess(kubernetes_conn_id, config_file, cluster_context, in_cluster).kwargs()
    # The replicas are mapped from the plan's return value, which Airflow refuses past
    # max_map_length only when the plan task pushes it: after its claims were written.
    limit = conf.getint("core", "max_map_length", fallback=1024)
    if isinstance(replicas, int) and replicas > limit:
        raise SpecError(
            "replicas", replicas, f"is more than Airflow's [core] max_map_length ({limit})"
        )
    with TaskGroup(group_id=task_id) as group:
        plan = DataLocalityPlanOperator(
            task_id="plan",
            inputs=inputs,
            replicas=replicas,
            requests=requests,
            topology=topology,
            partitioning=partitioning,
            input_format=input_format,
            strategy=strategy,
            scheduler=scheduler,
            volcano_queue=volcano_queue,
            namespace=namespace,
            consumer_name=task_id,
            datalocality_conn_id=datalocality_conn_id,
            resolvers_config=resolvers_config,
            **cluster,
            **dict(plan_kwargs or {}),
        )
        upstream: Any = plan
        job_task_ids: list[str] = []
        if operations:
            output: Any = plan.output  # an XComArg; ["key"] selects a pushed key
            operators: tuple[type[RepartitionOperator | AssemblyOperator], ...] = (
                RepartitionOperator,
                AssemblyOperator,
            )
            for operator in operators:
                job = operator(
                    task_id=operator.kind,
                    operations=output["operations"],
                    image=job_image or image,
                    namespace=namespace,
                    **cluster,
                    **dict(job_kwargs or {}),
                )
                upstream >> job
                upstream = job
                job_task_ids.append(job.task_id)
        pods = DataLocalityPodOperator.partial(
            task_id="replica",
            image=image,
            namespace=namespace,
            trigger_rule="none_failed",
            **cluster,
            **pod_kwargs,
        ).expand_kwargs(plan.output)
        upstream >> pods
        if release:
            teardown = DataLocalityReleaseOperator(
                task_id="release",
                plan_task_id=plan.task_id,
                job_task_ids=job_task_ids,
                namespace=namespace,
                **cluster,
            )
            pods >> teardown.as_teardown()  # no setup: it runs even when the plan failed
    return group
