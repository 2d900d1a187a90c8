"""What the operators read from an Airflow task context, without importing any operator.

The plan, pod and job operators all name their objects after the task instance; keeping
that here lets :mod:`datalocality.operators.jobs` and :mod:`datalocality.operators.plan`
do so without importing KubernetesPodOperator's module through
:mod:`datalocality.operators.pod`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from datalocality.kube.names import TaskKey

if TYPE_CHECKING:
    from airflow.sdk import Context


def task_key_of(context: Context) -> TaskKey:
    """The task instance's identity, for labels and names."""
    ti = context["ti"]
    map_index = getattr(ti, "map_index", -1)
    return TaskKey(
        dag_id=ti.dag_id,
        run_id=context["run_id"],
        task_id=ti.task_id,
        map_index=map_index if isinstance(map_index, int) and map_index >= 0 else -1,
    )


def literal_text(value: object) -> str | None:
    """``value`` when it is a string with no Jinja template in it, so checkable when the
    DAG is parsed; None otherwise (a template is checked once rendered)."""
    return value if isinstance(value, str) and "{{" not in value else None
