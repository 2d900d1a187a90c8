"""DataLocalityPodOperator's pod requests, built without a cluster (``dry_run=True``)."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
import yaml

from datalocality.kube.chunk_lists import ChunkLists, build_chunk_lists, read_chunk_list
from datalocality.kube.names import TaskKey
from datalocality.model import PlacementPlan, PlacementRequest
from datalocality.operators.entries import build_replica_entries
from datalocality.placement import plan

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "clickstream.yaml"
PLAN_TASK = TaskKey(dag_id="clickstream", run_id="manual__1", task_id="sessionize.plan")


def _request(**consumer: Any) -> PlacementRequest:
    data = yaml.safe_load(EXAMPLE.read_text(encoding="utf-8"))
    data["consumer"].update(consumer)
    return PlacementRequest.parse(data)


def _entries(request: PlacementRequest) -> tuple[PlacementPlan, list[dict[str, Any]]]:
    chosen, _, entries = _planned(request)
    return chosen, entries


def _planned(request: PlacementRequest) -> tuple[PlacementPlan, ChunkLists, list[dict[str, Any]]]:
    chosen = plan(request)
    lists = build_chunk_lists(chosen, task=PLAN_TASK, namespace="analytics")
    entries = build_replica_entries(
        chosen,
        topology=request.topology,
        consumer=request.consumer,
        chunk_lists=lists,
        namespace="analytics",
        resources={"requests": {"cpu": "500m", "memory": "1Gi"}},
    )
    return chosen, lists, entries


def _manifest(replica: dict[str, Any], context: Any = None, **options: Any) -> dict[str, Any]:
    from kubernetes.client import ApiClient  # type: ignore[import-untyped]  # kubernetes ships no stubs

    from datalocality.operators import DataLocalityPodOperator

    op = DataLocalityPodOperator(task_id="replica", image="trainer:1", replica=replica, **options)
    pod = op.build_pod_request_obj(context, dry_run=True)
    manifest: dict[str, Any] = ApiClient().sanitize_for_serialization(pod)
    return manifest


def _context(map_index: int) -> dict[str, Any]:
    ti = SimpleNamespace(
        dag_id="clickstream", task_id="sessionize.replica", map_index=map_index, try_number=1
    )
    return {"ti": ti, "run_id": "manual__1", "dag": SimpleNamespace(dag_id="clickstream")}


def test_one_entry_per_replica_with_its_node_and_where_its_chunks_are(airflow_db: Path) -> None:
    from datalocality.kube.chunk_lists import ChunkListRef

    chosen, lists, entries = _planned(_request(topology=None))
    data = {c["metadata"]["name"]: c["data"] for c in lists.configmaps}
    assert [e["replica"]["index"] for e in entries] == [0, 1, 2]
    for entry, replica in zip(entries, chosen.replicas, strict=True):
        assert entry["replica"]["node"] == replica.node
        assert entry["replica"]["chunk_count"] == len(replica.chunks)
        ref = ChunkListRef.parse(entry["replica"]["chunk_list"])
        assert ref.key == f"replica-{replica.index}"
        assert read_chunk_list(ref, data) == list(replica.chunks)
    all_chunks = sorted(c for r in chosen.replicas for c in r.chunks)
    assert all_chunks == [f"part-{i:02d}" for i in range(12)]


def test_pod_has_hard_affinity_env_chunk_list_and_configmap(airflow_db: Path) -> None:
    chosen, entries = _entries(_request(topology=None))
    replica = entries[2]["replica"]
    manifest = _manifest(replica)
    spec = manifest["spec"]
    terms = spec["affinity"]["nodeAffinity"]["requiredDuringSchedulingIgnoredDuringExecution"]
    expression = terms["nodeSelectorTerms"][0]["matchExpressions"][0]
    assert expression == {
        "key": "kubernetes.io/hostname",
        "operator": "In",
        "values": [chosen.replicas[2].node],
    }
    container = spec["containers"][0]
    env = {e["name"]: e.get("value", e.get("valueFrom")) for e in container["env"]}
    name = "sessionize-plan-chunks-586cc07bfb25-0"
    assert env["DATALOCALITY_CHUNKS"] == {"configMapKeyRef": {"name": name, "key": "replica-2.env"}}
    assert env["DATALOCALITY_CHUNK_COUNT"] == str(len(chosen.replicas[2].chunks))
    assert env["DATALOCALITY_REPLICA"] == "2"
    assert env["DATALOCALITY_PLANNED_NODE"] == chosen.replicas[2].node
    assert env["NODENAME"] == {"fieldRef": {"fieldPath": "spec.nodeName"}}
    assert container["resources"] == {"requests": {"cpu": "500m", "memory": "1Gi"}}
    assert container["volumeMounts"] == [
        {"mountPath": "/etc/datalocality", "name": "datalocality-chunks", "readOnly": True}
    ]
    items = [
        {"key": "replica-2.json", "path": "chunks.json"},
        {"key": "replica-2.json", "path": "chunks-0.json"},
    ]
    assert spec["volumes"] == [
        {
            "name": "datalocality-chunks",
            "projected": {"sources": [{"configMap": {"name": name, "items": items}}]},
        }
    ]
    assert manifest["metadata"]["namespace"] == "analytics"
    assert manifest["metadata"]["annotations"]["datalocality.io/planned-node"] == (
        chosen.replicas[2].node
    )
    assert container["securityContext"]["allowPrivilegeEscalation"] is False
    assert spec["securityContext"]["runAsNonRoot"] is True


def test_soft_topology_gives_preferred_terms_only(airflow_db: Path) -> None:
    _, entries = _entries(_request())  # the example's soft region rule
    affinity = _manifest(entries[0]["replica"])["spec"]["affinity"]["nodeAffinity"]
    assert "requiredDuringSchedulingIgnoredDuringExecution" not in affinity
    weights = [t["weight"] for t in affinity["preferredDuringSchedulingIgnoredDuringExecution"]]
    assert weights == sorted(weights, reverse=True)


def test_labels_and_names_come_from_the_task_instance(airflow_db: Path) -> None:
    from datalocality.kube.names import TaskKey, build_labels

    _, entries = _entries(_request(topology=None))
    manifest = _manifest(entries[1]["replica"], _context(1))
    labels = manifest["metadata"]["labels"]
    key = TaskKey(dag_id="clickstream", run_id="manual__1", task_id="sessionize.replica")
    assert build_labels(key.for_replica(1), "replica").items() <= labels.items()
    assert labels["map_index"] == "1"  # KPO's own labels stay: reattach uses them
    assert manifest["metadata"]["name"].startswith("replica-")
    annotations = manifest["metadata"]["annotations"]
    assert annotations["datalocality.io/run-key"] == key.for_replica(1).run_key


def test_user_arguments_win_over_defaults(airflow_db: Path) -> None:
    from kubernetes.client import models as k8s

    _, entries = _entries(_request(topology=None))
    resources = k8s.V1ResourceRequirements(requests={"cpu": "2"})
    manifest = _manifest(
        entries[0]["replica"],
        container_resources=resources,
        env_vars={"MODE": "train"},
        labels={"team": "ml"},
    )
    container = manifest["spec"]["containers"][0]
    assert container["resources"] == {"requests": {"cpu": "2"}}
    names = [e["name"] for e in container["env"]]
    assert names[0] == "MODE" and "DATALOCALITY_CHUNKS" in names
    assert manifest["metadata"]["labels"]["team"] == "ml"


def test_a_malformed_replica_fails_without_retry(airflow_db: Path) -> None:
    from airflow.sdk.exceptions import AirflowFailException

    with pytest.raises(AirflowFailException, match=r"replica.*misses \['affinity'"):
        _manifest({"index": 0, "node": "n", "chunk_count": 0})
    _, entries = _entries(_request(topology=None))
    broken = {**entries[0]["replica"], "chunk_list": {"stem": "s", "key": "replica-0"}}
    with pytest.raises(AirflowFailException, match=r"^replica\.chunk_list\.first: Field required"):
        _manifest(broken)


def test_no_replica_is_plain_kpo(airflow_db: Path) -> None:
    from kubernetes.client import ApiClient

    from datalocality.operators import DataLocalityPodOperator

    pod = DataLocalityPodOperator(task_id="t", image="x:1").build_pod_request_obj(dry_run=True)
    manifest = ApiClient().sanitize_for_serialization(pod)
    assert "affinity" not in manifest["spec"] or not manifest["spec"]["affinity"]


@pytest.mark.parametrize("operator", ["DataLocalityPodOperator", "ProduceChunksPodOperator"])
def test_pods_with_the_xcom_sidecar_meet_the_restricted_profile(
    airflow_db: Path, operator: str
) -> None:
    """KPO adds its XCom sidecar with no security context; a namespace enforcing
    ``restricted`` would refuse such a pod (tests/realkube shows the real apiserver does)."""
    from kubernetes.client import ApiClient

    from datalocality import operators
    from datalocality.kube.security import DEFAULT_RUN_AS_USER
    from datalocality_testcluster.sandbox.podsecurity import restricted_violations

    _, entries = _entries(_request(topology=None))
    options: dict[str, Any] = {"task_id": "t", "image": "trainer:1", "do_xcom_push": True}
    if operator == "DataLocalityPodOperator":
        options["replica"] = entries[0]["replica"]
    op = getattr(operators, operator)(**options)
    manifest = ApiClient().sanitize_for_serialization(op.build_pod_request_obj(dry_run=True))
    names = [c["name"] for c in manifest["spec"]["containers"]]
    assert names == ["base", "airflow-xcom-sidecar"]
    assert restricted_violations(manifest["spec"]) == []
    # runAsNonRoot needs a uid a kubelet can check against root-default images
    assert manifest["spec"]["securityContext"]["runAsUser"] == DEFAULT_RUN_AS_USER
