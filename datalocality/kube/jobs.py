"""Repartition and assembly Jobs (batch/v1), each pinned to the node the plan chose.

An operation runs once before the replicas start: bounded retries (``backoffLimit``),
a deadline, a TTL so finished Jobs clean themselves up, requests and limits, and the
restricted security profile. Its chunk list comes as files and env, as for replicas
(:mod:`datalocality.kube.chunk_lists`). The builders need the operation without its chunk
ids (``chunks`` may be empty): the count and the files come from its ``ChunkListRef``.
"""

from __future__ import annotations

from typing import Any

from pydantic import Field

from datalocality.errors import SpecError
from datalocality.kube.affinity import HOSTNAME_KEY
from datalocality.kube.chunk_lists import (
    ChunkListRef,
    ChunkLists,
    build_chunk_env,
    build_chunk_volume,
)
from datalocality.kube.names import (
    ANNOTATION_PLANNED_NODE,
    TaskKey,
    build_labels,
    build_metadata,
    build_name,
    stamp,
)
from datalocality.kube.pods import PodTemplate
from datalocality.model import Operation, PlacementPlan, Topology
from datalocality.model.names import check_dns_label


def _default_requests() -> dict[str, str]:
    return {"cpu": "500m", "memory": "512Mi"}


def _default_limits() -> dict[str, str]:
    return {"cpu": "2", "memory": "2Gi"}


class JobTemplate(PodTemplate):
    """A PodTemplate plus the Job's retry, deadline and cleanup settings."""

    requests: dict[str, str] = Field(default_factory=_default_requests)
    limits: dict[str, str] = Field(default_factory=_default_limits)
    backoff_limit: int = Field(default=2, ge=0, le=100, strict=True, alias="backoffLimit")
    active_deadline_seconds: int = Field(
        default=3600, ge=1, strict=True, alias="activeDeadlineSeconds"
    )
    ttl_seconds_after_finished: int = Field(
        default=600, ge=0, strict=True, alias="ttlSecondsAfterFinished"
    )


def build_operation_env(operation: Operation, chunk_list: ChunkListRef) -> list[dict[str, Any]]:
    """The ``DATALOCALITY_*`` variables telling the job what to do and on which chunks."""
    env: list[dict[str, Any]] = [
        {"name": "DATALOCALITY_OPERATION", "value": operation.kind},
        {"name": "DATALOCALITY_SCOPE", "value": operation.scope},
        {"name": "DATALOCALITY_SOURCE", "value": operation.source},
        {"name": "DATALOCALITY_PLANNED_NODE", "value": operation.node},
    ]
    if operation.replica is not None:
        env.append({"name": "DATALOCALITY_REPLICA", "value": str(operation.replica)})
    env.extend(build_chunk_env(chunk_list))
    env.append({"name": "NODENAME", "valueFrom": {"fieldRef": {"fieldPath": "spec.nodeName"}}})
    return env


def _hostname(topology: Topology | None, node: str) -> str:
    if topology is None:
        return node
    found = topology.by_name.get(node)
    if found is None:
        raise SpecError("operation.node", node, "is not a node of the topology")
    return found.labels.get(HOSTNAME_KEY, found.name)


def build_operation_affinity(operation: Operation, topology: Topology | None) -> dict[str, Any]:
    """The node affinity pinning an operation to the node the plan chose for it."""
    term = {"key": HOSTNAME_KEY, "operator": "In", "values": [_hostname(topology, operation.node)]}
    return {
        "nodeAffinity": {
            "requiredDuringSchedulingIgnoredDuringExecution": {
                "nodeSelectorTerms": [{"matchExpressions": [term]}]
            }
        }
    }


def build_operation_job(
    operation: Operation,
    index: int,
    *,
    task: TaskKey,
    namespace: str,
    template: JobTemplate,
    chunk_list: ChunkListRef,
    topology: Topology | None = None,
) -> dict[str, Any]:
    """The Job running ``operation``, the plan's operation ``index``, on its node."""
    if index < 0:
        raise SpecError("index", index, "must be an operation's index in the plan (>= 0)")
    check_dns_label("namespace", namespace)
    name = build_name(task, operation.kind, str(index))
    volume, mount = build_chunk_volume(chunk_list)
    env = build_operation_env(operation, chunk_list)
    pod_spec = template.pod_spec(template.container(env, [mount]))
    pod_spec["affinity"] = build_operation_affinity(operation, topology)
    pod_spec["volumes"] = [volume]
    manifest = {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": build_metadata(
            task,
            name,
            namespace,
            component=operation.kind,
            annotations={ANNOTATION_PLANNED_NODE: operation.node},
        ),
        "spec": {
            "backoffLimit": template.backoff_limit,
            "activeDeadlineSeconds": template.active_deadline_seconds,
            "ttlSecondsAfterFinished": template.ttl_seconds_after_finished,
            "completions": 1,
            "parallelism": 1,
            "template": {
                "metadata": {"labels": build_labels(task, operation.kind)},
                "spec": pod_spec,
            },
        },
    }
    return stamp(manifest)


def build_operation_jobs(
    plan: PlacementPlan,
    *,
    task: TaskKey,
    namespace: str,
    template: JobTemplate,
    chunk_lists: ChunkLists,
    topology: Topology | None = None,
) -> list[dict[str, Any]]:
    """A Job per operation of the plan, in plan order (empty when none is needed)."""
    return [
        build_operation_job(
            operation,
            index,
            task=task,
            namespace=namespace,
            template=template,
            chunk_list=chunk_lists.operations[index],
            topology=topology,
        )
        for index, operation in enumerate(plan.operations)
    ]
