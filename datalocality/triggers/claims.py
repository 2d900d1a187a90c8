"""Wait until a DataSourceClaim is Bound to a DataSource.

The claim is polled (GET, no watch: a watch in a worker thread could not be cancelled
promptly). A claim that does not exist yet, or is Pending or Lost, is waited for: the plan
task that creates and binds it may still be running, and a Lost claim binds again on the
next bind. The success event carries the bound DataSource's name.
"""

from __future__ import annotations

from typing import Any

from datalocality.kube.client import KubeClient
from datalocality.kube.objects import Obj
from datalocality.kube.resources import CLAIMS
from datalocality.provider.info import KUBERNETES_CONN_ID
from datalocality.triggers.base import (
    DEFAULT_POLL_INTERVAL,
    DEFAULT_TIMEOUT,
    Outcome,
)
from datalocality.triggers.kube import KubeAccess, KubeTrigger, failure, read


def claim_outcome(obj: Obj | None, what: str) -> Outcome:
    """Success once ``status.phase`` is Bound; otherwise what the claim says it waits for."""
    if obj is None:
        return Outcome("pending", f"{what} does not exist yet")
    status = obj.get("status") or {}
    phase = str(status.get("phase") or "Pending")
    source = str(status.get("boundDataSource") or "")
    if phase == "Bound" and source:
        return Outcome(
            "success", f"{what} is Bound to DataSource {source}", {"data_source": source}
        )
    bound = next((c for c in status.get("conditions") or [] if c.get("type") == "Bound"), None)
    why = f" ({bound.get('reason', '')}: {bound.get('message', '')})" if bound else ""
    return Outcome("pending", f"{what} is {phase}{why}", {"phase": phase})


class DataSourceClaimBoundTrigger(KubeTrigger):
    """Fires when the claim ``namespace/claim_name`` is Bound (or on timeout or error)."""

    def __init__(
        self,
        *,
        claim_name: str,
        namespace: str,
        kubernetes_conn_id: str | None = KUBERNETES_CONN_ID,
        config_file: str | None = None,
        cluster_context: str | None = None,
        in_cluster: bool | None = None,
        poll_interval: float = DEFAULT_POLL_INTERVAL,
        timeout: float = DEFAULT_TIMEOUT,
        end_time: float | None = None,
        max_failures: int = 3,
    ) -> None:
        super().__init__(
            poll_interval=poll_interval,
            timeout=timeout,
            end_time=end_time,
            max_failures=max_failures,
        )
        self.claim_name = claim_name
        self.namespace = namespace
        self.access = KubeAccess(kubernetes_conn_id, config_file, cluster_context, in_cluster)

    def describe(self) -> str:
        """``DataSourceClaim namespace/name``."""
        return f"DataSourceClaim {self.namespace}/{self.claim_name}"

    def trigger_kwargs(self) -> dict[str, Any]:
        """Claim, namespace and cluster access."""
        return {"claim_name": self.claim_name, "namespace": self.namespace, **self.access.kwargs()}

    def identity(self) -> dict[str, Any]:
        """Claim and namespace."""
        return {"claim": self.claim_name, "namespace": self.namespace}

    async def check(self, session: KubeClient) -> Outcome:
        """Read the claim once."""
        try:
            obj = await read(session, CLAIMS, self.claim_name, self.namespace)
        except Exception as exc:
            return failure(self.describe(), exc)
        return claim_outcome(obj, self.describe())
