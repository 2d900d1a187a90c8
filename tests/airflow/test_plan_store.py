"""The plan's summary, its chunk lists written to both clusters, and fetch_full_plan.

100,000 realistic chunk ids go to the real control plane (its apiserver and etcd judge
the sizes) and to the emulator; fetch_full_plan must give back exactly the plan's lists,
a retry with the same plan adopts, one with another plan rewrites and deletes what is
left over, and a summary whose lists were rewritten is refused.
"""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest

from datalocality.errors import IncompleteChunkLists, SpecError
from datalocality.kube.chunk_lists import build_chunk_lists, chunk_list_selector
from datalocality.kube.client import KubeClient
from datalocality.kube.objects import name_of
from datalocality.kube.resources import CONFIGMAPS
from datalocality.model import PlacementPlan
from datalocality.operators.plan_store import (
    build_plan_summary,
    fetch_full_plan,
    plan_from_summary,
    put_chunk_lists,
    replica_tiers,
)
from datalocality_testcluster.clusters import ProviderCluster
from tests.kube.conftest import api_client_for
from tests.kube.test_chunk_lists import BALANCED, IDS, LOPSIDED, PLAN_TASK, pod_of

NAMESPACE = "default"  # the provider's namespace on both clusters


def without_transfers(plan: PlacementPlan) -> PlacementPlan:
    return plan.model_copy(update={"transfers": ()})


def test_summary_holds_no_ids_and_gives_back_the_plan_with_its_lists() -> None:
    lists = build_chunk_lists(BALANCED, task=PLAN_TASK, namespace=NAMESPACE)
    summary = build_plan_summary(BALANCED, lists)
    text = json.dumps(summary)
    assert IDS[0] not in text and len(text) < 100 * 1024  # 100 replicas, 100 operations
    replica = summary["replicas"][3]
    assert replica["chunk_count"] == 1000 and replica["chunk_list"]["key"] == "replica-3"
    assert summary["totals"]["chunks"] == 100_000
    assert [o["chunk_count"] for o in summary["operations"]] == [1000] * 100
    lists_by_key = {f"replica-{r.index}": r.chunks for r in BALANCED.replicas}
    lists_by_key |= {f"operation-{i}": o.chunks for i, o in enumerate(BALANCED.operations)}
    assert plan_from_summary(summary, lists_by_key) == without_transfers(BALANCED)
    bare = plan_from_summary(summary)
    assert all(r.chunks == () for r in bare.replicas) and bare.totals == BALANCED.totals
    with pytest.raises(SpecError, match=r"^summary\.replicas\[0\]\.chunk_list\.shards"):
        broken = {**replica, "chunk_list": {**replica["chunk_list"], "shards": 0}}
        plan_from_summary({**summary, "replicas": [broken]})


def test_tier_mix_per_replica_adds_up_to_the_totals() -> None:
    import yaml

    from datalocality.model import PlacementRequest
    from datalocality.placement import plan
    from tests.airflow.support import REPO

    request = PlacementRequest.parse(
        yaml.safe_load((REPO / "examples/clickstream.yaml").read_text())
    )
    chosen = plan(request, "spread")  # locality-blind: bytes cross every tier
    tiers = replica_tiers(chosen)
    assert [sum(t) for t in tiers] == [r.bytes for r in chosen.replicas]
    assert [sum(column) for column in zip(*tiers, strict=True)] == list(chosen.totals.bytes_by_tier)


@pytest.fixture
def kube(cluster: ProviderCluster) -> Iterator[KubeClient]:
    """A client with the provider's own account (its RBAC on the real control plane)."""
    api = api_client_for(cluster.kubeconfig_path)
    yield KubeClient(api)
    api.close()


def stored(kube: KubeClient) -> dict[str, str]:
    """Name -> resourceVersion of the plan task's chunk-list ConfigMaps."""
    found, _ = kube.list(CONFIGMAPS, NAMESPACE, label_selector=chunk_list_selector(PLAN_TASK))
    return {name_of(c): c["metadata"]["resourceVersion"] for c in found}


def test_full_plans_round_trip_through_the_cluster(kube: KubeClient) -> None:
    first = build_chunk_lists(BALANCED, task=PLAN_TASK, namespace=NAMESPACE)
    summary = build_plan_summary(BALANCED, first)
    written = put_chunk_lists(kube, first, PLAN_TASK)
    assert sorted(stored(kube)) == sorted(written) and len(written) == 34
    assert fetch_full_plan(kube, summary) == without_transfers(BALANCED)

    versions = stored(kube)
    put_chunk_lists(kube, first, PLAN_TASK)  # a retry with the same plan adopts
    assert stored(kube) == versions

    # A retry that planned otherwise: 17 ConfigMaps rewritten, the other 17 deleted.
    second = build_chunk_lists(LOPSIDED, task=PLAN_TASK, namespace=NAMESPACE)
    put_chunk_lists(kube, second, PLAN_TASK)
    assert sorted(stored(kube)) == sorted(name_of(c) for c in second.configmaps)
    lopsided = build_plan_summary(LOPSIDED, second)
    assert fetch_full_plan(kube, lopsided) == without_transfers(LOPSIDED)
    with pytest.raises(IncompleteChunkLists, match="holds other lists"):
        fetch_full_plan(kube, summary)

    # The apiserver admits a pod mounting 16 shards (restricted Pod Security enforced).
    pod = pod_of(LOPSIDED, second, 0)
    pod["metadata"]["namespace"] = NAMESPACE
    assert kube.create_or_get(pod).created
