"""Node inventories: our short YAML format, or the output of ``kubectl get nodes -o yaml``.

The short format is a list of nodes (top level, under ``nodes:``, or under
``topology.nodes`` as in a placement request such as ``examples/clickstream.yaml``)::

    nodes:
      - name: worker-a1
        zone: eu-west-1a          # label topology.kubernetes.io/zone
        region: eu-west-1         # label topology.kubernetes.io/region
        labels: {disktype: ssd}
        allocatable: {cpu: "4", memory: 16Gi, pods: 110}
        requested: {cpu: "3"}     # already taken: a reserved pod holds it
        taints: [{key: dedicated, value: gateway, effect: NoSchedule}]
        annotations: {datalocality.io/load: "0.4"}
        unschedulable: false

As in a placement request, ``gateway: true`` adds the ``datalocality.io/gateway`` taint
(PreferNoSchedule) and ``load: 0.9`` the ``datalocality.io/load`` annotation, which is
where the Kubernetes topology reader finds them.

A ``v1 List`` (or ``NodeList``) of ``Node`` objects, or YAML documents that are Nodes,
are taken as they are (uid, resourceVersion and the like are dropped).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

import yaml

from datalocality.kube.names import ANNOTATION_LOAD, TAINT_GATEWAY

Obj = dict[str, Any]
ZONE = "topology.kubernetes.io/zone"
REGION = "topology.kubernetes.io/region"
DEFAULT_ALLOCATABLE = {"cpu": "4", "memory": "16Gi", "pods": "110", "ephemeral-storage": "100Gi"}
RESERVED_NAMESPACE = "kube-system"


class InventoryError(ValueError):
    """An inventory that cannot be read; the message says where."""


@dataclass(frozen=True)
class Inventory:
    """Node objects, and pods standing for resources already requested on them."""

    nodes: list[Obj]
    reserved_pods: list[Obj]


def demo_inventory_path() -> Path:
    """The shipped demo inventory (six nodes in two zones)."""
    return Path(
        str(
            resources.files("datalocality_testcluster.sandbox").joinpath("inventories", "demo.yaml")
        )
    )


def load_inventory(source: str | Path | Mapping[str, Any] | list[Any] | None = None) -> Inventory:
    """Read an inventory from a file path, parsed YAML, or the demo inventory for None."""
    if source is None:
        source = demo_inventory_path()
    if isinstance(source, str | Path):
        path = Path(source)
        try:
            documents = [
                d for d in yaml.safe_load_all(path.read_text(encoding="utf-8")) if d is not None
            ]
        except (OSError, yaml.YAMLError) as exc:
            raise InventoryError(f"{path}: {exc}") from None
        data: Any = documents[0] if len(documents) == 1 else documents
    else:
        data = source
    return _parse(data)


def _parse(data: Any) -> Inventory:
    if isinstance(data, Mapping) and data.get("kind") in {"List", "NodeList"}:
        items = list(data.get("items") or [])
    elif isinstance(data, Mapping) and data.get("kind") == "Node":
        items = [data]
    elif isinstance(data, Mapping) and "topology" in data:
        items = list((data["topology"] or {}).get("nodes") or [])
    elif isinstance(data, Mapping):
        items = list(data.get("nodes") or [])
    elif isinstance(data, list):
        items = data
    else:
        raise InventoryError(
            "an inventory is a list of nodes, a mapping with nodes:, or a v1 List of Node"
        )
    if not items:
        raise InventoryError("the inventory has no nodes")
    nodes: list[Obj] = []
    reserved: list[Obj] = []
    for i, item in enumerate(items):
        if not isinstance(item, Mapping):
            raise InventoryError(f"nodes[{i}]: not a mapping")
        if item.get("kind") == "Node":
            nodes.append(_from_node(dict(item), i))
        else:
            node, pod = _from_short(dict(item), i)
            nodes.append(node)
            if pod is not None:
                reserved.append(pod)
    names = [n["metadata"]["name"] for n in nodes]
    duplicates = sorted({n for n in names if names.count(n) > 1})
    if duplicates:
        raise InventoryError(f"duplicate node names: {duplicates}")
    return Inventory(nodes, reserved)


def _status(index: int, allocatable: Obj, name: str) -> Obj:
    return {
        "capacity": dict(allocatable),
        "allocatable": dict(allocatable),
        "conditions": [
            {
                "type": "Ready",
                "status": "True",
                "reason": "KubeletReady",
                "message": "emulated kubelet is posting ready status (no containers run)",
            }
        ],
        "addresses": [
            {"type": "InternalIP", "address": f"10.0.{index // 250}.{index % 250 + 2}"},
            {"type": "Hostname", "address": name},
        ],
        "nodeInfo": {
            "kubeletVersion": "v1.33.0-datalocality-sandbox",
            "containerRuntimeVersion": "none://emulated",
            "osImage": "datalocality sandbox (emulated, runs no containers)",
            "operatingSystem": "linux",
            "architecture": "amd64",
            "kernelVersion": "",
            "kubeProxyVersion": "",
            "machineID": "",
            "systemUUID": "",
            "bootID": "",
        },
    }


def _from_short(item: Obj, index: int) -> tuple[Obj, Obj | None]:
    name = item.get("name")
    if not isinstance(name, str) or not name:
        raise InventoryError(f"nodes[{index}].name: required")
    labels = {str(k): str(v) for k, v in (item.get("labels") or {}).items()}
    labels.setdefault("kubernetes.io/hostname", name)
    labels.setdefault("kubernetes.io/os", "linux")
    labels.setdefault("kubernetes.io/arch", "amd64")
    for key, label in (("zone", ZONE), ("region", REGION)):
        if item.get(key):
            labels[label] = str(item[key])
    allocatable = {
        **DEFAULT_ALLOCATABLE,
        **{str(k): str(v) for k, v in (item.get("allocatable") or {}).items()},
    }
    annotations = {str(k): str(v) for k, v in (item.get("annotations") or {}).items()}
    if item.get("load") is not None:
        annotations.setdefault(ANNOTATION_LOAD, str(item["load"]))
    taints = list(item.get("taints") or [])
    if item.get("gateway") and not any(t.get("key") == TAINT_GATEWAY for t in taints):
        taints.append({"key": TAINT_GATEWAY, "value": "true", "effect": "PreferNoSchedule"})
    node: Obj = {
        "apiVersion": "v1",
        "kind": "Node",
        "metadata": {
            "name": name,
            "labels": labels,
            **({"annotations": annotations} if annotations else {}),
        },
        "spec": {
            "podCIDR": f"10.244.{index}.0/24",
            "taints": taints,
            **({"unschedulable": True} if item.get("unschedulable") else {}),
        },
        "status": _status(index, allocatable, name),
    }
    if not node["spec"]["taints"]:
        del node["spec"]["taints"]
    requested = {str(k): str(v) for k, v in (item.get("requested") or {}).items() if k != "pods"}
    if not requested:
        return node, None
    pod = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {
            "name": f"sandbox-reserved-{name}",
            "namespace": RESERVED_NAMESPACE,
            "labels": {"app.kubernetes.io/managed-by": "datalocality-sandbox"},
            "annotations": {
                "sandbox.datalocality.io/log": f"stands for what other workloads request on {name}"
            },
        },
        "spec": {
            "nodeName": name,
            "restartPolicy": "Always",
            "tolerations": [{"operator": "Exists"}],
            "containers": [
                {
                    "name": "reserved",
                    "image": "sandbox/reserved:1",
                    "resources": {"requests": requested},
                }
            ],
        },
    }
    return node, pod


def _from_node(item: Obj, index: int) -> Obj:
    meta = item.get("metadata") or {}
    name = meta.get("name")
    if not name:
        raise InventoryError(f"items[{index}].metadata.name: required")
    status = item.get("status") or {}
    allocatable = status.get("allocatable") or status.get("capacity") or DEFAULT_ALLOCATABLE
    fresh = _status(index, allocatable, name)
    fresh["capacity"] = status.get("capacity") or allocatable
    for key in ("addresses", "nodeInfo"):
        if status.get(key):
            fresh[key] = status[key]
    spec = {
        k: v
        for k, v in (item.get("spec") or {}).items()
        if k in {"taints", "unschedulable", "podCIDR", "providerID"}
    }
    return {
        "apiVersion": "v1",
        "kind": "Node",
        "metadata": {
            "name": name,
            "labels": dict(meta.get("labels") or {}),
            "annotations": {
                k: v for k, v in (meta.get("annotations") or {}).items() if "kubectl" not in k
            },
        },
        "spec": spec,
        "status": fresh,
    }
