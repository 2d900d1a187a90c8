"""The "Placement plan" extra link: its URL, which task it points to, and the plugin."""

from __future__ import annotations

import json
from importlib import metadata
from pathlib import Path
from typing import Any

import pytest
from airflow.sdk.types import TaskInstanceKey
from packaging.utils import canonicalize_name

from datalocality.provider.info import PACKAGE_NAME
from datalocality.provider.links import PlacementPlanLink, build_task_url, plan_task_id
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


def test_plan_and_replica_tasks_link_to_the_plan_task(pipeline: Any) -> None:
    assert plan_task_id(pipeline.get_task("sessionize.plan")) == "sessionize.plan"
    assert plan_task_id(pipeline.get_task("sessionize.replica")) == "sessionize.plan"
    assert plan_task_id(pipeline.get_task("extract.collect")) is None


def test_link_of_a_mapped_replica_points_at_the_unmapped_plan(pipeline: Any) -> None:
    key = TaskInstanceKey(
        dag_id="chunk_pipeline", run_id=RUN_ID, task_id="sessionize.replica", map_index=2
    )
    link = PlacementPlanLink().get_link(pipeline.get_task("sessionize.replica"), ti_key=key)
    assert link.endswith(
        "/dags/chunk_pipeline/runs/"
        + RUN_ID.replace(":", "%3A").replace("+", "%2B")
        + "/tasks/sessionize.plan/xcom"
    )
    assert PlacementPlanLink().get_link(pipeline.get_task("extract.collect"), ti_key=key) == ""


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
    assert "PlacementPlanLink" in json.dumps(rows["datalocality"])
