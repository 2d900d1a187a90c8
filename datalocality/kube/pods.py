"""One pod per replica of a plan: affinity to its node, its chunk list as files and env.

Each replica pod gets ``DATALOCALITY_*`` variables (its index, the planned node, and its
chunk list's count, files and, when short, ids: :mod:`datalocality.kube.chunk_lists`), the
list as JSON files under ``/etc/datalocality`` (projected from the chunk-list
ConfigMaps), ``NODENAME`` from ``spec.nodeName`` and, optionally, ``envFrom`` the
Vineyard-shaped ConfigMap, so consumers written for the Vineyard operator keep working.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field, field_validator

from datalocality.errors import SpecError
from datalocality.kube.affinity import AffinityPolicy, build_affinity
from datalocality.kube.chunk_lists import (
    ChunkListRef,
    ChunkLists,
    build_chunk_env,
    build_chunk_volume,
)
from datalocality.kube.names import (
    ANNOTATION_PLANNED_NODE,
    TaskKey,
    build_metadata,
    build_name,
    stamp,
)
from datalocality.kube.security import container_security_context, pod_security_context
from datalocality.model import PlacementPlan, Topology
from datalocality.model.base import Spec
from datalocality.model.names import check_dns_label, check_dns_subdomain
from datalocality.model.quantities import parse_quantity

# Variables the provider sets; a template may not set them (nor any DATALOCALITY_*).
RESERVED_ENV_PREFIX = "DATALOCALITY_"
RESERVED_ENV = frozenset({"NODENAME"})
GROUP_NAME_ANNOTATION = "scheduling.k8s.io/group-name"


class PodTemplate(Spec):
    """What every replica's container runs and asks for."""

    image: str = Field(min_length=1)
    command: tuple[str, ...] = ()
    args: tuple[str, ...] = ()
    env: dict[str, str] = Field(default_factory=dict)
    requests: dict[str, str] = Field(default_factory=dict)
    limits: dict[str, str] = Field(default_factory=dict)
    container_name: str = Field(default="base", alias="containerName")
    image_pull_policy: Literal["Always", "IfNotPresent", "Never"] | None = Field(
        default=None, alias="imagePullPolicy"
    )
    service_account_name: str = Field(default="", alias="serviceAccountName")
    run_as_user: int | None = Field(default=None, ge=1, alias="runAsUser")
    node_selector: dict[str, str] = Field(default_factory=dict, alias="nodeSelector")

    @field_validator("requests", "limits")
    @classmethod
    def _quantities(cls, value: dict[str, str]) -> dict[str, str]:
        for key, quantity in value.items():
            parse_quantity(key, quantity)
        return value

    @field_validator("env")
    @classmethod
    def _env(cls, value: dict[str, str]) -> dict[str, str]:
        for key in value:
            if key in RESERVED_ENV or key.startswith(RESERVED_ENV_PREFIX):
                raise SpecError(key, key, "is set by datalocality; choose another name")
        return value

    @field_validator("container_name")
    @classmethod
    def _container_name(cls, value: str) -> str:
        return check_dns_label("", value)

    def resources(self) -> dict[str, Any]:
        """The container's ``resources`` block."""
        block: dict[str, Any] = {}
        if self.requests:
            block["requests"] = dict(sorted(self.requests.items()))
        if self.limits:
            block["limits"] = dict(sorted(self.limits.items()))
        return block

    def container(self, env: list[dict[str, Any]], mounts: list[dict[str, Any]]) -> dict[str, Any]:
        """The container, restricted security context included."""
        user_env = [{"name": k, "value": v} for k, v in sorted(self.env.items())]
        container: dict[str, Any] = {
            "name": self.container_name,
            "image": self.image,
            "env": user_env + env,
            "securityContext": container_security_context(),
        }
        if self.command:
            container["command"] = list(self.command)
        if self.args:
            container["args"] = list(self.args)
        if self.image_pull_policy:
            container["imagePullPolicy"] = self.image_pull_policy
        if resources := self.resources():
            container["resources"] = resources
        if mounts:
            container["volumeMounts"] = mounts
        return container

    def pod_spec(self, container: dict[str, Any]) -> dict[str, Any]:
        """A pod spec around ``container``: never restarted, restricted, node selector."""
        spec: dict[str, Any] = {
            "restartPolicy": "Never",
            "securityContext": pod_security_context(self.run_as_user),
            "containers": [container],
        }
        if self.service_account_name:
            spec["serviceAccountName"] = check_dns_subdomain(
                "serviceAccountName", self.service_account_name
            )
        if self.node_selector:
            spec["nodeSelector"] = dict(sorted(self.node_selector.items()))
        return spec


def _env(name: str, value: str | int) -> dict[str, Any]:
    return {"name": name, "value": str(value)}


def build_replica_env(
    plan: PlacementPlan, index: int, chunk_list: ChunkListRef
) -> list[dict[str, Any]]:
    """The ``DATALOCALITY_*`` variables and ``NODENAME`` for replica ``index``."""
    replica = plan.replicas[index]
    return [
        _env("DATALOCALITY_REPLICA", replica.index),
        _env("DATALOCALITY_REPLICAS", len(plan.replicas)),
        _env("DATALOCALITY_PLANNED_NODE", replica.node),
        *build_chunk_env(chunk_list),
        {"name": "NODENAME", "valueFrom": {"fieldRef": {"fieldPath": "spec.nodeName"}}},
    ]


def build_replica_pod(
    plan: PlacementPlan,
    index: int,
    *,
    task: TaskKey,
    namespace: str,
    topology: Topology,
    template: PodTemplate,
    chunk_list: ChunkListRef,
    policy: AffinityPolicy | None = None,
    vineyard_configmap: str = "",
    pod_group: str = "",
) -> dict[str, Any]:
    """The Pod for replica ``index`` of ``plan``, as mapped task instance ``index`` of ``task``.

    ``chunk_list`` is where the replica's list is (``build_chunk_lists(...).replicas``);
    ``pod_group`` puts the pod in a Volcano PodGroup (and under the volcano scheduler).
    """
    if not 0 <= index < len(plan.replicas):
        raise SpecError("index", index, f"plan has {len(plan.replicas)} replicas")
    check_dns_label("namespace", namespace)
    replica = plan.replicas[index]
    replica_task = task.for_replica(replica.index)
    volume, mount = build_chunk_volume(chunk_list)
    container = template.container(build_replica_env(plan, index, chunk_list), [mount])
    if vineyard_configmap:
        check_dns_subdomain("vineyard_configmap", vineyard_configmap)
        container["envFrom"] = [{"configMapRef": {"name": vineyard_configmap}}]
    spec = template.pod_spec(container)
    spec["affinity"] = build_affinity(replica, topology, plan=plan, policy=policy)
    spec["volumes"] = [volume]
    annotations = {ANNOTATION_PLANNED_NODE: replica.node}
    if pod_group:
        check_dns_subdomain("pod_group", pod_group)
        spec["schedulerName"] = "volcano"
        annotations[GROUP_NAME_ANNOTATION] = pod_group
    manifest = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": build_metadata(
            replica_task,
            build_name(replica_task, "replica"),
            namespace,
            component="replica",
            annotations=annotations,
        ),
        "spec": spec,
    }
    return stamp(manifest)


def build_replica_pods(
    plan: PlacementPlan,
    *,
    task: TaskKey,
    namespace: str,
    topology: Topology,
    template: PodTemplate,
    chunk_lists: ChunkLists,
    policy: AffinityPolicy | None = None,
    vineyard_configmap: str = "",
    pod_group: str = "",
) -> list[dict[str, Any]]:
    """Every replica's Pod, in replica order."""
    return [
        build_replica_pod(
            plan,
            index,
            task=task,
            namespace=namespace,
            topology=topology,
            template=template,
            chunk_list=chunk_lists.replicas[index],
            policy=policy,
            vineyard_configmap=vineyard_configmap,
            pod_group=pod_group,
        )
        for index in range(len(plan.replicas))
    ]
