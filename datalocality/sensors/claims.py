"""``DataSourceClaimBoundSensor``: wait until a DataSourceClaim is Bound."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from datalocality.sensors.base import TriggerSensor
from datalocality.triggers.claims import DataSourceClaimBoundTrigger


class DataSourceClaimBoundSensor(TriggerSensor):
    """Waits until the claim ``namespace/claim_name`` is Bound; returns the event.

    The result (XCom) carries ``data_source``, the bound DataSource's name. Cluster access
    is KubernetesPodOperator's: ``kubernetes_conn_id`` (None: kubeconfig/in-cluster only),
    ``config_file``, ``cluster_context``, ``in_cluster``.
    """

    template_fields: Sequence[str] = (
        "claim_name",
        "namespace",
        "kubernetes_conn_id",
        "config_file",
        "cluster_context",
    )
    ui_color = "#d6ecf3"

    def __init__(
        self,
        *,
        claim_name: str,
        namespace: str = "default",
        kubernetes_conn_id: str | None = "kubernetes_default",
        config_file: str | None = None,
        cluster_context: str | None = None,
        in_cluster: bool | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.claim_name = claim_name
        self.namespace = namespace
        self.kubernetes_conn_id = kubernetes_conn_id
        self.config_file = config_file
        self.cluster_context = cluster_context
        self.in_cluster = in_cluster

    def build_trigger(self) -> DataSourceClaimBoundTrigger:
        """The trigger for the rendered claim and cluster access."""
        return DataSourceClaimBoundTrigger(
            claim_name=self.claim_name,
            namespace=self.namespace,
            kubernetes_conn_id=self.kubernetes_conn_id,
            config_file=self.config_file,
            cluster_context=self.cluster_context,
            in_cluster=self.in_cluster,
            poll_interval=self.poke_interval,
            timeout=self.timeout,
        )
