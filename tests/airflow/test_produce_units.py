"""produce_chunks without a cluster: each replica's pod, the collector's checks, the group."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from datalocality.errors import SpecError


def _manifest(op: Any) -> dict[str, Any]:
    from kubernetes.client import ApiClient  # type: ignore[import-untyped]  # kubernetes ships no stubs

    pod = op.build_pod_request_obj(dry_run=True)
    manifest: dict[str, Any] = ApiClient().sanitize_for_serialization(pod)
    return manifest


def test_a_replica_s_pod_gets_its_overrides_env_and_label(airflow_db: Path) -> None:
    from datalocality.kube.names import LABEL_REPLICA
    from datalocality.operators import ProduceChunksPodOperator

    op = ProduceChunksPodOperator(
        task_id="extract.replica",
        image="etl:1",
        env_vars={"MODE": "full", "DATALOCALITY_REPLICA": "stale"},
        annotations={"a": "1"},
        node_selector={"zone": "z1"},
        replica={
            "index": 2,
            "annotations": {"b": "2"},
            "node_selector": {"kubernetes.io/hostname": "worker-b1"},
            "env": {"PART": "p2"},
        },
    )
    manifest = _manifest(op)
    assert manifest["metadata"]["labels"][LABEL_REPLICA] == "2"
    assert op.labels[LABEL_REPLICA] == "2"  # so KPO's reattach selector has it too
    assert {"a": "1", "b": "2"}.items() <= manifest["metadata"]["annotations"].items()
    assert manifest["spec"]["nodeSelector"] == {
        "zone": "z1",
        "kubernetes.io/hostname": "worker-b1",
    }
    (base,) = [c for c in manifest["spec"]["containers"] if c["name"] == "base"]
    env = {e["name"]: e["value"] for e in base["env"]}
    assert env == {"MODE": "full", "PART": "p2", "DATALOCALITY_REPLICA": "2"}
    assert op.do_xcom_push


def test_a_replica_returns_its_report_with_its_node() -> None:
    from airflow.sdk.exceptions import AirflowFailException

    from datalocality.operators import ProduceChunksPodOperator

    op = ProduceChunksPodOperator(task_id="r", image="etl:1", replica={"index": 1})
    op.node = "worker-a1"
    report = {"chunks": [{"id": "part-1", "size": 10}]}
    assert op.entry(report) == {"index": 1, "node": "worker-a1", "report": report}
    with pytest.raises(AirflowFailException, match=r"^xcom\.replicas\[1\]: must be"):
        op.entry(None)  # the pod wrote no report: a retry would not write one either


def test_collector_orders_entries_and_names_what_is_wrong() -> None:
    from datalocality.operators.collect import order_replica_entries

    entries = [
        {"index": 1, "node": "b", "report": ["y"]},
        {"index": 0, "node": "a", "report": ["x"]},
    ]
    assert order_replica_entries(entries, 2) == [("a", ["x"]), ("b", ["y"])]
    with pytest.raises(SpecError, match=r"misses the entries of replicas \[1\]"):
        order_replica_entries(entries[1:], 2)
    with pytest.raises(SpecError, match=r"^replicas\[1\]\.index: must be a distinct index"):
        order_replica_entries([entries[0], entries[0]], 2)
    with pytest.raises(SpecError, match=r"^replicas\[0\]: must be a producer replica"):
        order_replica_entries([["x"]], 1)


def test_producer_replicas_are_checked_when_built() -> None:
    from datalocality.operators.produce import build_producer_replicas

    assert build_producer_replicas(2, [{"env": {"A": "1"}}]) == [
        {"env": {"A": "1"}, "index": 0},
        {"index": 1},
    ]
    with pytest.raises(SpecError, match=r"^replicas"):
        build_producer_replicas(True)
    with pytest.raises(SpecError, match=r"^replica_overrides"):
        build_producer_replicas(1, {"env": {}})  # type: ignore[arg-type]
    with pytest.raises(SpecError, match=r"^replica_overrides\[0\]\.labels: unknown key"):
        build_producer_replicas(1, [{"labels": {}}])


def test_the_group_maps_the_replicas_and_outputs_the_collector_s_return(
    airflow_db: Path,
) -> None:
    from airflow.sdk import DAG

    from datalocality.operators import CollectChunksOperator, produce_chunks

    with DAG("g", schedule=None):
        group = produce_chunks(
            task_id="extract", image="etl:1", replicas=3, deferrable=True, retries=2
        )
    collect = group.children["extract.collect"]
    replica: Any = group.children["extract.replica"]  # a MappedOperator
    assert isinstance(collect, CollectChunksOperator) and collect.replica_count == 3
    assert group.output.operator is collect and group.output.key == "return_value"
    assert collect.upstream_task_ids == {"extract.replica"}
    assert [e["index"] for e in replica.expand_input.value["replica"]] == [0, 1, 2]
    assert replica.partial_kwargs["deferrable"] is True
    assert replica.partial_kwargs["retries"] == 2
    assert collect.data_source_name == "{{ dag.dag_id }}.extract"
