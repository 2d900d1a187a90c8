"""The example DAGs parse without import errors, and parsing touches no connection or network."""

from __future__ import annotations

import socket
from pathlib import Path
from typing import Any

import pytest

from tests.airflow.support import DAGS


def _no_network(*args: Any, **kwargs: Any) -> None:
    raise AssertionError(f"network use at DAG parse time: {args!r}")


def _no_connection(*args: Any, **kwargs: Any) -> None:
    raise AssertionError(f"connection read at DAG parse time: {args!r}")


@pytest.fixture
def dagbag(airflow_db: Path, monkeypatch: pytest.MonkeyPatch) -> Any:
    from airflow.dag_processing.dagbag import DagBag
    from airflow.sdk import BaseHook, Connection

    monkeypatch.setattr(socket.socket, "connect", _no_network)
    monkeypatch.setattr(socket, "create_connection", _no_network)
    monkeypatch.setattr(BaseHook, "get_connection", classmethod(_no_connection))
    monkeypatch.setattr(Connection, "get", classmethod(_no_connection))
    monkeypatch.delenv("DATALOCALITY_KUBECONFIG", raising=False)
    return DagBag(str(DAGS), safe_mode=False)


def test_every_dag_file_imports(dagbag: Any) -> None:
    assert dagbag.import_errors == {}
    assert len(dagbag.dags) >= 1
    files = {Path(dag.fileloc).name for dag in dagbag.dags.values()}
    assert files == {p.name for p in DAGS.glob("*.py")}


def test_chunk_pipeline_shape(dagbag: Any) -> None:
    dag = dagbag.dags["chunk_pipeline"]
    assert sorted(t.task_id for t in dag.tasks) == [
        "extract.collect",
        "extract.replica",
        "sessionize.assembly",
        "sessionize.plan",
        "sessionize.release",
        "sessionize.repartition",
        "sessionize.replica",
    ]
    assert dag.get_task("sessionize.plan").upstream_task_ids == {"extract.collect"}
    # The producer replicas are one mapped task, so they run in parallel; then the collector.
    assert dag.get_task("extract.collect").upstream_task_ids == {"extract.replica"}
    replica = dag.get_task("extract.replica")
    assert type(replica).__name__ == "MappedOperator"
    entries = replica.expand_input.value["replica"]
    assert [e["index"] for e in entries] == [0, 1]
    assert [e["node_selector"] for e in entries] == [
        {"kubernetes.io/hostname": "worker-a1"},
        {"kubernetes.io/hostname": "worker-b1"},
    ]
    release = dag.get_task("sessionize.release")
    assert release.is_teardown and release.upstream_task_ids == {"sessionize.replica"}
    assert release.trigger_rule == "all_done_setup_success"
    assert not any(t.is_setup for t in dag.tasks)  # no setup: it runs even if the plan failed
    # Downstream of the group are the replicas, not the teardown.
    group = dag.task_group.children["sessionize"]
    assert [t.task_id for t in group.get_leaves()] == ["sessionize.replica"]


def test_asset_producer_collector_emits_the_asset(dagbag: Any) -> None:
    dag = dagbag.dags["asset_producer"]
    assert sorted(t.task_id for t in dag.tasks) == ["features.collect", "features.replica"]
    collect = dag.get_task("features.collect")
    assert [o.uri for o in collect.outlets] == ["datalocality://example/daily-features"]
    assert not dag.get_task("features.replica").partial_kwargs.get("outlets")


BAD_DAG = """
from airflow.sdk import DAG
from datalocality.operators import locality_pods

with DAG("bad", schedule=None):
    locality_pods(task_id="consume", image="c:1", inputs=[], {argument})
"""


BAD_PRODUCER = """
from airflow.sdk import DAG
from datalocality.operators import produce_chunks

with DAG("bad", schedule=None):
    produce_chunks(task_id="extract", image="p:1", {argument})
"""


def parse_error(tmp_path: Path, source: str) -> str:
    """The one import error a DAG file of ``source`` gets; it must define no DAG."""
    from airflow.dag_processing.dagbag import DagBag

    path = tmp_path / "bad.py"
    path.write_text(source)
    bag = DagBag(str(path), safe_mode=False)
    assert list(bag.dags) == []
    (error,) = bag.import_errors.values()
    return str(error)


@pytest.mark.parametrize(
    ("argument", "named"),
    [
        ("replicas=0", "SpecError: replicas: must be an integer >= 1 (got 0)"),
        (
            "replicas=1, replica_overrides=[{}, {}]",
            "replica_overrides: must be a list of at most 1",
        ),
        (
            "replicas=2, replica_overrides=[{}, {'node_selectr': {}}]",
            "replica_overrides[1].node_selectr: unknown key",
        ),
        ("replica_overrides=[{'env': 'A=1'}]", "replica_overrides[0].env: must be a mapping"),
    ],
)
def test_bad_producer_arguments_fail_when_the_dag_is_parsed(
    airflow_db: Path, tmp_path: Path, argument: str, named: str
) -> None:
    error = parse_error(tmp_path, BAD_PRODUCER.format(argument=argument))
    assert named in error, error


@pytest.mark.parametrize(
    ("argument", "named"),
    [
        ("replicas=0", "SpecError: replicas: must be an integer >= 1 (got 0)"),
        ("topology={'mode': 'Hard'}", "topology.mode"),
        ("topology={'mdoe': 'hard'}", "did you mean 'mode'?"),
        ("strategy='optimla'", "strategy: unknown strategy"),
        ("partitioning='one-per-replca'", "partitioning"),
        ("scheduler='volcan'", "scheduler: must be one of ['default-scheduler', 'volcano']"),
    ],
)
def test_bad_arguments_fail_when_the_dag_is_parsed_naming_the_field(
    airflow_db: Path, tmp_path: Path, argument: str, named: str
) -> None:
    error = parse_error(tmp_path, BAD_DAG.format(argument=argument))
    assert named in error, error
