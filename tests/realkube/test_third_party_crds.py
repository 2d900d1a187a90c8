"""Volcano's PodGroup and Karmada's PropagationPolicy, as our builders write them, judged
by the real kube-apiserver against the projects' published CRD schemas.

The schemas come from the projects' Go modules (build-binaries.sh): the PodGroup CRD
rendered by controller-gen from ``volcano.sh/apis`` types, Karmada's PropagationPolicy CRD
as its chart ships it (a Karmada control plane is a kube-apiserver serving that CRD).
"""

from __future__ import annotations

import copy
from typing import Any

import pytest
from kubernetes import client  # type: ignore[import-untyped]  # no stubs

from datalocality.errors import ApiRejected
from datalocality.kube.client import KubeClient
from datalocality.kube.karmada import build_propagation_policy, patch_propagation_policy
from datalocality.kube.names import LABEL_DAG_ID, TaskKey
from datalocality.kube.volcano import build_pod_group
from datalocality.model import Consumer, Resources, TopologyConstraint
from datalocality_testcluster.tenancy import Tenant
from tests.kube.conftest import api_client_for

TASK = TaskKey(dag_id="gang", run_id="manual__1", task_id="train.plan")
CONSUMER = Consumer(
    name="train",
    replicas=3,
    requests=Resources(cpu=1.5, memory=2 * 1024**3, pods=1),
    topology=TopologyConstraint(mode="hard", highest_tier_allowed=1),
)
SELECTOR = {
    "apiVersion": "v1",
    "kind": "Pod",
    "labelSelector": {"matchLabels": {LABEL_DAG_ID: "gang"}},
}


def test_the_provider_creates_the_pod_group_volcano_s_schema_accepts(tenant: Tenant) -> None:
    manifest = build_pod_group(CONSUMER, task=TASK, namespace=tenant.namespace, queue="ml")
    with api_client_for(tenant.kubeconfig_path) as api:  # the identity of deploy/rbac.yaml
        stored = KubeClient(api).create_or_get(manifest).object
    assert stored["spec"]["minMember"] == 3
    assert stored["spec"]["minResources"] == {"cpu": "4500m", "memory": str(6 * 1024**3)}
    assert stored["spec"]["networkTopology"] == {"mode": "hard", "highestTierAllowed": 1}
    assert stored["spec"]["queue"] == "ml"


@pytest.mark.parametrize(
    ("path", "value", "named"),
    [
        (("networkTopology", "mode"), "Hard", "spec.networkTopology.mode"),
        (("minMember",), "3", "spec.minMember"),
    ],
)
def test_volcano_s_schema_refuses_what_our_builder_never_writes(
    admin: client.ApiClient, path: tuple[str, ...], value: Any, named: str
) -> None:
    manifest = copy.deepcopy(build_pod_group(CONSUMER, task=TASK, namespace="default"))
    spec = manifest["spec"]
    for key in path[:-1]:
        spec = spec[key]
    spec[path[-1]] = value
    with pytest.raises(ApiRejected) as raised:
        KubeClient(admin).create_or_get(manifest)
    assert raised.value.status == 422 and named in raised.value.message, raised.value


def test_karmada_s_schema_accepts_our_policy_and_its_patch(admin: client.ApiClient) -> None:
    kube = KubeClient(admin)
    policy = build_propagation_policy(
        task=TASK, namespace="default", clusters=["eu"], resource_selectors=[SELECTOR]
    )
    stored = kube.create_or_get(policy).object
    assert stored["spec"]["resourceSelectors"] == [SELECTOR]
    assert stored["spec"]["placement"]["clusterAffinity"] == {"clusterNames": ["eu"]}
    patched = patch_propagation_policy(stored, clusters=["eu"], known_clusters=["eu", "us"])
    assert patched is not None
    custom = client.CustomObjectsApi(admin)
    replaced = custom.replace_namespaced_custom_object(
        "policy.karmada.io",
        "v1alpha1",
        "default",
        "propagationpolicies",
        stored["metadata"]["name"],
        patched,
    )
    assert replaced["spec"]["placement"]["clusterAffinity"]["exclude"] == ["us"]


def test_karmada_s_schema_refuses_a_label_selector_string(admin: client.ApiClient) -> None:
    policy = build_propagation_policy(
        task=TASK, namespace="default", clusters=["eu"], resource_selectors=[SELECTOR]
    )
    policy["spec"]["resourceSelectors"][0]["labelSelector"] = f"{LABEL_DAG_ID}=gang"
    with pytest.raises(ApiRejected) as raised:
        KubeClient(admin).create_or_get(policy)
    assert raised.value.status == 422, raised.value
    assert "spec.resourceSelectors[0].labelSelector" in raised.value.message, raised.value
