"""``DataSourceClaimBoundSensor``: wait until a DataSourceClaim is Bound."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from datalocality.sensors.base import ClusterSensor
from datalocality.triggers.claims import DataSourceClaimBoundTrigger


class DataSourceClaimBoundSensor(ClusterSensor):
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
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.claim_name = claim_name

    def build_trigger(self) -> DataSourceClaimBoundTrigger:
        """The trigger for the rendered claim and cluster access."""
        return DataSourceClaimBoundTrigger(
            claim_name=self.claim_name,
            **self.trigger_common(),
        )
