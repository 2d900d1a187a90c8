"""``OperationCompleteSensor``: wait until a plan's repartition/assembly Jobs finished."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from datalocality.sensors.base import TriggerSensor
from datalocality.triggers.operations import OperationCompleteTrigger


class OperationCompleteSensor(TriggerSensor):
    """Waits until every Job in ``job_names`` completed; a failed Job fails the task.

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
        namespace: str = "default",
        kubernetes_conn_id: str | None = "kubernetes_default",
        config_file: str | None = None,
        cluster_context: str | None = None,
        in_cluster: bool | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.job_names = job_names
        self.namespace = namespace
        self.kubernetes_conn_id = kubernetes_conn_id
        self.config_file = config_file
        self.cluster_context = cluster_context
        self.in_cluster = in_cluster

    def build_trigger(self) -> OperationCompleteTrigger:
        """The trigger for the rendered Jobs and cluster access."""
        names = [self.job_names] if isinstance(self.job_names, str) else list(self.job_names)
        return OperationCompleteTrigger(
            job_names=names,
            namespace=self.namespace,
            kubernetes_conn_id=self.kubernetes_conn_id,
            config_file=self.config_file,
            cluster_context=self.cluster_context,
            in_cluster=self.in_cluster,
            poll_interval=self.poke_interval,
            timeout=self.timeout,
        )
