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
        "extract",
        "sessionize.assembly",
        "sessionize.plan",
        "sessionize.repartition",
        "sessionize.replica",
    ]
    assert dag.get_task("sessionize.plan").upstream_task_ids == {"extract"}
