"""Wait until a DataSourceClaim is Bound to a DataSource, or a DataSource reaches a phase.

The claim is polled (GET, no watch: a watch in a worker thread could not be cancelled
promptly). A claim that does not exist yet, or is Pending or Lost, is waited for: the plan
task that creates and binds it may still be running, and a Lost claim binds again on the
next bind. The success event carries the bound DataSource's name.
:class:`DataSourcePhaseTrigger` waits for a DataSource's status phase: ``Lost`` once a
refresh found its data gone, ``Available`` once it is found again (or was never lost).
"""

from __future__ import annotations

from typing import Any

from datalocality.errors import SpecError
from datalocality.kube.client import KubeClient
from datalocality.kube.objects import Obj
from datalocality.kube.resources import CLAIMS, SOURCES
from datalocality.provider.access import KubeAccess
from datalocality.provider.info import KUBERNETES_CONN_ID
from datalocality.triggers.base import (
    DEFAULT_POLL_INTERVAL,
    DEFAULT_TIMEOUT,
    Outcome,
)
from datalocality.triggers.kube import KubeTrigger, failure, read


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


SOURCE_PHASES = ("Available", "Lost")


def source_phase_outcome(obj: Obj | None, what: str, phase: str) -> Outcome:
    """Success once the DataSource's phase (unset: Available) is ``phase``; the Available
    condition's reason and message say why it is what it is."""
    if obj is None:
        return Outcome("pending", f"{what} does not exist yet")
    status = obj.get("status") or {}
    current = str(status.get("phase") or "Available")
    conditions = status.get("conditions") or []
    found: dict[str, Any] = next((c for c in conditions if c.get("type") == "Available"), {})
    why = f" ({found.get('reason', '')}: {found.get('message', '')})" if found else ""
    details = {"phase": current, "reason": str(found.get("reason", ""))}
    if current == phase:
        return Outcome("success", f"{what} is {current}{why}", details)
    return Outcome("pending", f"{what} is {current}{why}", details)


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


class DataSourcePhaseTrigger(KubeTrigger):
    """Fires when the DataSource ``data_source_name`` is in ``phase`` (Lost or Available)."""

    def __init__(
        self,
        *,
        data_source_name: str,
        phase: str = "Lost",
        kubernetes_conn_id: str | None = KUBERNETES_CONN_ID,
        config_file: str | None = None,
        cluster_context: str | None = None,
        in_cluster: bool | None = None,
        poll_interval: float = DEFAULT_POLL_INTERVAL,
        timeout: float = DEFAULT_TIMEOUT,
        end_time: float | None = None,
        max_failures: int = 3,
    ) -> None:
        if phase not in SOURCE_PHASES:
            raise SpecError("phase", phase, f"must be one of {list(SOURCE_PHASES)}")
        super().__init__(
            poll_interval=poll_interval,
            timeout=timeout,
            end_time=end_time,
            max_failures=max_failures,
        )
        self.data_source_name = data_source_name
        self.phase = phase
        self.access = KubeAccess(kubernetes_conn_id, config_file, cluster_context, in_cluster)

    def describe(self) -> str:
        """``DataSource name``."""
        return f"DataSource {self.data_source_name}"

    def trigger_kwargs(self) -> dict[str, Any]:
        """Source, phase and cluster access."""
        return {
            "data_source_name": self.data_source_name,
            "phase": self.phase,
            **self.access.kwargs(),
        }

    def identity(self) -> dict[str, Any]:
        """The source's name."""
        return {"data_source": self.data_source_name}

    async def check(self, session: KubeClient) -> Outcome:
        """Read the source once (cluster-scoped)."""
        try:
            obj = await read(session, SOURCES, self.data_source_name, None)
        except Exception as exc:
            return failure(self.describe(), exc)
        return source_phase_outcome(obj, self.describe(), self.phase)
