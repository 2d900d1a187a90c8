"""Karmada as a platform runs it: the topology read from two member clusters' own
apiservers, the plan's PropagationPolicy applied to a Karmada apiserver.

Both members are real control planes (etcd, kube-apiserver, scheduler, controller-manager,
kwok nodes) whose nodes carry no cluster label, as Karmada members' do not; the Karmada
apiserver is member ``eu``'s kube-apiserver serving Karmada's published PropagationPolicy
CRD (a Karmada control plane is a kube-apiserver with that CRD; its controllers, which
would propagate the pods, are not run here).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import pytest

from datalocality.errors import ObjectConflict, SpecError
from datalocality.kube.claims import crd_manifests
from datalocality.kube.client import KubeClient
from datalocality.kube.karmada import build_propagation_policy, plan_clusters
from datalocality.kube.members import apply_propagation_policy, fetch_member_topology
from datalocality.kube.names import ANNOTATION_RUN_KEY, LABEL_DAG_ID, TaskKey
from datalocality.kube.resources import resource_of
from datalocality.model import Chunk, Consumer, DataSource, PlacementRequest
from datalocality.placement import plan
from datalocality_testcluster import start_control_plane
from datalocality_testcluster.tenancy import Tenant, provision_tenant
from tests.kube.conftest import api_client_for

MEMBERS = {
    "eu": [
        {"name": "eu-1", "zone": "eu-a", "region": "eu"},
        {"name": "eu-2", "zone": "eu-b", "region": "eu"},
    ],
    "us": [
        {"name": "us-1", "zone": "us-a", "region": "us"},
        {"name": "us-2", "zone": "us-a", "region": "us"},
    ],
}
TASK = TaskKey(dag_id="multi_cluster", run_id="manual__1", task_id="plan")
SELECTOR = {
    "apiVersion": "v1",
    "kind": "Pod",
    "labelSelector": {"matchLabels": {LABEL_DAG_ID: "multi_cluster"}},
}


@pytest.fixture(scope="module")
def members(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Tenant]]:
    """Each member's provider identity (the service account of deploy/rbac.yaml)."""
    with ExitStack() as stack:
        tenants = {}
        for name, nodes in MEMBERS.items():
            plane = stack.enter_context(start_control_plane({"nodes": nodes}, crds=crd_manifests()))
            directory = Path(tmp_path_factory.mktemp(name))
            tenants[name] = stack.enter_context(provision_tenant(plane, "default", directory))
        yield tenants


def clients(members: dict[str, Tenant], stack: ExitStack) -> dict[str, KubeClient]:
    return {
        name: KubeClient(stack.enter_context(api_client_for(t.kubeconfig_path)))
        for name, t in members.items()
    }


def test_the_topology_comes_from_each_member_and_the_plan_stays_with_the_data(
    members: dict[str, Tenant],
) -> None:
    with ExitStack() as stack:
        topology = fetch_member_topology(clients(members, stack))
    assert {(n.name, n.cluster, n.zone) for n in topology.nodes} == {
        ("eu-1", "eu", "eu-a"),
        ("eu-2", "eu", "eu-b"),
        ("us-1", "us", "us-a"),
        ("us-2", "us", "us-a"),
    }
    logs = DataSource(
        system="hdfs",
        name="/logs/clicks",
        chunks=[Chunk(id=f"c{i}", size=2**30, locations=[f"us-{1 + i % 2}"]) for i in range(4)],
        locality={"clusters": ["us"]},
        require_locality=True,
    )
    request = PlacementRequest(topology=topology, consumer=Consumer(replicas=2), sources=[logs])
    chosen = plan(request, "optimal")
    assert {r.node for r in chosen.replicas} == {"us-1", "us-2"}
    assert plan_clusters(chosen, [logs]) == ["us"]


def test_the_policy_is_applied_on_the_karmada_apiserver_adopted_and_updated(
    members: dict[str, Tenant],
) -> None:
    def policy(clusters: list[str]) -> dict[str, Any]:
        return build_propagation_policy(
            task=TASK,
            namespace=members["eu"].namespace,
            clusters=clusters,
            resource_selectors=[SELECTOR],
        )

    with api_client_for(members["eu"].kubeconfig_path) as api:  # the Karmada apiserver
        karmada = KubeClient(api)
        stored = apply_propagation_policy(karmada, policy(["us"]))
        assert stored["spec"]["placement"]["clusterAffinity"] == {"clusterNames": ["us"]}
        assert stored["spec"]["propagateDeps"] is True  # the chunk-list ConfigMaps follow
        again = apply_propagation_policy(karmada, policy(["us"]))  # a retry adopts
        assert again["metadata"]["resourceVersion"] == stored["metadata"]["resourceVersion"]
        # a rerun of the same task that planned another cluster brings the policy along
        moved = apply_propagation_policy(karmada, policy(["eu", "us"]))
        assert moved["spec"]["placement"]["clusterAffinity"] == {"clusterNames": ["eu", "us"]}
        # another run's policy of the same name is not ours to change
        foreign = policy(["eu"])
        foreign["metadata"]["annotations"][ANNOTATION_RUN_KEY] = "someone-else"
        with pytest.raises(ObjectConflict, match="not this task's"):
            apply_propagation_policy(karmada, foreign)
        name = stored["metadata"]["name"]
        current = karmada.get(resource_of(stored), name, members["eu"].namespace)
        assert current is not None
        assert current["spec"]["placement"]["clusterAffinity"] == {"clusterNames": ["eu", "us"]}


def test_a_node_name_two_members_share_is_refused_naming_both(
    members: dict[str, Tenant],
) -> None:
    with ExitStack() as stack:
        made = clients(members, stack)
        with pytest.raises(SpecError, match=r"member_clusters\.twin.*also in member eu"):
            fetch_member_topology({"eu": made["eu"], "twin": made["eu"]})


def test_the_plan_operator_reads_its_topology_from_the_members(
    members: dict[str, Tenant],
) -> None:
    from datalocality.operators import DataLocalityPlanOperator

    access = {
        name: {"kubernetes_conn_id": None, "config_file": str(t.kubeconfig_path)}
        for name, t in members.items()
    }
    operator = DataLocalityPlanOperator(
        task_id="plan", inputs=[{"system": "hdfs", "dataSourceName": "/x"}], member_clusters=access
    )
    with api_client_for(members["eu"].kubeconfig_path) as api:
        topology = operator.fetch_plan_topology(KubeClient(api))
    assert {n.cluster for n in topology.nodes} == {"eu", "us"} and len(topology.nodes) == 4
    with pytest.raises(SpecError, match=r"member_clusters\.us\.kubeconfig"):
        DataLocalityPlanOperator(
            task_id="bad",
            inputs=[{"system": "hdfs", "dataSourceName": "/x"}],
            member_clusters={"us": {"kubeconfig": "/k"}},
        )
