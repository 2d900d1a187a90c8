"""The Argo examples on a real workflow-controller, kube-scheduler and apiserver.

The example's manifests (built for the test's namespace) are created as a user would
(``kubectl create -f``: ConfigMaps, then the Workflow); Argo creates one pod per replica
from the placed template and its podSpecPatch, the real scheduler binds each, kwok plays
the kubelet, and the workflow must reach Succeeded with every replica's pod on the node
its plan chose, carrying its chunk list.
"""

from __future__ import annotations

import json
from typing import Any

import yaml
from hera.workflows import DAG, Container, Workflow
from kubernetes import client  # type: ignore[import-untyped]  # no stubs

from datalocality import DataInput
from datalocality.argo import ArgoPlacement
from datalocality.argo.manifests import build_manifests
from datalocality.argo.resolve import resolve_planned
from datalocality.kube.names import ANNOTATION_PLANNED_NODE, LABEL_REPLICA
from datalocality.kube.names import LABEL_COMPONENT as COMPONENT
from datalocality.model import Consumer, Topology
from datalocality_testcluster import ControlPlane
from datalocality_testcluster.argo import ArgoController
from tests.argo.support import load_example


def env_of(pod: dict[str, Any]) -> dict[str, str]:
    main = next(c for c in pod["spec"]["containers"] if c["name"] == "main")
    return {e["name"]: e.get("value", "") for e in main.get("env", [])}


def test_iceberg_trainer_runs_each_replica_on_its_planned_node(
    control_plane: ControlPlane, argo: ArgoController
) -> None:
    example = load_example("iceberg_trainer")
    *configmaps, workflow = example.build(namespace=argo.namespace)
    api = control_plane.api_client()
    try:
        core = client.CoreV1Api(api)
        for configmap in configmaps:
            core.create_namespaced_config_map(argo.namespace, configmap)
        name = argo.submit(workflow)
        done = argo.wait(name, timeout=90)
        assert done["status"]["phase"] == "Succeeded", done["status"]
        pods = argo.pods(name)
    finally:
        api.close()
    data = {cm["metadata"]["name"]: cm["data"] for cm in configmaps}
    tasks = {t["name"]: t for t in workflow["spec"]["templates"][-1]["dag"]["tasks"]}
    by_replica = {int(p["metadata"]["labels"][LABEL_REPLICA]): p for p in pods}
    read: dict[int, list[str]] = {}
    assert sorted(by_replica) == [0, 1, 2]
    for index, pod in by_replica.items():
        planned = next(
            p["value"]
            for p in tasks[f"train-{index}"]["arguments"]["parameters"]
            if p["name"] == "datalocality_node"
        )
        assert pod["spec"]["nodeName"] == planned  # bound by the real kube-scheduler
        assert pod["metadata"]["annotations"][ANNOTATION_PLANNED_NODE] == planned
        assert pod["status"]["phase"] == "Succeeded"
        env = env_of(pod)
        assert env["DATALOCALITY_REPLICA"] == str(index)
        assert env["DATALOCALITY_CHUNK_BASE"] == "s3://lake/warehouse/ml/events"
        volume = next(v for v in pod["spec"]["volumes"] if v["name"] == "datalocality-chunks")
        read[index] = mounted_ids(data, volume["projected"]["sources"])
    # every data file of the table is read by exactly one replica
    files = [f"data/0000{i}-0-{c}.parquet" for i, c in enumerate("abcdef")]
    assert sorted(i for ids in read.values() for i in ids) == files


def mounted_ids(data: dict[str, dict[str, str]], sources: list[Any]) -> list[str]:
    """The chunk ids a pod's projected volume gives it (each shard's file)."""
    ids: list[str] = []
    for source in sources:
        ref = source["configMap"]
        ids += json.loads(data[ref["name"]][ref["items"][0]["key"]])
    return ids


def test_repartitions_run_on_their_nodes_before_the_replicas(
    control_plane: ControlPlane, argo: ArgoController
) -> None:
    """The Iceberg trainer wanting one partition per replica: the plan's repartitions run
    first, each pinned to its replica's node, then the replicas."""
    example = load_example("iceberg_trainer")
    consumer = Consumer.parse({"name": "train", "replicas": 3, "partitioning": "one-per-replica"})
    planned = resolve_planned(
        [DataInput(system="iceberg", name="warehouse.ml.events")],
        consumer,
        Topology.parse(yaml.safe_load(example.TOPOLOGY.read_text())),
        resolvers_config=example.RESOLVERS,
    )
    assert planned.plan.operations
    placement = ArgoPlacement(name="merged", namespace=argo.namespace, planned=planned)
    with Workflow(generate_name="merged-", entrypoint="main", namespace=argo.namespace) as w:
        # a command on each: Argo's emissary executor needs one (it cannot ask a registry)
        Container(
            image="merge:1", command=["merge"], **placement.operation_kwargs("repartition", "merge")
        )
        train = Container(
            name="train", image="trainer:1", command=["train"], **placement.template_kwargs()
        )
        with DAG(name="main"):
            train(name="train")
    *configmaps, workflow = build_manifests(w, [placement])
    api = control_plane.api_client()
    try:
        for configmap in configmaps:
            client.CoreV1Api(api).create_namespaced_config_map(argo.namespace, configmap)
        name = argo.submit(workflow)
        done = argo.wait(name, timeout=90)
    finally:
        api.close()
    assert done["status"]["phase"] == "Succeeded", yaml.safe_dump(done["status"])
    pods = argo.pods(name)
    merges = [p for p in pods if p["metadata"]["labels"].get(COMPONENT) == "operation"]
    replicas = [p for p in pods if p["metadata"]["labels"].get(COMPONENT) == "replica"]
    assert sorted(p["spec"]["nodeName"] for p in merges) == sorted(
        op.node for op in planned.plan.operations
    )
    assert len(replicas) == 3
    last_merge = max(finished_at(p) for p in merges)
    assert all(created_at(p) >= last_merge for p in replicas)  # after every repartition


def finished_at(pod: dict[str, Any]) -> str:
    main = next(s for s in pod["status"]["containerStatuses"] if s["name"] == "main")
    return str(main["state"]["terminated"]["finishedAt"])


def created_at(pod: dict[str, Any]) -> str:
    return str(pod["metadata"]["creationTimestamp"])
