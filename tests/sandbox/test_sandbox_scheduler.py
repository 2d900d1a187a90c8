"""The binder: nodeSelector, node affinity, taints, resources, Unschedulable."""

from __future__ import annotations

from typing import Any

import pytest
from kubernetes import client  # type: ignore[import-untyped]  # no stubs

from datalocality_testcluster.sandbox.scheduler import choose_node, pod_requests
from tests.sandbox.conftest import pod, wait_for


def bound(core: client.CoreV1Api, body: dict[str, Any]) -> str:
    name = body["metadata"]["name"]
    core.create_namespaced_pod("default", body)
    return str(wait_for(lambda: core.read_namespaced_pod(name, "default").spec.node_name))


def required(
    *expressions: dict[str, Any], fields: list[dict[str, Any]] | None = None
) -> dict[str, Any]:
    term: dict[str, Any] = {"matchExpressions": list(expressions)}
    if fields:
        term["matchFields"] = fields
    return {
        "nodeAffinity": {
            "requiredDuringSchedulingIgnoredDuringExecution": {"nodeSelectorTerms": [term]}
        }
    }


def test_without_constraints_the_first_untainted_node_by_name(core: client.CoreV1Api) -> None:
    assert bound(core, pod("free")) == "a1"


def test_node_selector(core: client.CoreV1Api) -> None:
    assert (
        bound(core, pod("sel", nodeSelector={"topology.kubernetes.io/zone": "z-a", "rank": "7"}))
        == "a2"
    )


@pytest.mark.parametrize(
    ("expression", "node"),
    [
        ({"key": "rank", "operator": "In", "values": ["7"]}, "a2"),
        ({"key": "rank", "operator": "NotIn", "values": ["3"]}, "a2"),
        ({"key": "disk", "operator": "DoesNotExist"}, "a2"),
        ({"key": "rank", "operator": "Exists"}, "a1"),
        ({"key": "rank", "operator": "Gt", "values": ["5"]}, "a2"),
        ({"key": "rank", "operator": "Lt", "values": ["5"]}, "a1"),
    ],
)
def test_required_node_affinity_operators(
    core: client.CoreV1Api, expression: dict[str, Any], node: str
) -> None:
    assert bound(core, pod("aff", affinity=required(expression))) == node


def test_match_fields_on_node_name(core: client.CoreV1Api) -> None:
    fields = [{"key": "metadata.name", "operator": "In", "values": ["a2"]}]
    assert bound(core, pod("mf", affinity=required(fields=fields))) == "a2"


def test_preferred_terms_by_weight(core: client.CoreV1Api) -> None:
    preferred = [
        {
            "weight": 10,
            "preference": {
                "matchExpressions": [{"key": "disk", "operator": "In", "values": ["ssd"]}]
            },
        },
        {
            "weight": 50,
            "preference": {
                "matchExpressions": [{"key": "rank", "operator": "In", "values": ["7"]}]
            },
        },
    ]
    affinity = {"nodeAffinity": {"preferredDuringSchedulingIgnoredDuringExecution": preferred}}
    assert bound(core, pod("pref", affinity=affinity)) == "a2"
    preferred[0]["weight"] = 60
    assert bound(core, pod("pref2", affinity=affinity)) == "a1"  # ssd: a1 and (tainted) b1


def test_taints_need_tolerations(core: client.CoreV1Api) -> None:
    on_b = required({"key": "topology.kubernetes.io/zone", "operator": "In", "values": ["z-b"]})
    core.create_namespaced_pod("default", pod("no-tol", affinity=on_b))
    tolerations = [
        {"key": "dedicated", "operator": "Equal", "value": "gpu", "effect": "NoSchedule"}
    ]
    assert bound(core, pod("tol", affinity=on_b, tolerations=tolerations)) == "b1"
    assert core.read_namespaced_pod("no-tol", "default").spec.node_name is None


def test_resources_fill_nodes_then_unschedulable(core: client.CoreV1Api) -> None:
    big = [
        {
            "name": "base",
            "image": "x:1",
            "resources": {"requests": {"cpu": "1500m", "memory": "1Gi"}},
        }
    ]
    keep = {"sandbox.datalocality.io/run-seconds": "60"}
    zone_a = required({"key": "topology.kubernetes.io/zone", "operator": "In", "values": ["z-a"]})
    placed = [
        bound(core, pod(f"big{i}", containers=big, affinity=zone_a, annotations=keep))
        for i in range(3)
    ]
    assert placed == ["a1", "a2", "a2"]
    core.create_namespaced_pod(
        "default", pod("nofit", containers=big, affinity=zone_a, annotations=keep)
    )

    def condition() -> Any:
        conditions = core.read_namespaced_pod("nofit", "default").status.conditions or []
        return next(
            (c for c in conditions if c.type == "PodScheduled" and c.status == "False"), None
        )

    scheduled = wait_for(condition)
    assert scheduled.reason == "Unschedulable"
    assert (
        "0/3 nodes are available" in scheduled.message and "Insufficient cpu" in scheduled.message
    )
    events = wait_for(
        lambda: (
            core.list_namespaced_event("default", field_selector="involvedObject.name=nofit").items
        )
    )
    assert events[0].reason == "FailedScheduling" and events[0].type == "Warning"
    core.delete_namespaced_pod("big0", "default")  # frees a1: the pending pod is retried
    assert wait_for(lambda: core.read_namespaced_pod("nofit", "default").spec.node_name) == "a1"


def test_unschedulable_node_and_pod_count(core: client.CoreV1Api) -> None:
    core.patch_node("a1", {"spec": {"unschedulable": True}})
    assert bound(core, pod("cordoned")) == "a2"


def test_choose_node_is_pure_and_explains() -> None:
    node = {
        "metadata": {"name": "n", "labels": {}},
        "status": {"allocatable": {"cpu": "1", "pods": "1"}},
    }
    spec = {"containers": [{"name": "c", "resources": {"limits": {"cpu": "2"}}}]}
    assert pod_requests({"spec": spec})["cpu"] == 2
    assert choose_node({"spec": spec}, [node], {}) == (
        None,
        "0/1 nodes are available: 1 Insufficient cpu.",
    )
    used = {"n": pod_requests({"spec": {"containers": []}})}
    assert choose_node({"spec": {"containers": []}}, [node], used)[1].endswith("1 Too many pods.")
    tainted = {**node, "spec": {"taints": [{"key": "k", "effect": "NoExecute"}]}}
    assert "untolerated taint {k}" in choose_node({"spec": {}}, [tainted], {})[1]
