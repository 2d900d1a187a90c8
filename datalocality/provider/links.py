"""Operator extra links: from a plan or pod task to the plan in the Airflow UI.

Airflow 3 computes a link when the task finishes (``get_link`` runs in the worker with the
task and its ``RuntimeTaskInstance``) and stores it in XCom for the UI. Only the URL
builder below is logic; it is pure, so it is tested without Airflow running.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from airflow.sdk import BaseOperatorLink, conf

if TYPE_CHECKING:
    from airflow.sdk.types import TaskInstanceKey

PLACEMENT_ROUTE = "placement"  # the url_route of the plugin's task-instance React app
PLACEMENT_TAB = f"plugin/{PLACEMENT_ROUTE}"  # that tab, under a task instance's page


def build_task_url(
    base_url: str, *, dag_id: str, run_id: str, task_id: str, map_index: int = -1, tab: str = ""
) -> str:
    """The UI page of one task instance (a tab of it, such as ``xcom`` or
    ``plugin/placement``), under ``base_url``.

    Mirrors the UI's routes ``dags/:dagId/runs/:runId/tasks/:taskId[/mapped/:mapIndex]``;
    run ids carry ``:`` and ``+``, so every part is percent-encoded."""
    parts = ["dags", dag_id, "runs", run_id, "tasks", task_id]
    if map_index >= 0:
        parts += ["mapped", str(map_index)]
    if tab:
        parts += tab.split("/")
    return base_url.rstrip("/") + "/" + "/".join(quote(part, safe="") for part in parts)


class PlacementPlanLink(BaseOperatorLink):
    """The "Placement" link: the task instance's own Placement tab (the plugin's view of
    its plan task's plan, with this replica or operation highlighted)."""

    name = "Placement"

    def get_link(self, operator: Any, *, ti_key: TaskInstanceKey) -> str:
        """The link for one task instance; empty when it places no data."""
        view = importlib.import_module("datalocality.operators.placement_view")
        dag = getattr(operator, "dag", None)
        if dag is None or view.find_plan_task(dag, operator.task_id) is None:
            return ""
        return build_task_url(
            conf.get("api", "base_url", fallback="/"),
            dag_id=ti_key.dag_id,
            run_id=ti_key.run_id,
            task_id=ti_key.task_id,
            map_index=ti_key.map_index,
            tab=PLACEMENT_TAB,
        )
