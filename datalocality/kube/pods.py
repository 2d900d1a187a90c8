"""One pod per replica of a plan: affinity to its node, its chunk list as files and env.

Each replica pod gets ``DATALOCALITY_*`` variables (its index, the planned node, and its
chunk list's count, files and, when short, ids: :mod:`datalocality.kube.chunk_lists`), the
list as JSON files under ``/etc/datalocality`` (projected from the chunk-list
ConfigMaps), ``NODENAME`` from ``spec.nodeName`` and, optionally, ``envFrom`` the
Vineyard-shaped ConfigMap, so consumers written for the Vineyard operator keep working.

What a replica adds to a pod is decided once (:func:`build_replica_additions`) and merged
once (:func:`build_pod_with_replica`): into a :class:`PodTemplate`'s pod here, into the pod
KubernetesPodOperator built in :mod:`datalocality.operators.pod_request`.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Mapping, Sequence
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
    ANNOTATION_CHUNK_COUNT,
    ANNOTATION_PLANNED_NODE,
    TaskKey,
    build_annotations,
    build_labels,
    build_name,
    stamp,
)
from datalocality.kube.security import (
    build_restricted_pod,
    container_security_context,
    pod_security_context,
)
from datalocality.kube.volcano import GROUP_NAME_ANNOTATION, VOLCANO_SCHEDULER
from datalocality.model import DataSource, PlacementPlan, Topology
from datalocality.model.base import Spec
from datalocality.model.names import check_dns_label, check_dns_subdomain
from datalocality.model.quantities import parse_quantity

# Variables the provider sets; a template may not set them (nor any DATALOCALITY_*).
RESERVED_ENV_PREFIX = "DATALOCALITY_"
RESERVED_ENV = frozenset({"NODENAME"})


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


def build_sources_env(sources: Sequence[DataSource]) -> list[dict[str, Any]]:
    """Where the chunk ids point: ``DATALOCALITY_SOURCES`` (JSON: each input's system,
    type, name and chunkBase) and, when every input shares one non-empty base,
    ``DATALOCALITY_CHUNK_BASE`` (open ``$DATALOCALITY_CHUNK_BASE/<id>``)."""
    if not sources:
        return []
    described = [
        {
            "system": s.system,
            "dataSourceType": s.data_source_type,
            "dataSourceName": s.name,
            "chunkBase": s.chunk_base,
        }
        for s in sources
    ]
    env = [_env("DATALOCALITY_SOURCES", json.dumps(described, separators=(",", ":")))]
    bases = {s.chunk_base for s in sources}
    if len(bases) == 1 and (base := bases.pop()):
        env.append(_env("DATALOCALITY_CHUNK_BASE", base))
    return env


def build_replica_env(
    plan: PlacementPlan,
    index: int,
    chunk_list: ChunkListRef,
    sources: Sequence[DataSource] = (),
) -> list[dict[str, Any]]:
    """The ``DATALOCALITY_*`` variables and ``NODENAME`` for replica ``index``;
    ``sources`` (the plan's inputs) say where its chunk ids point."""
    replica = plan.replicas[index]
    return [
        _env("DATALOCALITY_REPLICA", replica.index),
        _env("DATALOCALITY_REPLICAS", len(plan.replicas)),
        _env("DATALOCALITY_PLANNED_NODE", replica.node),
        *build_chunk_env(chunk_list),
        *build_sources_env(sources),
        {"name": "NODENAME", "valueFrom": {"fieldRef": {"fieldPath": "spec.nodeName"}}},
    ]


def build_replica_additions(
    *,
    node: str,
    chunk_count: int,
    affinity: Mapping[str, Any],
    env: Sequence[Mapping[str, Any]],
    chunk_volume: tuple[Mapping[str, Any], Mapping[str, Any]],
    task: TaskKey | None = None,
    resources: Mapping[str, Any] | None = None,
    vineyard_configmap: str = "",
    pod_group: str = "",
) -> dict[str, Any]:
    """What a replica adds to any pod, camelCase: ``metadata`` labels and annotations,
    ``spec`` fields and ``container`` fields (its main container), for
    :func:`build_pod_with_replica`; ``task`` is the replica's own task instance."""
    volume, mount = chunk_volume
    annotations = {ANNOTATION_PLANNED_NODE: node, ANNOTATION_CHUNK_COUNT: str(chunk_count)}
    spec: dict[str, Any] = {"affinity": copy.deepcopy(dict(affinity)), "volumes": [dict(volume)]}
    if pod_group:
        check_dns_subdomain("pod_group", pod_group)
        spec["schedulerName"] = VOLCANO_SCHEDULER
        annotations[GROUP_NAME_ANNOTATION] = pod_group
    container: dict[str, Any] = {
        "env": copy.deepcopy([dict(e) for e in env]),
        "volumeMounts": [dict(mount)],
    }
    if resources:
        container["resources"] = copy.deepcopy(dict(resources))
    if vineyard_configmap:
        check_dns_subdomain("vineyard_configmap", vineyard_configmap)
        container["envFrom"] = [{"configMapRef": {"name": vineyard_configmap}}]
    labels = build_labels(task, "replica") if task is not None else {}
    if task is not None:
        annotations = {**build_annotations(task), **annotations}
    return {
        "metadata": {"labels": labels, "annotations": annotations},
        "spec": spec,
        "container": container,
    }


def _replace_named(
    existing: Sequence[Mapping[str, Any]] | None, ours: Sequence[Mapping[str, Any]]
) -> list[dict[str, Any]]:
    """``existing`` without the entries named as one of ``ours``, then ``ours``."""
    names = {item["name"] for item in ours}
    return [dict(i) for i in existing or [] if i.get("name") not in names] + [dict(i) for i in ours]


def _main_container(spec: dict[str, Any], name: str) -> dict[str, Any]:
    """The container named ``name``, else the first one (KPO's base container)."""
    containers: list[dict[str, Any]] = spec.get("containers") or []
    if not containers:
        raise SpecError("spec.containers", [], "a replica pod needs a container")
    return next((c for c in containers if c.get("name") == name), containers[0])


def build_pod_with_replica(
    pod: Mapping[str, Any], additions: Mapping[str, Any], *, container_name: str = "base"
) -> dict[str, Any]:
    """A copy of Pod manifest ``pod`` with ``additions`` merged, under the restricted profile.

    The plan's placement (affinity, scheduler), env and chunk-list volume win over what
    ``pod`` has of the same names; resources and security contexts the user set are kept.
    """
    merged = copy.deepcopy(dict(pod))
    meta = merged.setdefault("metadata", {})
    ours = additions["metadata"]
    meta["labels"] = {**(meta.get("labels") or {}), **ours["labels"]}
    meta["annotations"] = {**(meta.get("annotations") or {}), **ours["annotations"]}
    spec = merged.setdefault("spec", {})
    extra = additions["spec"]
    spec["affinity"] = copy.deepcopy(extra["affinity"])
    spec["volumes"] = _replace_named(spec.get("volumes"), extra["volumes"])
    if "schedulerName" in extra:
        spec["schedulerName"] = extra["schedulerName"]
    container = _main_container(spec, container_name)
    fields = additions["container"]
    container["env"] = _replace_named(container.get("env"), fields["env"])
    container["volumeMounts"] = _replace_named(
        container.get("volumeMounts"), fields["volumeMounts"]
    )
    if fields.get("resources") and not container.get("resources"):
        container["resources"] = copy.deepcopy(fields["resources"])
    for source in fields.get("envFrom", []):
        if source not in (container.get("envFrom") or []):
            container["envFrom"] = [*(container.get("envFrom") or []), copy.deepcopy(source)]
    return build_restricted_pod(merged)


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
    sources: Sequence[DataSource] = (),
) -> dict[str, Any]:
    """The Pod for replica ``index`` of ``plan``, as mapped task instance ``index`` of ``task``.

    ``template``'s pod with :func:`build_replica_additions` merged, as the operator merges
    them into KubernetesPodOperator's pod. ``chunk_list`` is where the replica's list is
    (``build_chunk_lists(...).replicas``); ``pod_group`` puts the pod in a Volcano PodGroup.
    """
    if not 0 <= index < len(plan.replicas):
        raise SpecError("index", index, f"plan has {len(plan.replicas)} replicas")
    check_dns_label("namespace", namespace)
    replica = plan.replicas[index]
    replica_task = task.for_replica(replica.index)
    base = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": build_name(replica_task, "replica"), "namespace": namespace},
        "spec": template.pod_spec(template.container([], [])),
    }
    additions = build_replica_additions(
        node=replica.node,
        chunk_count=len(replica.chunks),
        affinity=build_affinity(replica, topology, plan=plan, policy=policy),
        env=build_replica_env(plan, index, chunk_list, sources),
        chunk_volume=build_chunk_volume(chunk_list),
        task=replica_task,
        vineyard_configmap=vineyard_configmap,
        pod_group=pod_group,
    )
    return stamp(build_pod_with_replica(base, additions, container_name=template.container_name))


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
    sources: Sequence[DataSource] = (),
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
            sources=sources,
        )
        for index in range(len(plan.replicas))
    ]
