"""Put one replica of a plan onto the V1Pod KubernetesPodOperator built.

KPO builds the pod from its own arguments (image, command, template file...); this adds
what the plan decided: the node affinity, the ``DATALOCALITY_*`` env and ``NODENAME``, the
chunk-list files projected at ``/etc/datalocality``, the planned node as an annotation,
our labels, and — only where the user set nothing — the consumer's requests
(``build_restricted_pod_request`` adds the restricted security profile to every pod the
provider's KPO subclasses build). Pure: the same replica entry always gives the same pod, so
it is tested without a cluster.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from kubernetes.client import ApiClient, Configuration  # type: ignore[import-untyped]
from kubernetes.client import models as k8s

from datalocality.kube.names import (
    ANNOTATION_CHUNK_COUNT,
    ANNOTATION_PLANNED_NODE,
    TaskKey,
    build_annotations,
    build_labels,
)
from datalocality.kube.security import container_security_context, pod_security_context
from datalocality.operators.entries import build_replica_chunk_volume


def to_model(data: Mapping[str, Any], kind: str) -> Any:
    """A kubernetes client model (``V1Affinity``...) from a camelCase dict."""
    api = ApiClient(configuration=Configuration())
    return api._ApiClient__deserialize(dict(data), kind)


def build_restricted_pod_request(pod: k8s.V1Pod) -> k8s.V1Pod:
    """``pod`` under the restricted Pod Security Standard where the user chose nothing: the
    pod's context and every container's, KubernetesPodOperator's XCom sidecar included
    (KPO gives it none, so a namespace enforcing ``restricted`` would refuse the pod)."""
    spec = pod.spec
    if not spec.security_context:
        spec.security_context = to_model(pod_security_context(), "V1PodSecurityContext")
    for container in [*(spec.init_containers or []), *spec.containers]:
        if container.security_context is None:
            context = to_model(container_security_context(), "V1SecurityContext")
            container.security_context = context
    return pod


def build_replica_pod_request(
    pod: k8s.V1Pod,
    replica: Mapping[str, Any],
    *,
    task: TaskKey | None = None,
    container_name: str = "base",
) -> k8s.V1Pod:
    """``pod`` with replica ``replica`` applied (the same object, edited, is returned)."""
    spec = pod.spec
    spec.affinity = to_model(replica["affinity"], "V1Affinity")
    container = next((c for c in spec.containers if c.name == container_name), spec.containers[0])
    ours = [to_model(env, "V1EnvVar") for env in replica["env"]]
    names = {env.name for env in ours}
    container.env = [e for e in container.env or [] if e.name not in names] + ours
    volume, mount = build_replica_chunk_volume(replica)
    spec.volumes = [v for v in spec.volumes or [] if v.name != volume["name"]]
    spec.volumes.append(to_model(volume, "V1Volume"))
    container.volume_mounts = [m for m in container.volume_mounts or [] if m.name != mount["name"]]
    container.volume_mounts.append(to_model(mount, "V1VolumeMount"))
    resources = replica.get("resources") or {}
    if resources and container.resources is None:
        container.resources = to_model(resources, "V1ResourceRequirements")
    meta = pod.metadata
    annotations = dict(meta.annotations or {})
    annotations[ANNOTATION_PLANNED_NODE] = str(replica["node"])
    annotations[ANNOTATION_CHUNK_COUNT] = str(replica["chunk_count"])
    labels = dict(meta.labels or {})
    if task is not None:
        labels.update(build_labels(task, "replica"))
        annotations.update(build_annotations(task))
    meta.annotations = annotations
    meta.labels = labels
    return pod
