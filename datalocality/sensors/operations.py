"""``OperationCompleteSensor``: wait until a plan's repartition/assembly Jobs finished."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from datalocality.sensors.base import ClusterSensor
from datalocality.triggers.operations import OperationCompleteTrigger


class OperationCompleteSensor(ClusterSensor):
    """Waits until every Job in ``job_names`` completed; a failed Job fails the task.

    Done and failed are :func:`datalocality.kube.job_status.job_outcome`'s rule (through
    OperationCompleteTrigger's check), the one RepartitionOperator and AssemblyOperator use.

    ``job_names`` is one name or a list (templated, so an upstream task's XCom works). The
    result (XCom) maps each Job to its active/succeeded/failed pod counts.
    """

    template_fields: Sequence[str] = (
        "job_names",
        "namespace",
        "kubernetes_conn_id",
        "config_file",
        "cluster_context",
    )
    ui_color = "#e3ecd6"

    def __init__(
        self,
        *,
        job_names: str | Sequence[str],
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.job_names = job_names

    def build_trigger(self) -> OperationCompleteTrigger:
        """The trigger for the rendered Jobs and cluster access."""
        names = [self.job_names] if isinstance(self.job_names, str) else list(self.job_names)
        return OperationCompleteTrigger(
            job_names=names,
            **self.trigger_common(),
        )
