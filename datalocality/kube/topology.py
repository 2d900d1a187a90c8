"""The placement topology as a cluster describes it: Node objects plus the pods on them.

Placement needs each node's zone, region, cluster, allocatable resources and what is
already requested there. Kubernetes keeps the first four on the Node (well-known
topology labels, ``status.allocatable``) and the last one only implicitly, as the
requests of the non-terminated pods bound to it; :func:`build_topology` adds those up the
way the kube-scheduler does. Pure: it reads plain dicts returned by the API.

>>> node = {"metadata": {"name": "n1", "labels": {"topology.kubernetes.io/zone": "z"}},
...         "status": {"allocatable": {"cpu": "4", "memory": "8Gi", "pods": "110"}}}
>>> pod = {"spec": {"nodeName": "n1", "containers": [{"resources": {"requests": {"cpu": "1"}}}]},
...        "status": {"phase": "Running"}}
>>> t = build_topology([node], [pod])
>>> (t.nodes[0].zone, t.nodes[0].requested.cpu, t.nodes[0].requested.pods)
('z', 1.0, 1)
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from datalocality.errors import SpecError
from datalocality.kube.names import ANNOTATION_LOAD, LABEL_CLUSTER, LABEL_NODE_TYPE, TAINT_GATEWAY
from datalocality.model import Node, Topology
from datalocality.model.quantities import parse_bytes, parse_quantity

ZONE_LABEL = "topology.kubernetes.io/zone"
REGION_LABEL = "topology.kubernetes.io/region"
_TERMINATED = frozenset({"Succeeded", "Failed"})


def _pod_requests(pod: Mapping[str, Any]) -> tuple[float, int]:
    """CPU cores and memory bytes a pod requests (containers summed, init containers max)."""
    spec = pod.get("spec") or {}
    cpu, memory = 0.0, 0
    for container in spec.get("containers") or []:
        requests = (container.get("resources") or {}).get("requests") or {}
        cpu += parse_quantity("cpu", requests.get("cpu", 0))
        memory += parse_bytes("memory", requests.get("memory", 0))
    for container in spec.get("initContainers") or []:
        requests = (container.get("resources") or {}).get("requests") or {}
        cpu = max(cpu, parse_quantity("cpu", requests.get("cpu", 0)))
        memory = max(memory, parse_bytes("memory", requests.get("memory", 0)))
    return cpu, memory


def build_topology(
    nodes: Iterable[Mapping[str, Any]],
    pods: Iterable[Mapping[str, Any]] = (),
    *,
    cluster: str = "",
    bandwidth: Mapping[int, float] | None = None,
) -> Topology:
    """A Topology of schedulable nodes, with the requests of the pods running on them.

    ``cluster`` names the cluster when nodes carry no ``datalocality.io/cluster`` label.
    Unschedulable nodes are left out; a node tainted ``datalocality.io/gateway`` is a
    gateway, and its ``datalocality.io/load`` annotation (0..1) its load. A bad load
    raises SpecError naming the node.
    """
    requested: dict[str, list[float]] = {}
    for pod in pods:
        node_name = (pod.get("spec") or {}).get("nodeName")
        phase = (pod.get("status") or {}).get("phase")
        if not node_name or phase in _TERMINATED:
            continue
        cpu, memory = _pod_requests(pod)
        used = requested.setdefault(str(node_name), [0.0, 0.0, 0.0])
        used[0] += cpu
        used[1] += memory
        used[2] += 1
    built: list[Node] = []
    for obj in nodes:
        meta = obj.get("metadata") or {}
        spec = obj.get("spec") or {}
        if spec.get("unschedulable"):
            continue
        labels = {str(k): str(v) for k, v in (meta.get("labels") or {}).items()}
        allocatable = dict((obj.get("status") or {}).get("allocatable") or {})
        used = requested.get(str(meta.get("name")), [0.0, 0.0, 0.0])
        taints = {t.get("key") for t in spec.get("taints") or []}
        load = _load_of(meta)
        built.append(
            Node(
                name=str(meta.get("name")),
                zone=labels.get(ZONE_LABEL, ""),
                region=labels.get(REGION_LABEL, ""),
                cluster=labels.get(LABEL_CLUSTER, cluster),
                labels=labels,
                node_type=labels.get(LABEL_NODE_TYPE, ""),
                gateway=TAINT_GATEWAY in taints,
                load=load,
                allocatable={
                    key: (int(allocatable[key]) if key == "pods" else allocatable[key])
                    for key in ("cpu", "memory", "pods")
                    if key in allocatable
                },
                requested={"cpu": used[0], "memory": int(used[1]), "pods": int(used[2])},
            )
        )
    if bandwidth is None:
        return Topology(nodes=built)
    return Topology(nodes=built, bandwidth=dict(bandwidth))


def _load_of(meta: Mapping[str, Any]) -> float:
    """The node's load annotation as a number (0 when absent)."""
    raw = (meta.get("annotations") or {}).get(ANNOTATION_LOAD)
    if raw is None:
        return 0.0
    try:
        load = float(raw)
    except (TypeError, ValueError):
        load = -1.0
    if not 0.0 <= load <= 1.0:
        field = f"nodes[{meta.get('name')}].metadata.annotations.{ANNOTATION_LOAD}"
        raise SpecError(field, raw, "must be a number from 0 to 1")
    return load
