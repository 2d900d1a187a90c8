"""Examples 2–4 end to end with ``dag.test()`` against both clusters.

Each test checks the cluster afterwards: the nodes the replica pods were bound to and
the chunk lists they were handed.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from datalocality_testcluster.clusters import KINDS, ProviderCluster, start_cluster
from tests.airflow.support import (
    DAGS,
    handed_chunks,
    objects,
    replica_pods,
    run_dag,
    source_locations,
    xcom_value,
)

RESOLVERS = yaml.safe_load((DAGS / "data" / "resolvers.yaml").read_text(encoding="utf-8"))
ZONE_A = {"worker-a1", "worker-a2", "worker-a3"}


def _locations(system: str) -> dict[str, list[str]]:
    (source,) = RESOLVERS[system]["sources"]
    return {c["id"]: c["locations"] for c in source["chunks"]}


def test_iceberg_trainer_keeps_three_replicas_in_one_zone_near_the_files(
    airflow_db: Path, cluster: ProviderCluster
) -> None:
    run_dag("iceberg_trainer", "iceberg_trainer.py")
    files = _locations("iceberg")
    pods = replica_pods(cluster, "train.replica")
    assert len(pods) == 3
    handed: list[str] = []
    for pod in pods:
        node = pod["spec"]["nodeName"]
        assert node == pod["metadata"]["annotations"]["datalocality.io/planned-node"]
        assert node in ZONE_A  # the soft rule held: zone a has room for all three
        affinity = pod["spec"]["affinity"]["nodeAffinity"]
        assert "requiredDuringSchedulingIgnoredDuringExecution" not in affinity
        chunks = handed_chunks(cluster, pod)
        assert len(chunks) == 2
        handed.extend(chunks)
        env = {e["name"]: e.get("value") for e in pod["spec"]["containers"][0]["env"]}
        # where the ids point came through the DataSource the apiserver stored
        assert env["DATALOCALITY_CHUNK_BASE"] == "s3://lake/warehouse/ml/events"
    assert sorted(handed) == sorted(files)
    local = sum(
        files[c] == [p["spec"]["nodeName"]] for p in pods for c in handed_chunks(cluster, p)
    )
    assert local == 5  # all but the file on worker-b2, outside the zone
    (claim,) = objects(cluster, "datalocality.io", "datasourceclaims")
    assert claim["status"]["phase"] == "Bound"


@pytest.fixture(params=KINDS)
def two_clusters(
    request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch
) -> Iterator[ProviderCluster]:
    inventory = DAGS / "data" / "multi_cluster_inventory.yaml"
    with start_cluster(request.param, inventory) as running:
        monkeypatch.setenv("DATALOCALITY_KUBECONFIG", str(running.kubeconfig_path))
        yield running
        assert running.errors == []


def test_multi_cluster_keeps_replicas_in_the_data_cluster_and_applies_karmada(
    airflow_db: Path, two_clusters: ProviderCluster
) -> None:
    run = run_dag("multi_cluster", "multi_cluster.py")
    pods = replica_pods(two_clusters, "replica")
    assert [p["spec"]["nodeName"] for p in pods] == ["eu-1", "eu-2"]
    files = _locations("hdfs")
    for pod in pods:
        assert all(files[c] == [pod["spec"]["nodeName"]] for c in handed_chunks(two_clusters, pod))
    policy = xcom_value("multi_cluster", run.run_id, "karmada_policy")
    assert policy["kind"] == "PropagationPolicy"
    assert policy["spec"]["placement"]["clusterAffinity"]["clusterNames"] == ["eu"]
    if two_clusters.kind == "kube":  # serves Karmada's CRD: the policy was applied there
        (applied,) = objects(two_clusters, "policy.karmada.io", "propagationpolicies")
        assert applied["spec"]["resourceSelectors"] == policy["spec"]["resourceSelectors"]
        assert applied["spec"]["placement"] == policy["spec"]["placement"]  # CRD adds defaults


def test_asset_consumer_reads_chunk_locations_from_the_producer_event(
    airflow_db: Path, cluster: ProviderCluster
) -> None:
    run_dag("asset_producer", "asset_consumer.py")
    run_dag("asset_consumer", "asset_consumer.py")
    pods = replica_pods(cluster, "score.replica")
    assert [p["spec"]["nodeName"] for p in pods] == ["worker-b2", "worker-b2"]
    handed = sorted(c for p in pods for c in handed_chunks(cluster, p))
    assert handed == [f"features-{i}" for i in range(4)]
    (source,) = objects(cluster, "datalocality.io", "datasources")
    assert {tuple(where) for where in source_locations(cluster, source).values()} == {
        ("worker-b2",)
    }


DEFERRABLE_RUN = """
import sys
from airflow.dag_processing.dagbag import DagBag
dag = DagBag(sys.argv[1], safe_mode=False).dags["iceberg_trainer"]
print("STATE", dag.test().state)
"""


def test_replicas_run_deferrable_through_kpos_trigger(
    airflow_db: Path, cluster: ProviderCluster
) -> None:
    """KPO's default_deferrable is read when KPO is imported: a fresh interpreter it is."""
    import os
    import subprocess
    import sys

    env = {**os.environ, "AIRFLOW__OPERATORS__DEFAULT_DEFERRABLE": "True"}
    script = str(DAGS / "iceberg_trainer.py")
    result = subprocess.run(
        [sys.executable, "-c", DEFERRABLE_RUN, script],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    output = result.stdout + result.stderr
    assert result.returncode == 0, output[-3000:]
    assert "STATE success" in output or "STATE DagRunState.SUCCESS" in output
    assert output.count("KubernetesPodTrigger") >= 3  # each replica deferred to the trigger
    pods = replica_pods(cluster, "train.replica")
    assert [p["status"]["phase"] for p in pods] == ["Succeeded"] * 3
    for pod in pods:
        assert (
            pod["spec"]["nodeName"]
            == pod["metadata"]["annotations"]["datalocality.io/planned-node"]
        )
