"""Put one replica of a plan onto the V1Pod KubernetesPodOperator built.

KPO builds the pod from its own arguments (image, command, template file...); what the
plan adds to it — node affinity, ``DATALOCALITY_*`` env and ``NODENAME``, the chunk-list
files projected at ``/etc/datalocality``, the planned node and chunk count as annotations,
our labels, the consumer's requests where the user set none, the restricted security
profile in every field the user left unset — is decided and merged by the same pure
functions that build the golden-tested manifests (:func:`datalocality.kube.pods.
build_replica_additions`, :func:`~datalocality.kube.pods.build_pod_with_replica`): the V1Pod
is serialised to its camelCase manifest, merged, and read back.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from kubernetes.client import ApiClient, Configuration  # type: ignore[import-untyped]
from kubernetes.client import models as k8s

from datalocality.errors import SpecError
from datalocality.kube.names import TaskKey
from datalocality.kube.pods import build_pod_with_replica, build_replica_additions
from datalocality.kube.security import build_restricted_pod
from datalocality.operators.entries import build_replica_chunk_volume


def to_model(data: Mapping[str, Any], kind: str) -> Any:
    """A kubernetes client model (``V1Affinity``...) from a camelCase dict."""
    api = ApiClient(configuration=Configuration())
    return api._ApiClient__deserialize(dict(data), kind)


def to_manifest(pod: k8s.V1Pod) -> dict[str, Any]:
    """The camelCase manifest of a V1Pod, as the client would send it."""
    manifest: dict[str, Any] = ApiClient(configuration=Configuration()).sanitize_for_serialization(
        pod
    )
    return manifest


def build_restricted_pod_request(pod: k8s.V1Pod) -> k8s.V1Pod:
    """``pod`` under the restricted Pod Security Standard where the user chose nothing: the
    pod's context and every container's, KubernetesPodOperator's XCom sidecar included
    (KPO gives it none, so a namespace enforcing ``restricted`` would refuse the pod)."""
    return to_model(build_restricted_pod(to_manifest(pod)), "V1Pod")


def build_entry_additions(
    replica: Mapping[str, Any], task: TaskKey | None = None
) -> dict[str, Any]:
    """What replica entry ``replica`` (as the plan task returns it) adds to a pod."""
    pod_group = replica.get("pod_group") or ""
    if not isinstance(pod_group, str):
        raise SpecError("replica.pod_group", pod_group, "must be a PodGroup name")
    chunk_count = replica["chunk_count"]
    if not isinstance(chunk_count, int) or isinstance(chunk_count, bool) or chunk_count < 0:
        raise SpecError("replica.chunk_count", chunk_count, "must be an integer >= 0")
    return build_replica_additions(
        node=str(replica["node"]),
        chunk_count=chunk_count,
        affinity=replica["affinity"],
        env=replica["env"],
        chunk_volume=build_replica_chunk_volume(replica),
        task=task,
        resources=replica.get("resources") or None,
        pod_group=pod_group,
    )


def build_replica_pod_request(
    pod: k8s.V1Pod,
    replica: Mapping[str, Any],
    *,
    task: TaskKey | None = None,
    container_name: str = "base",
) -> k8s.V1Pod:
    """A new V1Pod: ``pod`` with replica entry ``replica`` applied (``pod`` is left as is)."""
    additions = build_entry_additions(replica, task)
    merged = build_pod_with_replica(to_manifest(pod), additions, container_name=container_name)
    return to_model(merged, "V1Pod")
