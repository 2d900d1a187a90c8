"""``DataSourceClaimBoundSensor``: wait until a DataSourceClaim is Bound;
``DataSourcePhaseSensor``: wait until a DataSource is Lost (or Available again)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from datalocality.model.names import check_dns_subdomain
from datalocality.sensors.base import ClusterSensor
from datalocality.triggers.claims import DataSourceClaimBoundTrigger, DataSourcePhaseTrigger


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
            claim_name=check_dns_subdomain("claim_name", self.claim_name),
            **self.trigger_common(),
        )


class DataSourcePhaseSensor(ClusterSensor):
    """Waits until the DataSource ``data_source_name`` is in ``phase``; returns the event.

    ``phase="Lost"`` (the default): a plan's refresh found the data gone (its claims are
    Lost too); ``"Available"``: the data was found again, or was never lost. The result
    (XCom) carries ``phase`` and the source's ``reason``; ``message`` says why. Cluster
    access as for :class:`DataSourceClaimBoundSensor` (DataSources are cluster-scoped:
    ``namespace`` is not used).
    """

    template_fields: Sequence[str] = (
        "data_source_name",
        "phase",
        "kubernetes_conn_id",
        "config_file",
        "cluster_context",
    )
    ui_color = "#f3e0d6"

    def __init__(self, *, data_source_name: str, phase: str = "Lost", **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.data_source_name = data_source_name
        self.phase = phase

    def build_trigger(self) -> DataSourcePhaseTrigger:
        """The trigger for the rendered source, phase and cluster access."""
        common = self.trigger_common()
        common.pop("namespace")
        return DataSourcePhaseTrigger(
            data_source_name=check_dns_subdomain("data_source_name", self.data_source_name),
            phase=self.phase,
            **common,
        )
