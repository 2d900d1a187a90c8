"""The "Placement" extra link: its URL, which tasks carry one, and the plugin."""

from __future__ import annotations

import json
from importlib import metadata
from pathlib import Path
from typing import Any

import pytest
from airflow.sdk.types import TaskInstanceKey
from packaging.utils import canonicalize_name

from datalocality.provider.info import PACKAGE_NAME
from datalocality.provider.links import PlacementPlanLink, build_task_url
from tests.airflow.support import DAGS, airflow_cli_env, run_airflow

RUN_ID = "manual__2026-11-23T10:00:00+00:00"


def test_task_url_follows_the_ui_routes_and_encodes_run_ids() -> None:
    assert (
        build_task_url("http://af:8080/", dag_id="d", run_id=RUN_ID, task_id="g.plan", tab="xcom")
        == "http://af:8080/dags/d/runs/manual__2026-11-23T10%3A00%3A00%2B00%3A00/tasks/g.plan/xcom"
    )
    assert (
        build_task_url("/airflow", dag_id="d", run_id="r", task_id="t", map_index=2)
        == "/airflow/dags/d/runs/r/tasks/t/mapped/2"
    )
    assert build_task_url("/", dag_id="a b", run_id="r/1", task_id="t") == (
        "/dags/a%20b/runs/r%2F1/tasks/t"
    )


@pytest.fixture(scope="module")
def pipeline(airflow_db: Path) -> Any:
    from airflow.dag_processing.dagbag import DagBag

    return DagBag(str(DAGS / "chunk_pipeline.py"), safe_mode=False).dags["chunk_pipeline"]


ENCODED_RUN = RUN_ID.replace(":", "%3A").replace("+", "%2B")


def _link(pipeline: Any, task_id: str, map_index: int = -1) -> str:
    key = TaskInstanceKey(
        dag_id="chunk_pipeline", run_id=RUN_ID, task_id=task_id, map_index=map_index
    )
    return PlacementPlanLink().get_link(pipeline.get_task(task_id), ti_key=key)


def test_each_provider_task_links_to_its_own_placement_tab(pipeline: Any) -> None:
    prefix = f"/dags/chunk_pipeline/runs/{ENCODED_RUN}/tasks/"
    assert _link(pipeline, "sessionize.plan").endswith(prefix + "sessionize.plan/plugin/placement")
    # a mapped replica's link keeps its map index: its view highlights its own replica
    assert _link(pipeline, "sessionize.replica", 2).endswith(
        prefix + "sessionize.replica/mapped/2/plugin/placement"
    )
    # producers find the plan downstream of them
    assert _link(pipeline, "extract.collect").endswith(prefix + "extract.collect/plugin/placement")


def test_a_task_placing_no_data_gets_no_link(airflow_db: Path) -> None:
    from airflow.sdk import DAG

    from datalocality.operators import DataLocalityPodOperator

    with DAG("alone", schedule=None) as dag:
        pod = DataLocalityPodOperator(task_id="pod", image="x:1", name="pod")
    key = TaskInstanceKey(dag_id=dag.dag_id, run_id=RUN_ID, task_id="pod", map_index=-1)
    assert PlacementPlanLink().get_link(pod, ti_key=key) == ""


def test_plugin_entry_point_is_installed_and_airflow_lists_the_plugin(tmp_path: Path) -> None:
    points = [
        p.value
        for p in metadata.entry_points(group="airflow.plugins")
        if p.dist is not None and canonicalize_name(p.dist.name) == PACKAGE_NAME
    ]
    assert points == ["datalocality.provider.plugin:DataLocalityPlugin"]
    out = run_airflow(airflow_cli_env(tmp_path), "plugins", "--output", "json")
    rows = {row["name"]: row for row in json.loads(out.stdout[out.stdout.index("[") :])}
    assert "datalocality" in rows, f"plugins seen: {sorted(rows)}"
    row = json.dumps(rows["datalocality"])
    assert "PlacementPlanLink" in row
    assert '"Placement"' in row and '"Data Locality"' in row  # the two React apps
