"""Operator extra links: from a plan or pod task to the plan in the Airflow UI.

Airflow 3 computes a link when the task finishes (``get_link`` runs in the worker with the
task and its ``RuntimeTaskInstance``) and stores it in XCom for the UI. Only the URL
builder below is logic; it is pure, so it is tested without Airflow running.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from airflow.sdk import BaseOperatorLink, conf

if TYPE_CHECKING:
    from airflow.sdk.types import TaskInstanceKey

PLAN_TASK_TYPE = "DataLocalityPlanOperator"


def build_task_url(
    base_url: str, *, dag_id: str, run_id: str, task_id: str, map_index: int = -1, tab: str = ""
) -> str:
    """The UI page of one task instance (a tab of it, such as ``xcom``), under ``base_url``.

    Mirrors the UI's routes ``dags/:dagId/runs/:runId/tasks/:taskId[/mapped/:mapIndex]``;
    run ids carry ``:`` and ``+``, so every part is percent-encoded."""
    parts = ["dags", dag_id, "runs", run_id, "tasks", task_id]
    if map_index >= 0:
        parts += ["mapped", str(map_index)]
    if tab:
        parts.append(tab)
    return base_url.rstrip("/") + "/" + "/".join(quote(part, safe="") for part in parts)


def plan_task_id(operator: Any) -> str | None:
    """The plan task this task's placement comes from: itself, or an upstream plan task."""
    if getattr(operator, "task_type", type(operator).__name__) == PLAN_TASK_TYPE:
        return str(operator.task_id)
    dag = getattr(operator, "dag", None)
    if dag is None:
        return None
    for upstream in sorted(operator.upstream_task_ids):
        if getattr(dag.get_task(upstream), "task_type", "") == PLAN_TASK_TYPE:
            return str(upstream)
    return None


class PlacementPlanLink(BaseOperatorLink):
    """The "Placement plan" link: the plan task's XCom page, where the plan's summary (per
    replica its node, chunk count, local and moved bytes, and why) is shown."""

    name = "Placement plan"

    def get_link(self, operator: Any, *, ti_key: TaskInstanceKey) -> str:
        """The link for one task instance; empty when no plan task is upstream."""
        task_id = plan_task_id(operator)
        if task_id is None:
            return ""
        return build_task_url(
            conf.get("api", "base_url", fallback="/"),
            dag_id=ti_key.dag_id,
            run_id=ti_key.run_id,
            task_id=task_id,
            map_index=ti_key.map_index if task_id == ti_key.task_id else -1,
            tab="xcom",
        )
