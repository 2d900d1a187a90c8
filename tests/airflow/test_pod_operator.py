"""DataLocalityPodOperator's pod requests, built without a cluster (``dry_run=True``)."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
import yaml

from datalocality.model import PlacementPlan, PlacementRequest
from datalocality.operators.entries import build_replica_entries
from datalocality.placement import plan

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "clickstream.yaml"


def _request(**consumer: Any) -> PlacementRequest:
    data = yaml.safe_load(EXAMPLE.read_text(encoding="utf-8"))
    data["consumer"].update(consumer)
    return PlacementRequest.parse(data)


def _entries(request: PlacementRequest) -> tuple[PlacementPlan, list[dict[str, Any]]]:
    chosen = plan(request)
    entries = build_replica_entries(
        chosen,
        topology=request.topology,
        consumer=request.consumer,
        chunk_configmap="sessionize-chunks-abc",
        namespace="analytics",
        resources={"requests": {"cpu": "500m", "memory": "1Gi"}},
    )
    return chosen, entries


def _manifest(replica: dict[str, Any], context: Any = None, **options: Any) -> dict[str, Any]:
    from kubernetes.client import ApiClient

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


def test_one_entry_per_replica_with_its_node_and_chunks(airflow_db: Path) -> None:
    chosen, entries = _entries(_request(topology=None))
    assert [e["replica"]["index"] for e in entries] == [0, 1, 2]
    for entry, replica in zip(entries, chosen.replicas, strict=True):
        assert entry["replica"]["node"] == replica.node
        assert entry["replica"]["chunks"] == list(replica.chunks)
        assert entry["replica"]["configmap_key"] == f"replica-{replica.index}.json"
    all_chunks = sorted(c for e in entries for c in e["replica"]["chunks"])
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
    assert env["DATALOCALITY_CHUNKS"] == ",".join(chosen.replicas[2].chunks)
    assert env["DATALOCALITY_REPLICA"] == "2"
    assert env["DATALOCALITY_PLANNED_NODE"] == chosen.replicas[2].node
    assert env["NODENAME"] == {"fieldRef": {"fieldPath": "spec.nodeName"}}
    assert container["resources"] == {"requests": {"cpu": "500m", "memory": "1Gi"}}
    assert container["volumeMounts"] == [
        {"mountPath": "/etc/datalocality", "name": "datalocality-chunks", "readOnly": True}
    ]
    assert spec["volumes"] == [
        {
            "name": "datalocality-chunks",
            "configMap": {
                "name": "sessionize-chunks-abc",
                "items": [{"key": "replica-2.json", "path": "chunks.json"}],
            },
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
        _manifest({"index": 0, "node": "n", "chunks": []})


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
